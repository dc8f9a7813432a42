"""Benchmark: scoring speed and memory on simulated SSv2-Split-size features.

Prints time per scored unit, time for all targets × 3 seeds of modifier retrieval, peak
memory, what integrity checks cost (store digests and finite checks once per process, the
per-call plugin containment — private head and val-feature check — per unit with and
without it, the per-result self-check on load), the ``make run`` job with every check on
and off, and the backbone-pass count (with what a per-job pipeline like the official code's
would need). The features are SIMULATED with the official SSv2-Split taxonomy and set sizes
(24,777 val videos × 6 views × 384); no video is decoded.

Usage:
    python bench/bench_protocol.py [--annotations PATH] [--subset A] [--store DIR]
        [--repeats 3]

Targets (issue 2, 2-core CPU): one unit ≤ 50 ms; 27 targets × 3 seeds of MR ≤ 10 s;
peak memory ≤ 2 GB; (issue 11) ``make run`` warm ≤ 5 s with every check on.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from typing import Any

from _common import add_annotations_option, require_annotations, scratch, simulated_store


def shortcut_costs(scorer: Any, method: Any, ctx: object, subset: Any, seed: int) -> None:
    """Print how many videos the shortcut leaves to the full sum, and both paths' times."""
    import torch

    from splitbench.protocol import SplitTask

    undecided, videos, full, short = 0, 0, [], []
    for target in subset.targets:
        rows = method.edit(SplitTask(target, subset), ctx, seed)
        new = scorer.new_logits(rows.weight, rows.bias)
        t = time.perf_counter()
        want = scorer.probabilities(target.coarse_index, new).argmax(1)
        full.append(time.perf_counter() - t)
        t = time.perf_counter()
        got = scorer.predictions(target.coarse_index, new)
        short.append(time.perf_counter() - t)
        if not torch.equal(got, want):
            raise SystemExit(f"shortcut predictions differ from the full argmax on {target.name}")
        undecided += len(scorer.shortcut(target.coarse_index, new)[1])
        videos += len(got)
    print(
        f"predictions of {len(full)} MR units: full view sum + argmax median "
        f"{1000 * statistics.median(full):.2f} ms, shortcut median "
        f"{1000 * statistics.median(short):.2f} ms (identical predictions; "
        f"{undecided / videos:.1%} of videos left to the full sum)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_annotations_option(parser)
    parser.add_argument("--subset", default="A")
    parser.add_argument("--store", default=None, help="reuse a simulated store folder")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (min/median)")
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
    make_run_costs(args.repeats)
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

    shortcut_costs(scorer, method, ctx, subset, seeds[0])
    contained_unit_costs(ctx, scorer, method, subset, seeds[0], args.repeats)
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
    from splitbench.features import store as store_mod
    from splitbench.features import verify
    from splitbench.features.store import FeatureStore

    path = store.path  # type: ignore[attr-defined]

    def read() -> float:
        verify._verified.clear()
        t = time.perf_counter()
        fs = FeatureStore(path)
        fs.head()
        fs.split("val")
        return time.perf_counter() - t

    checked = store_mod.verify_file, store_mod.sha256_hex, store_mod._check_finite
    before, after = [], []
    for _ in range(repeats):
        store_mod.verify_file = lambda *a, **k: None  # type: ignore[assignment]
        store_mod._check_finite = lambda *a, **k: None  # type: ignore[assignment]
        before.append(read())
        store_mod.verify_file, store_mod.sha256_hex, store_mod._check_finite = checked
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


def _min_median(xs: list[float], scale: float = 1e3, unit: str = "ms") -> str:
    return f"min {scale * min(xs):.2f} / median {scale * statistics.median(xs):.2f} {unit}"


def contained_unit_costs(
    ctx: object, scorer: object, method: object, subset: object, seed: int, repeats: int
) -> None:
    """One unit (edit + score) bare and under containment, and the containment call alone.

    Containment = a private copy of the base head before each call, and the check of the
    shared val features after it (version counter + sampled fingerprint,
    :mod:`splitbench.protocol.guard`), on this subset's full val features.
    """
    from splitbench.protocol import SplitTask
    from splitbench.protocol.context import load_val_features
    from splitbench.protocol.guard import ContextGuard, SharedFeatures, contained
    from splitbench.protocol.unit import seed_everything

    feats = ctx.val_features()  # type: ignore[attr-defined]
    guard = ContextGuard(
        ctx,
        ctx.weight,  # type: ignore[attr-defined]
        ctx.bias,  # type: ignore[attr-defined]
        SharedFeatures(feats, lambda: load_val_features(subset, ctx.store)),  # type: ignore[arg-type, attr-defined]
    )
    targets = subset.targets  # type: ignore[attr-defined]

    def unit(target: object, wrap: bool) -> float:
        seed_everything(seed)
        t0 = time.perf_counter()
        call = lambda: method.edit(SplitTask(target, subset), ctx, seed)  # type: ignore[arg-type, attr-defined]  # noqa: E731
        rows = contained(call, what="bench.edit", head=guard) if wrap else call()
        scorer.predictions(target.coarse_index, scorer.new_logits(rows.weight, rows.bias))  # type: ignore[attr-defined]
        return time.perf_counter() - t0

    bare, wrapped = [], []
    for _ in range(repeats):  # interleaved, so load changes hit both alike
        for target in targets:
            bare.append(unit(target, False))
            wrapped.append(unit(target, True))
    n = 200
    calls = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            contained(lambda: None, what="bench", head=guard)
        calls.append((time.perf_counter() - t) / n)
    print(
        f"one unit (MR edit + score), {len(bare)} units each: bare median "
        f"{1e3 * statistics.median(bare):.1f} ms, contained median "
        f"{1e3 * statistics.median(wrapped):.1f} ms; containment per method call alone "
        f"({tuple(ctx.weight.shape)} head copy + check of {tuple(feats.shape)} val "  # type: ignore[attr-defined]
        f"features), {repeats} × {n} calls: {_min_median(calls, 1e6, 'µs')}"
    )


def make_run_costs(repeats: int) -> None:
    """The ``make run`` job (``splitbench run --method modifier_retrieval``, synthetic
    benchmark), warm, every unit recomputed: in-process with every integrity check on and
    switched off, and as the command itself.

    "Checks off" replaces the store digest and finite checks, the per-call containment and
    the result self-check / duplicate check with no-ops; the process-wide digest cache is
    cleared before each timed run, so "on" pays what a fresh process pays.
    """
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from splitbench.catalog import load_benchmark
    from splitbench.evaluation import evaluate
    from splitbench.features import store as store_mod
    from splitbench.features import verify
    from splitbench.protocol import load_methods
    from splitbench.protocol import runner as runner_mod
    from splitbench.results import validate

    bench = load_benchmark("synthetic")
    mr = load_methods().get("modifier_retrieval")
    saved = (
        store_mod.verify_file,
        store_mod._check_finite,
        runner_mod.contained,
        validate.check_result,
        validate.check_unique,
    )

    def off() -> None:
        store_mod.verify_file = lambda *a, **k: None  # type: ignore[assignment]
        store_mod._check_finite = lambda *a, **k: None  # type: ignore[assignment]
        runner_mod.contained = lambda call, **k: call()  # type: ignore[assignment]
        validate.check_result = lambda *a, **k: None  # type: ignore[assignment]
        validate.check_unique = lambda *a, **k: None  # type: ignore[assignment]

    def on() -> None:
        (
            store_mod.verify_file,
            store_mod._check_finite,
            runner_mod.contained,
            validate.check_result,
            validate.check_unique,
        ) = saved

    def one(out: Path) -> float:
        verify._verified.clear()
        t = time.perf_counter()
        evaluate([mr()], bench, output_dir=out, overwrite="always", progress=False)
        return time.perf_counter() - t

    with tempfile.TemporaryDirectory(prefix="splitbench-bench-run-") as tmp:
        one(Path(tmp) / "warm-up")  # synthetic stores, text embeddings: cached from here on
        checked, unchecked = [], []
        for i in range(repeats):
            off()
            unchecked.append(one(Path(tmp) / f"off{i}"))
            on()
            checked.append(one(Path(tmp) / f"on{i}"))
        units = len(list((Path(tmp) / "on0").rglob("seed*.json")))
        print(
            f"make-run job in-process ({units} units, every unit recomputed), {repeats} runs: "
            f"checks off {_min_median(unchecked, 1, 's')}, checks on "
            f"{_min_median(checked, 1, 's')}"
        )
        cmd = [sys.executable, "-m", "splitbench", "run", "--method", "modifier_retrieval", "-q"]
        walls = {"recompute": [], "resume": []}
        for _ in range(repeats):
            for kind, extra in (("recompute", ["--overwrite-strategy", "always"]), ("resume", [])):
                t = time.perf_counter()
                done = subprocess.run(
                    [*cmd, "-o", str(Path(tmp) / "cli"), *extra], capture_output=True, text=True
                )
                walls[kind].append(time.perf_counter() - t)
                if done.returncode:
                    raise SystemExit(f"make-run command failed: {done.stderr.strip()}")
        print(
            f"make-run command (python -m splitbench run --method modifier_retrieval), warm "
            f"caches, {repeats} runs: every unit recomputed "
            f"{_min_median(walls['recompute'], 1, 's')}; all units already done "
            f"{_min_median(walls['resume'], 1, 's')}"
        )


if __name__ == "__main__":
    main()
