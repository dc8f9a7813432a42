"""Official annotation reader: the pure-Python reader it replaced vs the vectorised one.

For SSv2-Split and FineGym-Split (both subsets, and subset A alone) it times, in one process
and interleaved run by run (so each run's ratios compare like with like on a noisy machine):

- ``old``: the reader as it was before the change (``splitbench/benchmarks/official.py`` at
  commit ``--old-rev``, loaded from git), which parses every file in pure Python;
- ``cold``: the vectorised reader with an empty parsed-benchmark cache (parse + validate +
  write the cache);
- ``warm``: the vectorised reader again with that cache filled (hash the files, load).

Prints min and median over ``--runs`` of each, and the per-run ratios old/cold and old/warm.
Imports (pyarrow, pandas) are loaded once before timing; ``splitbench --help`` does not pay
for them (the reader imports them inside its functions).

Usage: python bench/bench_reader.py [--annotations DIR] [--runs 5] [--old-rev REV]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType

from _common import add_annotations_option, require_annotations

from splitbench.benchmarks import official

#: The last commit with the pure-Python reader.
OLD_REV = "094be3c"
REPO = Path(__file__).resolve().parents[1]


def old_reader(rev: str) -> ModuleType:
    """``splitbench/benchmarks/official.py`` at ``rev``, imported as a module of its own."""
    src = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{rev}:splitbench/benchmarks/official.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp(prefix="old-reader-")) / "old_official.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("old_official", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_official"] = module
    spec.loader.exec_module(module)
    return module


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_annotations_option(parser)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--old-rev", default=OLD_REV)
    args = parser.parse_args()
    root = require_annotations(args.annotations)
    old = old_reader(args.old_rev)
    import pandas  # noqa: F401  (imported once, outside the timings)
    import pyarrow.compute
    import pyarrow.csv  # noqa: F401

    print(f"runs: {args.runs}; old reader from commit {args.old_rev}; cpus {os.cpu_count()}")
    print(
        f"{'benchmark':<14} {'subsets':<7} {'what':<5} {'min s':>7} {'median s':>9}  per-run ratio"
    )
    for spec in (official.SSV2_SPLIT, official.FINEGYM_SPLIT):
        old_spec = getattr(old, "SSV2_SPLIT" if spec is official.SSV2_SPLIT else "FINEGYM_SPLIT")
        for subsets in (None, ["A"]):
            times: dict[str, list[float]] = {"old": [], "cold": [], "warm": []}
            old.read_official(old_spec, root, subsets=subsets)  # page cache warm for everyone
            run_old = partial(old.read_official, old_spec, root, subsets=subsets)
            run_new = partial(official.read_official, spec, root, subsets=subsets)
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory(prefix="reader-cache-") as cache:
                    os.environ["SPLITBENCH_CACHE"] = cache
                    times["old"].append(timed(run_old))
                    times["cold"].append(timed(run_new))  # empty cache: parse, check, store
                    times["warm"].append(timed(run_new))  # the cache of the line above
            label = "A" if subsets else "A+B"
            for what, ts in times.items():
                ratio = ""
                if what != "old":
                    rs = [o / t for o, t in zip(times["old"], ts, strict=True)]
                    ratio = f"old/{what} min {min(rs):.1f}x median {statistics.median(rs):.1f}x"
                print(
                    f"{spec.name:<14} {label:<7} {what:<5} {min(ts):>7.3f} "
                    f"{statistics.median(ts):>9.3f}  {ratio}"
                )


if __name__ == "__main__":
    main()
