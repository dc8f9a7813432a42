"""Wall time of the simulation: `make run`'s job cold and warm, and simulating SSv2-Split A.

    python bench/bench_simulation.py [--annotations PATH] [--repeats 3]

Each figure runs the CLI in a fresh process; "cold" uses an empty cache (synthetic
generation, text-encoder load and the run), "warm" reuses it. Prints min and median.
Targets: cold <= 12 s, warm ~ 4 s, one SSv2-Split subset <= 30 s (2-core machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import add_annotations_option


def timed(args: list[str], cache: Path) -> float:
    env = {**os.environ, "SPLITBENCH_CACHE": str(cache), "TQDM_DISABLE": "1"}
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "splitbench", *args], env=env, check=True, capture_output=True
    )
    return time.perf_counter() - t


def report(name: str, times: list[float], target: str) -> None:
    print(
        f"{name}: min {min(times):.1f} s, median {statistics.median(times):.1f} s "
        f"over {len(times)} runs (target {target})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_annotations_option(parser)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    run = ["run", "-m", "modifier_retrieval", "-q"]
    cold, warm, sim = [], [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            cache, out = Path(tmp) / "cache", Path(tmp) / "out"
            cold.append(timed([*run, "-o", str(out / "cold")], cache))
            warm.append(timed([*run, "-o", str(out / "warm")], cache))
            if args.annotations and Path(args.annotations).is_dir():
                sim.append(
                    timed(
                        [
                            "simulate",
                            "-b",
                            "ssv2-split",
                            "-s",
                            "A",
                            "-q",
                            "--annotations",
                            str(args.annotations),
                            "--output",
                            str(out / "sim"),
                        ],
                        cache,
                    )
                )
    report("make run job, cold cache", cold, "<= 12 s")
    report("make run job, warm cache", warm, "~ 4 s")
    if sim:
        report("simulate ssv2-split A (warm text cache)", sim, "<= 30 s")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} (2 cores)")


if __name__ == "__main__":
    main()
