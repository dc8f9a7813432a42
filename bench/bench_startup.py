"""Benchmark: start-up of the commands a new user types first.

Times each command as a fresh subprocess, interleaved round by round so that a load spike on
a shared machine hits every command alike, and prints min and median of ``--runs`` rounds of
the wall time and of the CPU time (user + system, the command and the workers it waited for;
on a loaded machine it is the steadier figure):

* ``python -c 'import torch'``: the floor reference (what any torch-using command pays);
* ``splitbench --help``;
* ``splitbench list methods``, with the listing cache warm and with a fresh cache;
* ``splitbench run --method modifier_retrieval`` (the ``make run`` job, embedded synthetic
  benchmark): warm (cache filled by an earlier run, fresh output folder, so every unit is
  computed), warm with the results already there (a second ``make run``), and cold (fresh
  ``$SPLITBENCH_CACHE``: the synthetic stores and text embeddings are built again).

Then one ``python -X importtime`` run of the warm job: its top imports by cumulative time, and
self time summed per top-level package.

Usage:
    python bench/bench_startup.py [--runs 5] [--splitbench PATH] [--no-cold]

Targets (issue 19, 2-core CPU, quiet machine): warm run ≤ 2.5 s, cold run ≤ 10 s,
``list methods`` ≤ 0.8 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

RUN = ["run", "--method", "modifier_retrieval"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds (each command once each)")
    parser.add_argument(
        "--splitbench",
        type=Path,
        default=Path(sys.executable).with_name("splitbench"),
        help="the splitbench executable to time (default: next to this Python)",
    )
    parser.add_argument("--top", type=int, default=12, help="import-time rows to print")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold run (minutes)")
    parser.add_argument(
        "--warm-cache", type=Path, default=None, help="a cache folder to (fill and) reuse"
    )
    args = parser.parse_args()
    exe = str(args.splitbench)
    python = str(Path(exe).with_name("python"))
    tmp = Path(tempfile.mkdtemp(prefix="splitbench-bench-startup-"))
    try:
        warm_cache = args.warm_cache or tmp / "warm-cache"
        results_there = tmp / "results-there"
        results_there.mkdir()
        t, _ = _timed([exe, *RUN], warm_cache, results_there)  # fills the cache and results
        _timed([exe, "list", "methods"], warm_cache, None)  # fills the listing cache
        print(f"first run (fills the warm cache unless it was full): {t:.2f} s")
        commands = {
            "python -c 'import torch' (floor)": ([python, "-c", "import torch"], None, None),
            "splitbench --help": ([exe, "--help"], warm_cache, None),
            "list methods (listing cached)": ([exe, "list", "methods"], warm_cache, None),
            "list methods (fresh cache)": ([exe, "list", "methods"], "fresh", None),
            "run -m modifier_retrieval, warm": ([exe, *RUN], warm_cache, "fresh"),
            "run, warm, results already there": ([exe, *RUN], warm_cache, results_there),
            "run -m modifier_retrieval, cold": ([exe, *RUN], "fresh", "fresh"),
        }
        if args.no_cold:
            del commands["run -m modifier_retrieval, cold"]
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for r in range(args.runs):
            for name, (cmd, cache, cwd) in commands.items():
                round_dir = tmp / f"r{r}-{len(times[name])}-{abs(hash(name))}"
                c = round_dir / "cache" if cache == "fresh" else cache
                w = round_dir / "cwd" if cwd == "fresh" else cwd
                wall, used = _timed(cmd, c, w)
                times[name].append(wall)
                cpu[name].append(used)
                shutil.rmtree(round_dir, ignore_errors=True)
        load = os.getloadavg()
        print(
            f"\n{args.runs} rounds, commands interleaved; load average now "
            f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs"
        )
        floor = min(times["python -c 'import torch' (floor)"])
        print(f"{'':38} {'wall s':>16} {'CPU s':>16}")
        print(
            f"{'command':38} {'min':>7} {'median':>8} {'min':>7} {'median':>8} {'wall ÷ floor':>13}"
        )
        for name, ts in times.items():
            cs = cpu[name]
            print(
                f"{name:38} {min(ts):7.2f} {statistics.median(ts):8.2f} {min(cs):7.2f} "
                f"{statistics.median(cs):8.2f} {min(ts) / floor:13.2f}"
            )
        _import_breakdown(python, warm_cache, tmp / "importtime", args.top)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _timed(cmd: list[str], cache: Path | None, cwd: Path | None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, waited-for children included)."""
    env = dict(os.environ)
    if cache is not None:
        env["SPLITBENCH_CACHE"] = str(cache)
    if cwd is not None:
        cwd.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.strip()[-500:]}")
    return elapsed, usage.ru_utime + usage.ru_stime


def _import_breakdown(python: str, cache: Path, cwd: Path, top: int) -> None:
    """One ``-X importtime`` run of the warm job: top imports and per-package self time."""
    cwd.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SPLITBENCH_CACHE=str(cache))
    proc = subprocess.run(
        [python, "-X", "importtime", "-m", "splitbench", *RUN],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    rows = []  # (depth, module, self µs, cumulative µs)
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line[len("import time:") :].split("|")
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append((depth, name.strip(), int(self_us), int(cum_us)))
    total = sum(r[2] for r in rows) / 1e6
    print(f"\nimports of the warm run (python -X importtime, one run): {total:.2f} s in all")
    print("largest by cumulative time (a module's own imports included):")
    seen: set[str] = set()
    shown = 0
    for depth, name, _, cum in sorted(rows, key=lambda r: -r[3]):
        pkg = name.split(".")[0]
        if pkg in seen and pkg != "splitbench":
            continue  # torch's submodules under torch, once
        seen.add(pkg)
        print(f"  {cum / 1e6:6.2f} s  {'  ' * min(depth, 3)}{name}")
        shown += 1
        if shown == top:
            break
    per_pkg: dict[str, int] = defaultdict(int)
    for _, name, self_us, _ in rows:
        per_pkg[name.split(".")[0]] += self_us
    print("self time per top-level package:")
    for pkg, us in sorted(per_pkg.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {us / 1e6:6.2f} s  {pkg}")


if __name__ == "__main__":
    main()
