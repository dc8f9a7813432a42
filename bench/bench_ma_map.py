"""Benchmark: one modifier-alignment map, autograd-free steps vs autograd + torch.optim.

Trains the MA map g of a SIMULATED official subset (SSv2-Split A by default: 226 pairs,
384-d) for each seed twice, alternating: with the library loop (``nn.Module`` forward,
``loss.backward()``, ``torch.optim.AdamW(fused=True)``) and with
:class:`splitbench_methods._mlp_fit.MLPRegressionStep` (the same kernels, no per-step
Python machinery). Prints per-map wall and CPU seconds (min and median over the runs) and
their ratio, and checks that both give the same parameters bit for bit.

    python bench/bench_ma_map.py [--benchmark ssv2-split] [--subset A] [--seeds 3] [--runs 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from _common import add_annotations_option, require_annotations, scratch, simulated_store


def main() -> int:
    """Print the figures; 1 if the two loops disagree."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_annotations_option(ap)
    ap.add_argument("--benchmark", default="ssv2-split")
    ap.add_argument("--subset", default="A")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    annotations = require_annotations(args.annotations)
    space = scratch("splitbench-bench-ma-", own_cache=False)
    import numpy as np
    import torch
    from splitbench_methods.modifier_alignment import (
        ModifierAlignmentConfig,
        build_training_pairs,
        fit_alignment,
    )

    from splitbench.catalog import load_benchmark
    from splitbench.protocol.context import SubsetContext

    bench = load_benchmark(args.benchmark, annotations)
    store, _ = simulated_store(bench, args.subset, space)
    w, b = store.head()
    ctx = SubsetContext(
        bench, bench.subset(args.subset), store, torch.from_numpy(w), torch.from_numpy(b)
    )
    cfg = ModifierAlignmentConfig()
    pairs = build_training_pairs(ctx)
    x = torch.from_numpy(
        np.asarray(ctx.text_encoder(cfg.text_encoder).encode(pairs.texts), dtype=np.float32)
    )
    y = pairs.targets.float().contiguous()
    print(
        f"{args.benchmark}/{args.subset}: {len(pairs.texts)} pairs, "
        f"x {tuple(x.shape)}, y {tuple(y.shape)}"
    )
    for library in (True, False):  # one-time imports and allocations, untimed
        fit_alignment(ctx, 0, ModifierAlignmentConfig(max_epochs=1), pairs, x, y, library=library)
    times: dict[str, list[tuple[float, float]]] = {"library": [], "fast": []}
    same = True
    for run in range(args.runs):
        for seed in range(args.seeds):
            states = {}
            for name in ("library", "fast"):
                t, c = time.perf_counter(), time.process_time()
                amap = fit_alignment(ctx, seed, cfg, pairs, x, y, library=name == "library")
                times[name].append((time.perf_counter() - t, time.process_time() - c))
                states[name] = amap.mlp.state_dict()
            epochs = amap.summary["epochs"]
            ok = all(torch.equal(states["library"][k], states["fast"][k]) for k in states["fast"])
            same &= ok
            print(f"run {run + 1} seed {seed}: {epochs} epochs, identical parameters: {ok}")
    for name, ts in times.items():
        wall, cpu = [t[0] for t in ts], [t[1] for t in ts]
        print(
            f"{name:8s} per map: wall min {min(wall):.3f} s, "
            f"median {statistics.median(wall):.3f} s; "
            f"CPU min {min(cpu):.3f} s, median {statistics.median(cpu):.3f} s"
        )
    lib, fast = times["library"], times["fast"]
    ratio = [a[1] / b[1] for a, b in zip(lib, fast, strict=True)]
    print(
        f"library / fast CPU time, same seed and run: min {min(ratio):.2f}×, "
        f"median {statistics.median(ratio):.2f}×"
    )
    print("SIMULATED features: timings only.")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
