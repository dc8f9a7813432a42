"""Benchmark: the per-subset overheads before any unit runs, on a simulated SSv2-Split subset.

Prints min / median over ``--runs`` of:

* ``verify`` of the store the first time in a process (every file hashed and scanned for
  non-finite values) and again (a new ``FeatureStore`` of the unchanged files, as each
  method's plan does): the second is what a grid pays per method and subset;
* the non-finite scan of the val split: ``np.isfinite(...).all()`` (before) against the
  exponent-bit check now used (``splitbench.features.verify.all_finite``);
* the float32 val features: NumPy's ``astype`` from the memory map (before) against torch's
  conversion (``splitbench.protocol.context.load_val_features``), checked bit-identical.

    python bench/bench_store_checks.py [--annotations PATH] [--subset A] [--store DIR] [--runs 5]

SIMULATED features (official ids and set sizes): timings only.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from _common import open_simulated_subset, subset_parser


def _times(call: Callable[[], object], runs: int, setup: Callable[[], object] | None = None) -> str:
    out = []
    for _ in range(runs):
        if setup is not None:
            setup()
        t = time.perf_counter()
        call()
        out.append(time.perf_counter() - t)
    return f"min {min(out) * 1e3:7.1f} ms, median {statistics.median(out) * 1e3:7.1f} ms"


def main() -> None:
    """Print the figures."""
    parser = subset_parser(__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sim = open_simulated_subset(args, "splitbench-bench-checks-")

    import numpy as np
    import torch

    from splitbench.features.store import FeatureStore
    from splitbench.features.verify import all_finite, forget_verified
    from splitbench.protocol.context import load_val_features

    path, runs = sim.store.path, args.runs
    first = _times(lambda: FeatureStore(path).verify(), runs, forget_verified)
    print(f"verify, first in the process:  {first}")
    FeatureStore(path).verify()
    print(f"verify, again (files checked): {_times(lambda: FeatureStore(path).verify(), runs)}")
    feats = sim.store.split("val").features
    assert isinstance(feats, np.ndarray)
    print(f"non-finite scan, np.isfinite:  {_times(lambda: np.isfinite(feats).all(), runs)}")
    print(f"non-finite scan, exponent bits: {_times(lambda: all_finite(feats), runs)}")
    print(f"val float32, numpy astype:     {_times(lambda: np.asarray(feats, np.float32), runs)}")
    widen = _times(lambda: load_val_features(sim.subset, sim.store), runs)
    print(f"val float32, torch (now):      {widen}")
    same = np.array_equal(
        load_val_features(sim.subset, sim.store).numpy().view(np.uint32),
        np.asarray(feats, np.float32).view(np.uint32),
    )
    print(f"float32 val features bit-identical: {same} (torch threads {torch.get_num_threads()})")


if __name__ == "__main__":
    main()
