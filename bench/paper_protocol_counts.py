"""Check: every unit's counts of the whole paper protocol, kept, and compared between runs.

Runs ``grid --preset paper-methods`` on the SIMULATED stores of all four official subsets
(the same stores as ``bench_paper_protocol.py``) into ``OUT`` and keeps the result files,
or compares two such folders unit by unit, so a speed change can be shown to leave every
number as it was::

    python bench/paper_protocol_counts.py run OUT [--jobs N]
    python bench/paper_protocol_counts.py compare BASELINE OTHER

A unit is (benchmark, subset, method, config hash, target, seed); ``compare`` prints how
many units it compared, how many are on one side only, every unit whose counts differ and
how many whole result records differ (all fields but the run's environment and timings:
method info such as retrieval scores and training summaries too), and exits 1 on any
difference.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from _common import add_annotations_option, require_annotations, scratch, simulated_store

BENCHMARKS = ("ssv2-split", "finegym-split")

Unit = tuple[str, str, str, str, str, int]


def run(out: Path, annotations: Path, jobs: int, benchmarks: tuple[str, ...] = BENCHMARKS) -> int:
    """Run the protocol into ``out`` with a fresh artefact cache."""
    space = scratch("splitbench-counts-", own_cache=False)
    import os

    os.environ["SPLITBENCH_CACHE"] = str(space.tmp / "cache")  # no cached MA maps
    from splitbench.catalog import load_benchmark
    from splitbench.grids import get_preset, plan_grid, run_grid

    t = time.perf_counter()
    for name in benchmarks:
        bench = load_benchmark(name, annotations)
        plan = plan_grid(get_preset("paper-methods"), benchmark=name)
        stores = {s: simulated_store(bench, s, space)[0] for s in plan.subsets}
        outcome = run_grid(plan, bench, stores, out, progress=False, jobs=jobs)
        for method, _, report in outcome.reports:
            failed = report.by_status("failed")
            if failed:
                print(f"{name} {method}: {len(failed)} failed, e.g. {failed[0].error}")
                return 1
    print(f"{len(load(out))} units in {out} ({time.perf_counter() - t:.1f} s, --jobs {jobs})")
    return 0


#: Result fields that legitimately differ between two runs of the same units.
RUN_FIELDS = ("environment", "timings")


def load(root: Path) -> dict[Unit, dict[str, Any]]:
    """Unit → its result record (without :data:`RUN_FIELDS`) of every finished unit."""
    out: dict[Unit, dict[str, Any]] = {}
    for p in root.rglob("seed*.json"):
        if p.name.endswith(".failed.json") or ".samples" in p.name:
            continue
        d = json.loads(p.read_text())
        if "counts" not in d:
            continue
        u = d["unit"]
        key = (u["benchmark"], u["subset"], u["method"], u["config_hash"], u["target_key"])
        out[(*key, int(u["seed"]))] = {k: v for k, v in d.items() if k not in RUN_FIELDS}
    return out


def compare(base: Path, other: Path) -> int:
    """Print the comparison; 1 when anything differs or is missing."""
    a, b = load(base), load(other)
    common = sorted(set(a) & set(b))
    diff = [k for k in common if a[k]["counts"] != b[k]["counts"]]
    records = [k for k in common if a[k] != b[k]]
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    print(
        f"baseline units {len(a)}, other units {len(b)}, compared {len(common)}, only in "
        f"baseline {len(only_a)}, only in other {len(only_b)}, differing {len(diff)}"
    )
    print(
        f"whole result records (all but {', '.join(RUN_FIELDS)}): {len(records)} differ "
        f"(method info, e.g. recorded training summaries, included)"
    )
    for k in diff[:20]:
        print("DIFF", k, a[k]["counts"], b[k]["counts"])
    for k in [k for k in records if k not in diff][:5]:
        fields = sorted(f for f in a[k] if a[k][f] != b[k].get(f))
        print("RECORD-DIFF", k, "fields:", ", ".join(fields))
    for k in only_a[:5]:
        print("ONLY-BASELINE", k)
    for k in only_b[:5]:
        print("ONLY-OTHER", k)
    return 1 if diff or records or only_a or only_b or not common else 0


def main() -> int:
    """Parse arguments and run the command."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("out", type=Path)
    r.add_argument("--jobs", type=int, default=1)
    r.add_argument("--benchmark", action="append", choices=BENCHMARKS, help="default: both")
    add_annotations_option(r)
    c = sub.add_parser("compare")
    c.add_argument("base", type=Path)
    c.add_argument("other", type=Path)
    args = ap.parse_args()
    if args.command == "compare":
        return compare(args.base, args.other)
    names = tuple(args.benchmark or BENCHMARKS)
    return run(args.out, require_annotations(args.annotations), args.jobs, names)


if __name__ == "__main__":
    sys.exit(main())
