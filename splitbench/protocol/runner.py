"""The runner: units are method × subset × target × seed, one result file each.

A unit whose result file exists with the same cell identity
(:mod:`splitbench.core.identity`) is skipped, so an interrupted run resumes where it
stopped. A method that raises fails only its unit: the failure is recorded next to where
the result would be, the run continues, and the next run retries it.

The jobs live in their own modules: planning and resume (:mod:`~splitbench.protocol.plan`),
scoring one unit and building its result (:mod:`~splitbench.protocol.unit`), and writing
outcomes (:mod:`~splitbench.protocol.sinks`). Most callers use the evaluation facade,
:func:`splitbench.evaluate`, which builds the runner.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from splitbench.benchmarks.model import Benchmark, SplitTarget, Subset
from splitbench.features.store import FeatureStore
from splitbench.models.text import TextEncoder, get_text_encoder
from splitbench.protocol.api import Method
from splitbench.protocol.context import SplitTask, SubsetContext, load_val_features
from splitbench.protocol.determinism import use_deterministic_algorithms
from splitbench.protocol.guard import ContextGuard, SharedFeatures, contained
from splitbench.protocol.needs import require_needs
from splitbench.protocol.outcomes import Report, RunReport, Status, UnitOutcome, _Progress
from splitbench.protocol.parallel import effective_jobs
from splitbench.protocol.plan import (
    SubsetPlan,
    effective_seeds,
    plan_units,
    select_targets,
    unit_file,
)
from splitbench.protocol.scoring import SubsetScorer
from splitbench.protocol.shared import shared_state
from splitbench.protocol.sinks import UnitSink
from splitbench.protocol.unit import METRIC_META, build_result, score, seed_everything
from splitbench.results.provenance import environment
from splitbench.results.samples import DEFAULT_TOP_K
from splitbench.results.schema import Environment, Timings

__all__ = [
    "METRIC_META",
    "Report",
    "RunReport",
    "RunState",
    "Runner",
    "Status",
    "UnitOutcome",
    "seed_everything",
]

OverwriteStrategy = Literal["only-missing", "always"]


@dataclass
class RunState:
    """One :meth:`Runner.begin` … :meth:`Runner.finish` span.

    Attributes:
        seeds: The seeds the method runs (deterministic methods: the first only).
        plans: One per subset: pending and finished units.
        env: The environment every result records.
        progress: Records outcomes into :attr:`report` and advances the bar.
        start: When the run started (``perf_counter``).
        shared_s: Set when the method shared a pool of workers with other methods: its share
            of that time (its workers' busy seconds over the number of workers, plus any
            setup it paid for), which becomes the report's ``wall_s``.
    """

    seeds: list[int]
    plans: list[SubsetPlan]
    env: Environment
    progress: _Progress
    start: float
    shared_s: float | None = None

    @property
    def report(self) -> RunReport:
        """The run's report."""
        return self.progress.report


