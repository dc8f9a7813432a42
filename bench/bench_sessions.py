"""Benchmark: scoring one multi-target session over every target of a subset.

Prints the time to score a session of all targets (27 for SSv2-Split A) on simulated
SSv2-Split-size features (24,777 val videos × 6 views × 384; no video is decoded): the
new-row logits of all K rows once, the masked probabilities at the end, and the
right-after-each-edit generality of a sequential session. Also the time of the rows
themselves (modifier retrieval) and of the whole run with result files. Min and median of
``--repeats`` runs.

Usage:
    python bench/bench_sessions.py [--annotations PATH] [--subset A] [--repeats 5]

Target (issue 15, 2-core CPU): scoring a whole-subset session ≤ 1 s.
"""

from __future__ import annotations

import statistics
import time

from _common import open_simulated_subset, print_peak_memory, subset_parser


def main() -> None:
    parser = subset_parser(__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sim = open_simulated_subset(args, "splitbench-bench-sessions-")
    bench, subset, store, space = sim.bench, sim.subset, sim.store, sim.space

    from splitbench.protocol import SubsetContext, load_methods
    from splitbench.protocol.session import edit_session, score_session, session_order
    from splitbench.protocol.session_runner import SessionRunner
    from splitbench.protocol.shared import shared_state

    method = load_methods().get("modifier_retrieval")()
    stores = {args.subset: store}
    t = time.perf_counter()
    state = shared_state(subset, store)  # what every runner of this process shares
    scorer = state.scorer
    ctx = SubsetContext(bench, subset, store, state.weight, state.bias, _val=state.features)
    print(f"subset state (float32 features, base logits): {time.perf_counter() - t:.2f} s")
    method.prepare(ctx, 0)
    order = session_order(subset.targets, 0)
    t = time.perf_counter()
    edit = edit_session(method, ctx, order, "sequential", 0)
    print(
        f"modifier retrieval rows for {len(order)} targets (K = {edit.weight.shape[0]} rows): "
        f"{time.perf_counter() - t:.2f} s"
    )
    for track in ("batch", "sequential"):
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            counts, _, _ = score_session(scorer, edit, track)
            times.append(time.perf_counter() - t)
        print(
            f"score one {track} session of all {len(order)} targets: min {min(times):.3f} s, "
            f"median {statistics.median(times):.3f} s over {args.repeats} runs "
            f"(G {100 * (counts.generality or 0):.1f}, L {100 * (counts.locality or 0):.1f})"
        )
    t = time.perf_counter()
    report = SessionRunner(method, bench, stores, space.tmp / "out", "sequential").run(
        [args.subset], [1, 9, len(order)], 3, [0]
    )
    print(
        f"whole run, sizes 1, 9, {len(order)} × 3 orders ({len(report.outcomes)} sessions, "
        f"result files included): {time.perf_counter() - t:.2f} s"
    )
    print_peak_memory()


if __name__ == "__main__":
    main()
