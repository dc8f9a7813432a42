"""Benchmark: size and speed of the Hub dataset folders (issue 6).

For each official benchmark: bytes of the official per-target CSVs against bytes of the
folder that ``splitbench hub push-benchmark --local-dir`` writes, the time to write it and to
load it back, and whether the loader reproduces every set. With ``--features``, also a
SIMULATED SSv2-Split store (real taxonomy and sizes, 24,777 val videos × 6 views × 384) as a
feature folder: its size, write time and the one-off conversion back into a store.

Usage:
    python bench/bench_hub.py [--annotations PATH] [--features]

Target: the SSv2-Split folder well under the official per-target CSVs (46 MB in the issue).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import add_annotations_option, require_annotations, scratch


def _size(folder: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_size for p in folder.rglob(pattern) if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_annotations_option(parser)
    parser.add_argument("--features", action="store_true", help="also time a feature folder")
    args = parser.parse_args()
    root = require_annotations(args.annotations)
    tmp = scratch("splitbench-bench-hub-").tmp

    import numpy as np

    from splitbench.benchmarks.official import FINEGYM_SPLIT, SSV2_SPLIT
    from splitbench.catalog import load_benchmark
    from splitbench.hub.benchmark import load_hub_benchmark, write_benchmark_folder

    for name, folder in ((s.name, s.folder) for s in (SSV2_SPLIT, FINEGYM_SPLIT)):
        official = load_benchmark(name, root)
        out = tmp / name
        t = time.perf_counter()
        write_benchmark_folder(official, out, f"splitbench/{name}")
        t_write = time.perf_counter() - t
        t = time.perf_counter()
        loaded = load_hub_benchmark(out)
        t_load = time.perf_counter() - t
        same = all(
            np.array_equal(getattr(a, s).rows, getattr(b, s).rows)
            and np.array_equal(getattr(a, s).labels, getattr(b, s).labels)
            for sub in official.subsets
            for a, b in zip(official.subset(sub).targets, loaded.subset(sub).targets, strict=True)
            for s in ("ft", "equivalent", "unrelated")
        )
        targets = sum(len(s.targets) for s in official.subsets.values())
        csv = _size(root / folder, "*_set.csv")
        print(
            f"{name}: official per-target CSVs {csv / 1e6:.1f} MB (all files "
            f"{_size(root / folder) / 1e6:.1f} MB); hub folder {_size(out) / 1e6:.2f} MB "
            f"(parquet {_size(out, '*.parquet') / 1e6:.2f} MB, card "
            f"{(out / 'README.md').stat().st_size / 1e3:.1f} kB); write {t_write:.2f} s, "
            f"load {t_load:.2f} s; {targets} targets reproduced exactly: {same}"
        )

    if args.features:
        from splitbench.benchmarks.synthetic import SyntheticConfig
        from splitbench.features.simulate import simulate_official_store
        from splitbench.hub.features import load_hub_features, write_features_folder

        bench = load_benchmark("ssv2-split", root, ["A"])
        t = time.perf_counter()
        store = simulate_official_store(
            bench, "A", tmp / "store" / "A", SyntheticConfig(seed=0, dim=384, train_views=1)
        )
        print(
            f"simulated SSv2-Split A store: {_size(store.path) / 1e6:.1f} MB in "
            f"{time.perf_counter() - t:.1f} s (SIMULATED features)"
        )
        t = time.perf_counter()
        written = write_features_folder({"A": store}, tmp / "features", "splitbench/sim")
        print(
            f"feature folder: {written.bytes / 1e6:.1f} MB, {len(written.files)} files, "
            f"write {time.perf_counter() - t:.1f} s"
        )
        t = time.perf_counter()
        load_hub_features(tmp / "features", ["A"])
        print(f"first load (content hash + conversion to a store): {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        load_hub_features(tmp / "features", ["A"])
        print(f"second load (content hash, cached store): {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
