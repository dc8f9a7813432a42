"""Benchmark the paper's methods on SIMULATED SSv2-Split-A-size features (2 CPU cores).

    SPLITBENCH_ANNOTATIONS=/path/to/Datasets python bench/bench_methods.py [--subset A]

Targets (issue 3):

* full modifier-alignment protocol, 27 targets × 3 seeds: ≤ 15 s;
* 1-shot low-shot finetuning with the three initialisations, 27 × 3 × 3 units: ≤ 60 s.

The simulated store has the official taxonomy, video ids and set sizes (24,777 val videos ×
6 views × 384 dims; ft videos × 2 views) but simulated features, so its accuracy figures are
a simulation, printed only as a sanity check. It needs the official annotation files
(``--annotations`` or ``$SPLITBENCH_ANNOTATIONS``) and is built once into the cache
(``$SPLITBENCH_CACHE/bench-stores``); the build time is reported separately. Text
embeddings are computed once before timing (cold encoder time reported separately), as in
any run after the first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from _common import Scratch, add_annotations_option, has_annotations, scratch, simulated_store

if TYPE_CHECKING:
    from splitbench.benchmarks.model import Benchmark
    from splitbench.features.store import FeatureStore
    from splitbench.results.schema import UnitResult

SEEDS = [0, 1, 2]
FT_METHODS = ("lowshot_finetune_random", "lowshot_finetune_coarse", "lowshot_finetune")


def run(
    method: str,
    bench: Benchmark,
    subset: str,
    store: FeatureStore,
    space: Scratch,
    overrides: dict[str, str] | None = None,
) -> tuple[float, float, list[UnitResult]]:
    """Run one method over all targets × seeds into a fresh folder.

    Returns:
        ``(wall seconds, CPU seconds, unit results)``.
    """
    from splitbench.evaluation import MethodSpec, evaluate

    c = time.process_time()
    ev = evaluate(
        [MethodSpec(method, overrides or {})],
        bench,
        stores={subset: store},
        subsets=[subset],
        seeds=SEEDS,
        output_dir=Path(tempfile.mkdtemp(dir=space.tmp, prefix="bench-methods-")),
    )
    cpu = time.process_time() - c
    report = ev.runs[0].report
    assert report is not None
    if ev.failures:
        raise SystemExit(
            f"{method}: {len(ev.failures)} units failed, e.g. {ev.failure_lines(1)[0]}"
        )
    # the runner's own wall time: the facade's read-back of the results is not the method's
    return report.wall_s, cpu, [o.result for _, o in ev.produced if o.result is not None]


def breakdown(results: list[UnitResult]) -> str:
    """Sum of prepare (once per seed), edit and score seconds over units."""
    prep = {r.unit.seed: r.timings.prepare_s for r in results}
    edit = sum(r.timings.edit_s for r in results)
    score = sum(r.timings.score_s for r in results)
    return f"prepare {sum(prep.values()):.2f} s, edit {edit:.2f} s, score {score:.2f} s"


def main() -> int:
    """Print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    add_annotations_option(ap, fallback=None)
    ap.add_argument("--benchmark", default="ssv2-split")
    ap.add_argument("--subset", default="A")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's choice). On a shared 2-core machine "
        "1 thread avoids OpenMP stalls when the other core is busy.",
    )
    args = ap.parse_args()
    space = scratch("splitbench-bench-methods-", own_cache=False)

    import torch

    from splitbench.benchmarks.synthetic import SyntheticConfig
    from splitbench.catalog import load_benchmark
    from splitbench.results.aggregate import aggregate

    if args.threads:
        torch.set_num_threads(args.threads)
    if not has_annotations(args.annotations):
        print(
            "bench_methods: SKIPPED — the official annotation files are needed to simulate an "
            "SSv2-Split-A-size store. Pass --annotations /path/to/Category-Splitting/Datasets "
            "or set SPLITBENCH_ANNOTATIONS.",
            file=sys.stderr,
        )
        return 2
    print(f"torch threads: {torch.get_num_threads()}, cpus: {os.cpu_count()}")
    bench = load_benchmark(args.benchmark, args.annotations)
    cfg = SyntheticConfig(dim=384, train_views=2)
    store, build_s = simulated_store(bench, args.subset, space, cfg)
    m = store.meta
    print(
        f"simulated store {args.benchmark}/{args.subset}: {m.splits['val'].count} val × "
        f"{m.splits['val'].views} views, {m.splits['train'].count} train × "
        f"{m.splits['train'].views} views, dim {m.dim} "
        + (f"(built in {build_s:.1f} s)" if build_s else "(cached)")
    )
    # Text embeddings: encode every text once so the timings below are warm.
    sub = bench.subset(args.subset)
    texts = [t.name for t in sub.targets] + [sub.labels[i] for i in sub.singletons]
    for t in sub.targets:
        texts += list(t.modifiers)
    for g in sub.fine_groups:
        texts += [g.name, *g.members, *g.modifiers]
    from splitbench.models.text import get_text_encoder

    t0 = time.perf_counter()
    get_text_encoder("minilm").encode(texts)
    print(
        f"text embeddings (minilm, {len(set(texts))} texts, cached after first run): "
        f"{time.perf_counter() - t0:.1f} s"
    )

    n_targets = len(sub.targets)
    # The harness floor: a method that does nothing (coarse_copy, deterministic: 1 seed).
    wall, cpu, res = run("coarse_copy", bench, args.subset, store, space)
    per_unit = sum(r.timings.score_s for r in res) / len(res)
    print(
        f"\nharness floor (coarse_copy, {len(res)} units): {wall:.1f} s wall, {cpu:.1f} s CPU; "
        f"scoring {per_unit:.3f} s per unit, i.e. {per_unit * n_targets * len(SEEDS):.1f} s "
        f"for {n_targets} × {len(SEEDS)} units before any method work"
    )
    wall, cpu, res = run("modifier_alignment", bench, args.subset, store, space)
    print(
        f"\nmodifier_alignment: {len(res)} units ({n_targets} targets × {len(SEEDS)} seeds) in "
        f"{wall:.1f} s wall, {cpu:.1f} s CPU  [target ≤ 15 s]\n  ({breakdown(res)}; the rest "
        f"is loading features, base logits and writing results)"
    )
    epochs = [
        r.method_info["alignment"]["epochs"]
        for r in res
        if r.unit.target_index == res[0].unit.target_index
    ]
    print(f"  MA training epochs per seed: {epochs}")
    cells = {}
    cells["modifier_alignment"] = aggregate(res)[0]
    total = total_cpu = 0.0
    for method in FT_METHODS:
        wall, cpu, res = run(method, bench, args.subset, store, space)
        total += wall
        total_cpu += cpu
        ep = [r.method_info["training"].get("epochs", 0) for r in res]
        print(
            f"{method}: {len(res)} units in {wall:.1f} s wall, {cpu:.1f} s CPU\n  "
            f"({breakdown(res)}; training epochs median {statistics.median(ep):.0f}, "
            f"max {max(ep)})"
        )
        cells[method] = aggregate(res)[0]
    print(
        f"1-shot FT, three initialisations: {3 * n_targets * len(SEEDS)} units in "
        f"{total:.1f} s wall, {total_cpu:.1f} s CPU  [target ≤ 60 s]"
    )
    print(
        "\n'score' is the harness's scoring (SubsetScorer, the same for every method); "
        "'prepare' and 'edit' are the methods' own work. On a shared machine wall time "
        "includes waiting for other processes; CPU time counts both threads."
    )
    print("\nSIMULATED accuracy (sanity check only; not SSv2-Split results):")
    for name, c in cells.items():
        print(f"  {name:<26} G {100 * (c.generality or 0):5.1f}  L {100 * (c.locality or 0):5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
