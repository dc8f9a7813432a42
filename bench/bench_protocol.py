"""Benchmark: scoring speed and memory on simulated SSv2-Split-size features.

Prints time per scored unit, time for all targets × 3 seeds of modifier retrieval, peak
memory, what integrity checks cost (store digests and finite checks once per process, the
per-call plugin containment, the per-result self-check on load), and the backbone-pass
count (with what a per-job pipeline like the official code's would need). The features
are SIMULATED with the official SSv2-Split taxonomy and set sizes (24,777 val videos × 6
views × 384); no video is decoded.

Usage:
    python bench/bench_protocol.py [--annotations PATH] [--subset A] [--store DIR]

Targets (issue 2, 2-core CPU): one unit ≤ 50 ms; 27 targets × 3 seeds of MR ≤ 10 s;
peak memory ≤ 2 GB.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

from _common import add_annotations_option, require_annotations, scratch, simulated_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_annotations_option(parser)
    parser.add_argument("--subset", default="A")
    parser.add_argument("--store", default=None, help="reuse a simulated store folder")
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    annotations = require_annotations(args.annotations)
    space = scratch("splitbench-bench-")
    tmp = space.tmp

    import torch

    from splitbench.catalog import load_benchmark
    from splitbench.evaluation import evaluate
    from splitbench.protocol import SplitTask, SubsetContext, load_methods
    from splitbench.protocol.scoring import SubsetScorer, count
    from splitbench.protocol.unit import seed_everything

    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cpus {os.cpu_count()}")
    t = time.perf_counter()
    bench = load_benchmark("ssv2-split", annotations, subsets=[args.subset])
    print(f"read + validate annotations (subset {args.subset}): {time.perf_counter() - t:.2f} s")
    subset = bench.subset(args.subset)
    store, build_s = simulated_store(bench, args.subset, space, store=args.store or None)
    if build_s is not None:
        print(f"simulate the store (once, not part of the protocol): {build_s:.1f} s")
    val = store.meta.splits["val"]
    print(
        f"store: {val.count} val videos × {val.views} views × {store.meta.dim} dims "
        f"({store.meta.dtype}), simulated={store.meta.simulation}"
    )

    verification_costs(store)
    registry = load_methods()
    mr_cls = registry.get("modifier_retrieval")

    t = time.perf_counter()
    w, b = store.head()
    ctx = SubsetContext(bench, subset, store, torch.from_numpy(w), torch.from_numpy(b))
    scorer = SubsetScorer(ctx.val_features(), ctx.weight, ctx.bias)
    setup = time.perf_counter() - t
    print(f"subset setup (load features, base logits once): {setup:.2f} s")

    method = mr_cls()
    t = time.perf_counter()
    method.prepare(ctx, 0)
    print(f"MR prepare incl. text-encoder load, cold cache: {time.perf_counter() - t:.2f} s")

    per_unit: list[float] = []
    first_per_target: list[float] = []
    for seed in seeds:
        for target in subset.targets:
            seed_everything(seed)
            t0 = time.perf_counter()
            rows = method.edit(SplitTask(target, subset), ctx, seed)
            preds = scorer.predictions(
                target.coarse_index, scorer.new_logits(rows.weight, rows.bias)
            )
            orig = scorer.original_predictions(target.coarse_index)
            count(
                preds,
                orig,
                target.equivalent.rows,
                target.equivalent.labels,
                target.unrelated.rows,
                target.unrelated.labels,
            )
            dt = time.perf_counter() - t0
            (first_per_target if seed == seeds[0] else per_unit).append(dt)
    everything = first_per_target + per_unit
    print(
        f"one unit (edit + score), {len(everything)} units: median "
        f"{1000 * statistics.median(everything):.1f} ms, p90 "
        f"{1000 * sorted(everything)[int(0.9 * len(everything))]:.1f} ms "
        f"(first unit of a target, which also computes the masked original model: median "
        f"{1000 * statistics.median(first_per_target):.1f} ms; later units: median "
        f"{1000 * statistics.median(per_unit) if per_unit else float('nan'):.1f} ms)"
    )

    del ctx, scorer, method
    import gc

    gc.collect()

    class RepeatedMR(mr_cls):  # type: ignore[misc, valid-type]
        """MR is deterministic (the runner runs it once); repeat it per seed to time 27 × 3."""

        deterministic = False

    t = time.perf_counter()
    ev = evaluate(
        [RepeatedMR()], bench, stores={args.subset: store}, seeds=seeds, output_dir=tmp / "results"
    )
    wall = time.perf_counter() - t
    n = len(ev.produced)
    print(
        "full pipeline (splitbench.evaluate: run, read back, aggregate), "
        f"MR × {len(subset.targets)} targets × {len(seeds)} seeds = {n} units "
        f"(results written, text embeddings cached): {wall:.2f} s"
    )

    results = sorted((tmp / "results").rglob("seed*.json"))
    from splitbench.results.io import read_result
    from splitbench.results.schema import UnitResult
    from splitbench.results.validate import check_result

    loaded = [read_result(p) for p in results]
    t = time.perf_counter()
    for p in results:
        UnitResult.model_validate_json(p.read_text())
    plain = (time.perf_counter() - t) / len(results)
    t = time.perf_counter()
    for p, r in zip(results, loaded, strict=True):
        check_result(r, p)
    check = (time.perf_counter() - t) / len(results)
    print(
        f"result load per file: schema validation {1e3 * plain:.3f} ms, + self-check "
        f"(metrics from counts) {1e3 * check:.3f} ms"
    )

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS of this process): {rss:.0f} MB")
    views = val.count * val.views
    jobs = len(subset.targets) * len(seeds)
    print(
        f"backbone passes behind this store: {store.meta.backbone_passes} (simulated); "
        f"extracting it from videos costs {views:,} view passes once, where re-running the "
        f"backbone per (target, seed) job over the val set would cost {jobs} × {views:,} = "
        f"{jobs * views:,}"
    )


def verification_costs(store: object, repeats: int = 5) -> None:
    """Open the store's head and val split with and without the integrity checks.

    "before" = the reads alone (digest and finite checks switched off); "after" = the same
    reads with them, the process-wide digest cache cleared each time (a fresh process).
    """
    import torch

    from splitbench.features import store as store_mod
    from splitbench.features import verify
    from splitbench.features.store import FeatureStore
    from splitbench.protocol.guard import PrivateHead, contained

    path = store.path  # type: ignore[attr-defined]

    def read() -> float:
        verify._verified.clear()
        t = time.perf_counter()
        fs = FeatureStore(path)
        fs.head()
        fs.split("val")
        return time.perf_counter() - t

    checked = store_mod.verify_file, store_mod.sha256_bytes, store_mod._check_finite
    before, after = [], []
    for _ in range(repeats):
        store_mod.verify_file = lambda *a, **k: None  # type: ignore[assignment]
        store_mod._check_finite = lambda *a, **k: None  # type: ignore[assignment]
        before.append(read())
        store_mod.verify_file, store_mod.sha256_bytes, store_mod._check_finite = checked
        after.append(read())
    print(
        f"open head + val split, {repeats} runs: unchecked min {1e3 * min(before):.0f} / median "
        f"{1e3 * statistics.median(before):.0f} ms; with digests + finite checks min "
        f"{1e3 * min(after):.0f} / median {1e3 * statistics.median(after):.0f} ms (once per "
        f"process; later opens in the same process skip the hashing)"
    )
    t = time.perf_counter()
    FeatureStore(path).verify()
    print(f"whole-store verify (val and train, digests cached): {time.perf_counter() - t:.2f} s")

    class Ctx:
        weight = torch.zeros(0)
        bias = torch.zeros(0)

    w, b = FeatureStore(path).head()
    head = PrivateHead(Ctx(), torch.from_numpy(w), torch.from_numpy(b))
    n = 1000
    t = time.perf_counter()
    for _ in range(n):
        contained(lambda: None, what="bench", head=head)
    print(
        f"plugin containment per method call (private {w.shape[0]}×{w.shape[1]} head copy): "
        f"{1e6 * (time.perf_counter() - t) / n:.0f} µs"
    )


if __name__ == "__main__":
    main()