class Runner:
    """Run one method over subsets, targets and seeds.

    Args:
        method: The configured method instance.
        benchmark: The benchmark.
        stores: Subset name → feature store.
        output_dir: Root of the result files.
        method_origin: Where the method class comes from (distribution or file).
        device: Torch device for methods that train.
        overwrite: ``only-missing`` (resume) or ``always`` (recompute everything).
        progress: Show a progress bar over units.
        text_encoder_factory: Builds text encoders (tests inject cheaper ones).
        on_unit: Called after each unit (the CLI prints a line per finished unit).
        log_samples: Also write each unit's per-video predictions next to its result
            (:mod:`splitbench.results.samples`); a finished unit without them is rerun.
        log_top_k: Classes kept per video in the per-video log.
        unit_timeout: Seconds one method call (``prepare`` or ``edit``) may run before its
            unit fails; None for no limit (:mod:`splitbench.protocol.guard`).
        jobs: Worker processes per subset (:mod:`splitbench.protocol.parallel`); 1 runs
            serially. Every unit's numbers are the same for any value.
    """

    def __init__(
        self,
        method: Method,
        benchmark: Benchmark,
        stores: Mapping[str, FeatureStore],
        output_dir: Path,
        *,
        method_origin: str = "",
        device: str = "cpu",
        overwrite: OverwriteStrategy = "only-missing",
        progress: bool = True,
        text_encoder_factory: Callable[[str], TextEncoder] = get_text_encoder,
        on_unit: Callable[[UnitOutcome], None] | None = None,
        log_samples: bool = False,
        log_top_k: int = DEFAULT_TOP_K,
        unit_timeout: float | None = None,
        jobs: int = 1,
    ) -> None:
        self.method = method
        self.benchmark = benchmark
        self.stores = stores
        self.output_dir = Path(output_dir)
        self.method_origin = method_origin
        self.device = device
        self.overwrite = overwrite
        self.progress = progress
        self.text_encoder_factory = text_encoder_factory
        self.on_unit = on_unit
        self.sink = UnitSink(method.name, log_samples, log_top_k)
        self.unit_timeout = unit_timeout
        self.jobs = jobs
        self._head: ContextGuard | None = None
        self._config_hash: str | None = None  # set for the duration of run()

    def effective_seeds(self, seeds: Sequence[int]) -> list[int]:
        """Deterministic methods run once, with the first seed (as the paper does)."""
        return effective_seeds(self.method, seeds)

    def select_targets(self, subset: Subset, targets: Sequence[str] | None) -> list[SplitTarget]:
        """Targets of ``subset`` matching ``targets`` (coarse index, key or name); all if None."""
        return select_targets(subset, targets)

    def path_for(self, subset: str, target: SplitTarget, seed: int) -> Path:
        """Result path of a unit."""
        return unit_file(
            self.output_dir,
            self.benchmark,
            subset,
            self.method,
            target,
            seed,
            config_hash=self._config_hash,
        )

    def run(
        self,
        subsets: Sequence[str],
        seeds: Sequence[int],
        targets: Sequence[str] | None = None,
    ) -> RunReport:
        """Run all pending units; return what happened to each.

        The method's declared needs are checked against every store first.

        Raises:
            ConfigError: for seeds or targets that select nothing, or unmet needs.
            DataError: when a store does not fit its subset.
        """
        return self._run(subsets, seeds, targets, time.perf_counter())

    def _run(
        self,
        subsets: Sequence[str],
        seeds: Sequence[int],
        targets: Sequence[str] | None,
        start: float,
    ) -> RunReport:
        state = self.begin(subsets, seeds, targets, start=start)
        try:
            for plan in state.plans:
                self.run_plan(state, plan)
        finally:
            self.finish(state)
        return state.report

    def run_plan(self, state: RunState, plan: SubsetPlan) -> None:
        """Run one subset's pending units: serially, or on ``jobs`` forked workers."""
        units = sum(len(ts) for ts in plan.pending.values())
        if not units:
            return
        # forked workers and an initialised GPU do not mix: accelerators run serially
        jobs = effective_jobs(self.jobs, units) if self.device == "cpu" else 1
        if jobs > 1:
            from splitbench.protocol.pool import run_pooled

            run_pooled([(self, state, plan)], jobs)
            return
        ctx, scorer = self._context(plan)
        for seed in state.seeds:
            if plan.pending[seed]:
                self._run_seed(ctx, scorer, plan, seed, state.env, state.progress)
        # free this subset's context (the guard holds it too) before the next is built
        del ctx, scorer
        self._head = None

    def begin(
        self,
        subsets: Sequence[str],
        seeds: Sequence[int],
        targets: Sequence[str] | None,
        *,
        start: float | None = None,
    ) -> RunState:
        """Plan the run (pending and finished units), check needs, open the progress bar.

        The finished units are recorded as skipped. :meth:`run` calls this and
        :meth:`finish` around running the plans; the pool of
        :mod:`splitbench.protocol.pool` does the same for several runners at once.
        """
        self._config_hash = self.method.config_hash()  # for result paths, until finish()
        from splitbench.progress import bar as progress_bar

        seeds = self.effective_seeds(seeds)
        report = RunReport(seeds=seeds)
        plans = plan_units(
            self.method,
            self.benchmark,
            self.stores,
            self.output_dir,
            subsets,
            seeds,
            targets,
            reuse=self.overwrite != "always",
            need_samples=self.sink.log_samples,
        )
        require_needs(self.method, self.benchmark, {p.subset.name: p.store for p in plans})
        use_deterministic_algorithms(True, warn_only=True)
        env = environment(self.device, deterministic=True)
        total = sum(len(p.targets) for p in plans) * len(seeds)
        bar = progress_bar(
            total=total, desc=self.method.name, unit="unit", disable=not self.progress
        )
        progress = _Progress(report, bar, self.on_unit)
        for plan in plans:
            report.backbone_passes[plan.subset.name] = plan.store.meta.backbone_passes
            for t, seed in plan.done:
                path = self.path_for(plan.subset.name, t, seed)
                progress.add(UnitOutcome(plan.subset.name, t, seed, "skipped", path), notify=False)
        return RunState(
            seeds=seeds,
            plans=plans,
            env=env,
            progress=progress,
            start=time.perf_counter() if start is None else start,
        )

    def finish(self, state: RunState) -> None:
        """Close the progress bar and set the report's wall time (see :class:`RunState`)."""
        self._config_hash = None
        state.progress.bar.close()  # type: ignore[attr-defined]
        report = state.report
        if state.shared_s is None:
            report.wall_s = time.perf_counter() - state.start
        else:
            report.wall_s = state.shared_s

    def _context(self, plan: SubsetPlan) -> tuple[SubsetContext, SubsetScorer]:
        state = shared_state(plan.subset, plan.store)  # built once per process, shared
        ctx = SubsetContext(
            benchmark=self.benchmark,
            subset=plan.subset,
            _store=plan.store,
            weight=state.weight,
            bias=state.bias,
            device=torch.device(self.device),
            text_encoder_factory=self.text_encoder_factory,
            _val=state.features,
        )
        scorer = state.scorer
        features = SharedFeatures(
            state.features, lambda: load_val_features(plan.subset, plan.store)
        )
        # methods get head copies per call; the shared val features are checked after each
        self._head = ContextGuard(ctx, ctx.weight, ctx.bias, features)
        return ctx, scorer

    def _run_seed(
        self,
        ctx: SubsetContext,
        scorer: SubsetScorer,
        plan: SubsetPlan,
        seed: int,
        env: Environment,
        progress: _Progress,
        *,
        prepared: float | None = None,
    ) -> float | None:
        """Prepare ``seed`` (unless ``prepared`` gives its earlier time) and run its units.

        Returns:
            The prepare time in seconds, or None when ``prepare`` failed (its units failed).
        """
        name = plan.subset.name
        if prepared is None:
            prepared = self._prepare(ctx, plan, seed, progress)
            if prepared is None:
                return None
        prepare_s = prepared
        for target in plan.pending[seed]:
            path = self.path_for(name, target, seed)
            try:
                seed_everything(seed)
                t1 = time.perf_counter()
                task = SplitTask(target, plan.subset)
                out = contained(
                    lambda: self.method.edit(task, ctx, seed),  # noqa: B023 - called at once
                    what=f"{self.method.name}.edit",
                    timeout=self.unit_timeout,
                    head=self._head,
                )
                t2 = time.perf_counter()
                scored = score(self.method, out, scorer, ctx, target)
                result = build_result(
                    method=self.method,
                    method_origin=self.method_origin,
                    benchmark=self.benchmark,
                    ctx=ctx,
                    store=plan.store,
                    target=target,
                    seed=seed,
                    scored=scored,
                    env=env,
                    timings=Timings(
                        prepare_s=prepare_s, edit_s=t2 - t1, score_s=time.perf_counter() - t2
                    ),
                )
            except Exception as exc:
                msg = f"{type(exc).__name__}: {exc}"
                self.sink.failure(path, msg, traceback.format_exc())
                outcome = UnitOutcome(name, target, seed, "failed", path, error=msg)
            else:  # writing errors are the disk's, not the method's: they stop the run
                self.sink.result(path, result, scored, scorer, ctx, target)
                outcome = UnitOutcome(name, target, seed, "done", path, result=result)
            progress.add(outcome)
        return prepare_s

    def _prepare(
        self, ctx: SubsetContext, plan: SubsetPlan, seed: int, progress: _Progress
    ) -> float | None:
        """``prepare(ctx, seed)``; its time, or None after failing the seed's pending units."""
        name = plan.subset.name
        t0 = time.perf_counter()
        seed_everything(seed)
        try:
            contained(
                lambda: self.method.prepare(ctx, seed),
                what=f"{self.method.name}.prepare",
                timeout=self.unit_timeout,
                head=self._head,
            )
        except Exception as exc:  # a plugin's bug fails its units, not the run
            msg = f"prepare failed: {type(exc).__name__}: {exc}"
            tb = traceback.format_exc()
            for target in plan.pending[seed]:
                path = self.path_for(name, target, seed)
                self.sink.failure(path, msg, tb)
                progress.add(UnitOutcome(name, target, seed, "failed", path, error=msg))
            return None
        return time.perf_counter() - t0
