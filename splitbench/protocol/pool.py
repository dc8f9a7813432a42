"""``--jobs N``: one subset's pending units, of every method of the run, on one pool of workers.

The parent builds the subset's shared state (:mod:`splitbench.protocol.shared`: float32
features, base logits, the scorer's per-target masked caches) and then forks ``N`` workers,
which read it copy-on-write. The work is a list of tasks taken in order from one shared
counter, so a worker that finishes early takes the next task instead of waiting for the
other, and the methods of a grid overlap instead of each ending in a barrier:

1. *Preparations ahead*: for each method that declares ``prepare_ahead`` (a costly
   seed-level artefact, such as modifier alignment's map, kept in the shared artefact
   cache of :mod:`splitbench.protocol.artefacts`), ``prepare`` for each pending seed, on a
   context of its own. An artefact another worker is building is skipped rather than
   waited for, so two workers never train the same map. Nothing is recorded; a failure is
   left for the method's units to meet and record.
2. *Units*, in the serial order (method, seed, target), cut into chunks of a few units. A
   worker calls the method's ``prepare(ctx, seed)`` before its first chunk of that
   (method, seed), and again whenever it comes back to the method with another seed, so
   ``prepare`` always precedes the edits of its seed on that method instance, as in a
   serial run.

Every unit is seeded on its own, so which worker runs it changes no number. Each worker
sends every finished unit back to the parent, which records it, advances the method's
progress bar and calls the ``on_unit`` hook; outcomes are stored in the serial order. Each
worker gets ``threads // N`` intra-op threads (at least one), so the workers never
oversubscribe the cores. A worker that dies (killed, out of memory) fails the units it had
not finished, with a one-line error; the next run retries them. A unit whose whole result
it wrote before dying counts as done, even if its message was lost with the worker.
"""

from __future__ import annotations

import functools
import multiprocessing as mp
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from splitbench.protocol.parallel import MIN_UNITS_PER_JOB, run_forked
from splitbench.protocol.shared import release_freed_memory

if TYPE_CHECKING:
    from pathlib import Path

    from splitbench.benchmarks.model import SplitTarget
    from splitbench.protocol.context import SubsetContext
    from splitbench.protocol.outcomes import UnitOutcome
    from splitbench.protocol.plan import SubsetPlan
    from splitbench.protocol.runner import Runner, RunState
    from splitbench.protocol.scoring import SubsetScorer
    from splitbench.results.schema import UnitResult

#: Units per task: small enough that the two workers end together, large enough that a
#: task's overhead (a counter under a lock, one message per unit) stays negligible.
CHUNK_UNITS = MIN_UNITS_PER_JOB
_INTERRUPTED = "interrupted"  # a worker's message: Ctrl-C (KeyboardInterrupt) reached it


@dataclass(frozen=True)
class Task:
    """One piece of pooled work.

    Attributes:
        kind: ``prepare`` (a preparation ahead) or ``units``.
        job: Index of the (runner, plan) it belongs to.
        seed: The seed.
        targets: The targets, for ``units``.
    """

    kind: str
    job: int
    seed: int
    targets: tuple[SplitTarget, ...] = ()


@dataclass
class _Job:
    runner: Runner
    state: RunState
    plan: SubsetPlan
    ctx: SubsetContext | None = None
    scorer: SubsetScorer | None = None
    got: dict[tuple[int, str], UnitOutcome] = field(default_factory=dict)
    busy_s: float = 0.0

    @functools.cached_property
    def targets(self) -> dict[tuple[int, str], SplitTarget]:
        """``(seed, target key)`` → target, for every pending unit."""
        return {(s, t.key): t for s, ts in self.plan.pending.items() for t in ts}


def plan_tasks(jobs: Sequence[tuple[Runner, SubsetPlan]]) -> list[Task]:
    """Preparations ahead first, then every job's units in the serial order, in chunks."""
    tasks: list[Task] = []
    for i, (runner, plan) in enumerate(jobs):
        if runner.method.prepare_ahead:
            tasks += [Task("prepare", i, s) for s, ts in plan.pending.items() if ts]
    for i, (_, plan) in enumerate(jobs):
        for seed, ts in plan.pending.items():
            for start in range(0, len(ts), CHUNK_UNITS):
                tasks.append(Task("units", i, seed, tuple(ts[start : start + CHUNK_UNITS])))
    return tasks


