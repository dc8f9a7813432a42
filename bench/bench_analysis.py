"""Benchmark: cost of per-video logs and of the analysis commands at SSv2-Split size.

On SIMULATED features with the official SSv2-Split taxonomy and set sizes (24,777 val videos
× 6 views × 384 for subset A), prints: time per unit with and without ``--log-samples``, log
size per unit, ``rescore`` time, bootstrap intervals over videos (1,000 resamples), the
per-subcategory breakdown and a paired comparison.

Usage:
    python bench/bench_analysis.py [--annotations PATH] [--subset A] [--store DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

from _common import add_annotations_option, require_annotations, scratch, simulated_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_annotations_option(parser)
    parser.add_argument("--subset", default="A")
    parser.add_argument("--store", default=None, help="reuse a simulated store folder")
    args = parser.parse_args()
    annotations = require_annotations(args.annotations)
    space = scratch("splitbench-bench-analysis-")
    tmp = space.tmp

    import torch

    from splitbench.catalog import load_benchmark
    from splitbench.evaluation import evaluate
    from splitbench.protocol import load_methods
    from splitbench.results import load
    from splitbench.results.bootstrap import video_ci
    from splitbench.results.breakdown import per_subcategory
    from splitbench.results.compare import compare, select
    from splitbench.results.rescore import rescore

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cpus {os.cpu_count()}")
    bench = load_benchmark("ssv2-split", annotations, subsets=[args.subset])
    subset = bench.subset(args.subset)
    store, build_s = simulated_store(bench, args.subset, space, store=args.store or None)
    if build_s is not None:
        print(f"simulate the store (once): {build_s:.1f} s")
    val = store.meta.splits["val"]
    print(f"store: {val.count} val videos × {val.views} views × {store.meta.dim} (simulated)")

    registry = load_methods()
    stores = {args.subset: store}
    timings = {}
    for name in ("coarse_copy", "modifier_retrieval"):
        method = registry.get(name)()
        for log in (False, True):
            out = tmp / ("logged" if log else "plain")
            t = time.perf_counter()
            ev = evaluate(
                [method], bench, stores=stores, seeds=[0], output_dir=out, log_samples=log
            )
            timings[(name, log)] = (time.perf_counter() - t) / len(ev.produced)
    for name in ("coarse_copy", "modifier_retrieval"):
        print(
            f"{name}: {1000 * timings[(name, False)]:.0f} ms per unit, "
            f"{1000 * timings[(name, True)]:.0f} ms with --log-samples "
            f"({len(subset.targets)} targets, runner incl. writing results)"
        )
    logs = sorted((tmp / "logged").rglob("*.samples.parquet"))
    sizes = [p.stat().st_size for p in logs]
    print(
        f"per-video logs: {len(logs)} files, {sum(sizes) / len(sizes) / 1e6:.2f} MB per unit "
        f"(top-5, {val.count} rows)"
    )

    t = time.perf_counter()
    report = rescore(tmp / "logged")
    print(
        f"rescore {len(report.checked)} units from their logs: {time.perf_counter() - t:.2f} s, "
        f"{len(report.mismatches)} differences"
    )
    units = load(tmp / "logged")
    t = time.perf_counter()
    ci = video_ci(units, replicates=1000)
    print(
        f"bootstrap over videos, 1,000 resamples, {len(ci)} cells × {len(subset.targets)} "
        f"targets: {time.perf_counter() - t:.2f} s"
    )
    t = time.perf_counter()
    ps = per_subcategory(units)
    print(f"per-subcategory breakdown ({len(ps)} rows): {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    a = select(units, tmp / "logged", "A", "coarse_copy")
    b = select(units, tmp / "logged", "B", "modifier_retrieval")
    cmp = compare(a, b)
    row = cmp.summary.set_index("metric").loc["generality"]
    print(
        f"compare (10,000 resamples of targets): {time.perf_counter() - t:.2f} s; "
        f"MR − coarse_copy generality {100 * row.mean_delta:+.1f} "
        f"[{100 * row.ci_lo:+.1f}, {100 * row.ci_hi:+.1f}] (SIMULATED features)"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS of this process): {rss:.0f} MB")


if __name__ == "__main__":
    main()
