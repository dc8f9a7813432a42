"""The runner's side of ``--jobs``: run one subset's pending units in forked workers.

See :mod:`splitbench.protocol.parallel` for how work is shared out. A chunk's first seed
may be shared with the previous worker's chunk; each worker after the first runs that seed
last, so the seed's prepared artefacts (e.g. a trained map, cached on disk by
:mod:`splitbench.protocol.artefacts`) are usually ready by then instead of computed twice.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from splitbench.protocol.parallel import chunks, run_forked

if TYPE_CHECKING:
    from splitbench.benchmarks.model import SplitTarget
    from splitbench.protocol.context import SubsetContext
    from splitbench.protocol.outcomes import UnitOutcome, _Progress
    from splitbench.protocol.plan import SubsetPlan
    from splitbench.protocol.runner import Runner
    from splitbench.protocol.scoring import SubsetScorer
    from splitbench.results.schema import Environment

Unit = tuple[int, "SplitTarget"]
_INTERRUPTED = "interrupted"  # a worker's message: Ctrl-C (KeyboardInterrupt) reached it


class _NoBar:
    def update(self, n: int = 1) -> None:
        """Progress is shown by the parent."""


def _by_seed(units: Sequence[Unit]) -> list[tuple[int, list[SplitTarget]]]:
    return [(seed, [t for _, t in grp]) for seed, grp in itertools.groupby(units, lambda u: u[0])]


def run_units_forked(
    runner: Runner,
    ctx: SubsetContext,
    scorer: SubsetScorer,
    plan: SubsetPlan,
    units: Sequence[Unit],
    jobs: int,
    env: Environment,
    progress: _Progress,
) -> None:
    """Run ``units`` of ``plan`` in ``jobs`` workers; record outcomes in serial order."""
    import dataclasses

    from splitbench.protocol.outcomes import RunReport, UnitOutcome, _Progress

    subset = plan.subset
    parts = chunks(units, jobs)
    targets = {(seed, t.key): t for seed, t in units}
    got: dict[tuple[int, str], UnitOutcome] = {}

    def work(part: Sequence[Unit], emit: Callable[[Any], None]) -> None:
        groups = _by_seed(part)
        if part is not parts[0] and len(groups) > 1:
            groups = groups[1:] + groups[:1]  # the seed shared with the previous chunk last
        local = _Progress(
            RunReport(),
            _NoBar(),
            lambda o: emit((o.seed, o.target.key, o.status, o.result, o.error)),
        )
        try:
            for seed, ts in groups:
                part_plan = dataclasses.replace(plan, pending={seed: ts})
                runner._run_seed(ctx, scorer, part_plan, seed, env, local)
        except KeyboardInterrupt:  # a Ctrl-C inside a worker stops the whole run
            emit(_INTERRUPTED)

    interrupted = False

    def on_message(msg: tuple[int, str, Any, Any, Any] | str) -> None:
        nonlocal interrupted
        if msg == _INTERRUPTED:
            interrupted = True
            return
        assert not isinstance(msg, str)
        seed, key, status, result, error = msg
        target = targets[(seed, key)]
        o = UnitOutcome(
            subset.name,
            target,
            seed,
            status,
            runner.path_for(subset.name, target, seed),
            result=result,
            error=error,
        )
        got[(seed, key)] = o
        progress.bar.update(1)  # type: ignore[attr-defined]
        if progress.on_unit is not None:
            progress.on_unit(o)

    problems = run_forked(parts, work, on_message)
    if interrupted:
        raise KeyboardInterrupt
    lost = [(s, t) for s, t in units if (s, t.key) not in got]
    if lost:
        why = "; ".join(sorted(set(problems.values()))) or "worker process ended early"
        for seed, target in lost:
            path = runner.path_for(subset.name, target, seed)
            msg = f"WorkerError: {why} before finishing this unit"
            runner.sink.failure(path, msg, "")
            o = UnitOutcome(subset.name, target, seed, "failed", path, error=msg)
            got[(seed, target.key)] = o
            progress.bar.update(1)  # type: ignore[attr-defined]
            if progress.on_unit is not None:
                progress.on_unit(o)
    progress.report.outcomes.extend(got[(s, t.key)] for s, t in units)