def pending_units(plan: SubsetPlan) -> int:
    """Units still to run in ``plan``."""
    return sum(len(ts) for ts in plan.pending.values())


def run_pooled(work: Sequence[tuple[Runner, RunState, SubsetPlan]], jobs: int) -> None:
    """Run the pending units of ``work`` (one subset, any number of runners) on ``jobs`` workers.

    Every plan must be of the same subset and store. Outcomes go to each runner's
    :class:`~splitbench.protocol.runner.RunState`; each runner's ``shared_s`` is set to its
    share of the pool's time when more than one runner shares it.
    """
    t0 = time.perf_counter()
    todo = [_Job(r, st, p) for r, st, p in work if pending_units(p)]
    if not todo:
        return
    for job in todo:
        job.ctx, job.scorer = job.runner._context(job.plan)
    scorer = todo[0].scorer
    assert scorer is not None
    # built here, not in each worker, so the workers share one copy
    for coarse in sorted(
        {t.coarse_index for j in todo for ts in j.plan.pending.values() for t in ts}
    ):
        scorer.prepare([coarse])
        release_freed_memory()  # each mask's transients, before the next and the fork
    setup_s = time.perf_counter() - t0
    tasks = plan_tasks([(j.runner, j.plan) for j in todo])
    counter = mp.get_context("fork").Value("i", 0)
    interrupted = False

    def worker(_: Sequence[int], emit: Callable[[Any], None]) -> None:
        prepared: dict[int, tuple[int, float]] = {}  # job → (seed, prepare seconds)
        try:
            while True:
                with counter.get_lock():
                    i = counter.value
                    counter.value += 1
                if i >= len(tasks):
                    return
                t = time.perf_counter()
                _run_task(tasks[i], todo, prepared, emit)
                emit(("busy", tasks[i].job, time.perf_counter() - t))
        except KeyboardInterrupt:  # a Ctrl-C inside a worker stops the whole run
            emit(_INTERRUPTED)

    def on_message(msg: Any) -> None:
        nonlocal interrupted
        if msg == _INTERRUPTED:
            interrupted = True
        elif msg[0] == "busy":
            todo[msg[1]].busy_s += msg[2]
        else:
            _record(todo[msg[0]], *msg[1:])

    problems = run_forked([[w] for w in range(jobs)], worker, on_message)
    if interrupted:
        raise KeyboardInterrupt
    why = "; ".join(sorted(set(problems.values()))) or "worker process ended early"
    for job in todo:
        _finish(job, why)
        job.runner._head = None  # the guard holds the subset's context
    if len(todo) > 1:
        for n, job in enumerate(todo):  # the first method pays for the shared setup
            job.state.shared_s = (job.state.shared_s or 0.0) + job.busy_s / jobs
            job.state.shared_s += setup_s if n == 0 else 0.0
    for job in todo:
        job.state.report.jobs = max(job.state.report.jobs, jobs)


def _run_task(
    task: Task,
    todo: Sequence[_Job],
    prepared: dict[int, tuple[int, float]],
    emit: Callable[[Any], None],
) -> None:
    from splitbench.protocol.outcomes import RunReport, _Progress

    job = todo[task.job]
    if task.kind == "prepare":
        prepared.pop(task.job, None)  # the method instance was prepared on another context
        prepare_ahead(job.runner, job.plan.subset.name, task.seed)
        return
    assert job.ctx is not None and job.scorer is not None
    local = _Progress(
        RunReport(),
        _NoBar(),
        lambda o: emit((task.job, o.seed, o.target.key, o.status, o.result, o.error)),
    )
    plan = replace(job.plan, pending={task.seed: list(task.targets)})
    earlier = prepared.get(task.job)
    done = job.runner._run_seed(
        job.ctx,
        job.scorer,
        plan,
        task.seed,
        job.state.env,
        local,
        prepared=earlier[1] if earlier is not None and earlier[0] == task.seed else None,
    )
    if done is None:
        prepared.pop(task.job, None)
    else:
        prepared[task.job] = (task.seed, done)


def prepare_ahead(runner: Runner, subset: str, seed: int) -> None:
    """``prepare(ctx, seed)`` on a context of its own (fresh head copies, no val copy).

    Skipped when the artefact it needs is being built by another process
    (:func:`splitbench.protocol.artefacts.no_waiting`); any failure (including running past
    ``--unit-timeout``) is left for the run.
    """
    import torch

    from splitbench.protocol import artefacts
    from splitbench.protocol.context import SubsetContext
    from splitbench.protocol.guard import contained
    from splitbench.protocol.unit import seed_everything

    store = runner.stores[subset]
    weight, bias = store.head()  # fresh arrays: nothing a method does here reaches the run
    ctx = SubsetContext(
        benchmark=runner.benchmark,
        subset=runner.benchmark.subset(subset),
        _store=store,
        weight=torch.from_numpy(weight),
        bias=torch.from_numpy(bias),
        device=torch.device("cpu"),
        text_encoder_factory=runner.text_encoder_factory,
    )
    seed_everything(seed)
    try:
        with artefacts.no_waiting():
            contained(
                lambda: runner.method.prepare(ctx, seed),
                what=f"{runner.method.name}.prepare",
                timeout=runner.unit_timeout,
            )
    except Exception:  # busy elsewhere, or a failure the run meets again and records
        return


class _NoBar:
    def update(self, n: int = 1) -> None:
        """Progress is shown by the parent."""


def _record(job: _Job, seed: int, key: str, status: Any, result: Any, error: Any) -> None:
    from splitbench.protocol.outcomes import UnitOutcome

    target = job.targets[(seed, key)]
    name = job.plan.subset.name
    o = UnitOutcome(
        name,
        target,
        seed,
        status,
        job.runner.path_for(name, target, seed),
        result=result,
        error=error,
    )
    job.got[(seed, key)] = o
    progress = job.state.progress
    progress.bar.update(1)  # type: ignore[attr-defined]
    if progress.on_unit is not None:
        progress.on_unit(o)


def _finish(job: _Job, why: str) -> None:
    """Fail the units no worker reported; store every outcome in the serial order."""
    from splitbench.protocol.outcomes import UnitOutcome

    name = job.plan.subset.name
    units = [(s, t) for s, ts in job.plan.pending.items() for t in ts]
    for seed, target in units:
        if (seed, target.key) in job.got:
            continue
        path = job.runner.path_for(name, target, seed)
        result = _written(job, path)
        if result is not None:
            o = UnitOutcome(name, target, seed, "done", path, result=result)
        else:
            msg = f"WorkerError: {why} before finishing this unit"
            job.runner.sink.failure(path, msg, "")
            o = UnitOutcome(name, target, seed, "failed", path, error=msg)
        job.got[(seed, target.key)] = o
        job.state.progress.bar.update(1)  # type: ignore[attr-defined]
        if job.state.progress.on_unit is not None:
            job.state.progress.on_unit(o)
    job.state.report.outcomes.extend(job.got[(s, t.key)] for s, t in units)


def _written(job: _Job, path: Path) -> UnitResult | None:
    """The result a worker wrote to ``path`` before its message was lost, if it is whole.

    A worker writes a unit's result (atomically) and then sends its message through a
    queue whose feeder thread dies with the process: a worker killed right after a unit can
    leave a finished result the parent never heard of. That unit is done, not failed; a
    damaged or partial one (no samples log where one is due) stays failed and is rerun.
    """
    from splitbench.errors import DataError
    from splitbench.protocol.plan import cell_key, is_done
    from splitbench.results.io import read_result

    runner, name = job.runner, job.plan.subset.name
    expected = cell_key(runner.benchmark, name, job.plan.store, runner.method)
    try:
        if is_done(path, expected, need_samples=runner.sink.log_samples):
            return read_result(path)
    except DataError:
        pass
    return None
