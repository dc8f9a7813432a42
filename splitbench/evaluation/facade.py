"""The evaluation facade: methods × benchmark × stores × seeds → units, cells, leaderboard.

:func:`evaluate` is the one pipeline behind ``splitbench run``, ``splitbench grid``,
``splitbench leaderboard build`` and the bench scripts. It resolves and configures every
method, checks every method's declared needs against every store **before any unit runs**,
runs or reuses the units with the :class:`~splitbench.protocol.runner.Runner`, reads back
the results that belong to the evaluation (same cell identity, same seeds), aggregates
them into cells and returns an :class:`Evaluation`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from splitbench.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from splitbench.benchmarks.model import Benchmark
    from splitbench.core.identity import CellKey
    from splitbench.features.store import FeatureStore
    from splitbench.models.text import TextEncoder
    from splitbench.protocol.api import Method
    from splitbench.protocol.runner import Runner, RunReport, UnitOutcome
    from splitbench.registry import Registry
    from splitbench.results.aggregate import Cell
    from splitbench.results.leaderboard import LeaderboardTable
    from splitbench.results.schema import UnitResult


@dataclass(frozen=True)
class MethodSpec:
    """A method of an evaluation: a registry name plus config overrides.

    Attributes:
        name: Registry name (``splitbench list methods``).
        config: Overrides, as ``--config key=value`` gives them (strings) or typed.
        label: Display label (default: the name).
    """

    name: str
    config: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""


@dataclass
class EvaluatedMethod:
    """One configured method of an evaluation and what its run did.

    Attributes:
        label: Display label.
        method: The configured method.
        origin: Where the method comes from (distribution or file).
        report: The runner's report (None when the method was left out).
        unmet: What the stores lack for it (empty when it ran).
    """

    label: str
    method: Method
    origin: str
    report: RunReport | None = None
    unmet: list[str] = field(default_factory=list)

    @property
    def config_hash(self) -> str:
        """Hash of the resolved config."""
        return self.method.config_hash()


@dataclass
class Evaluation:
    """What :func:`evaluate` did and produced.

    Attributes:
        benchmark: The benchmark.
        stores: Subset name → feature store.
        subsets: Subsets evaluated.
        seeds: Seeds asked for (deterministic methods ran the first only).
        output_dir: Where the unit results are.
        runs: Methods that ran, in the order given.
        not_applicable: Methods left out because a store cannot meet their needs
            (``unmet="skip"`` only).
        paths: Result files of the evaluation's units (sorted).
        results: Their unit results.
        cells: The results aggregated into cells.
        wall_s: Seconds spent.
    """

    benchmark: Benchmark
    stores: dict[str, FeatureStore]
    subsets: list[str]
    seeds: list[int]
    output_dir: Path
    runs: list[EvaluatedMethod]
    not_applicable: list[EvaluatedMethod]
    paths: list[Path]
    results: list[UnitResult]
    cells: list[Cell]
    wall_s: float

    def outcomes(self, status: str) -> list[tuple[EvaluatedMethod, UnitOutcome]]:
        """``(run, outcome)`` of every unit with ``status`` (done, skipped or failed)."""
        return [
            (r, o)
            for r in self.runs
            if r.report is not None
            for o in r.report.by_status(status)  # type: ignore[arg-type]
        ]

    @property
    def produced(self) -> list[tuple[EvaluatedMethod, UnitOutcome]]:
        """Units computed by this call."""
        return self.outcomes("done")

    @property
    def reused(self) -> list[tuple[EvaluatedMethod, UnitOutcome]]:
        """Units whose result was already on disk."""
        return self.outcomes("skipped")

    @property
    def failures(self) -> list[tuple[EvaluatedMethod, UnitOutcome]]:
        """Units whose method raised (recorded in ``.failed.json`` files)."""
        return self.outcomes("failed")

    @property
    def simulated(self) -> bool:
        """Whether the benchmark or any store is a simulation."""
        return bool(self.benchmark.simulation) or any(
            st.meta.simulation for st in self.stores.values()
        )

    def labels(self) -> dict[tuple[str, str], str]:
        """``(method, config_hash)`` → display label of every run."""
        return {(r.method.name, r.config_hash): r.label for r in self.runs}

    def leaderboard(self) -> LeaderboardTable:
        """The evaluation's cells as the leaderboard table model."""
        from splitbench.results.leaderboard import LeaderboardTable

        labels = self.labels()
        plain = all(lab == m for (m, _), lab in labels.items())
        return LeaderboardTable(self.cells, None if plain else labels)

    def units(self) -> pd.DataFrame:
        """The evaluation's unit results as a frame (:func:`splitbench.results.load`)."""
        from splitbench.results.frame import frame_of

        return frame_of(self.paths, self.results)

    def failure_lines(self, limit: int | None = None) -> list[str]:
        """One line per failed unit (at most ``limit``): where, what, and the details file."""
        from splitbench.results.io import failure_path

        lines = []
        for run, o in self.failures[:limit]:
            lines.append(
                f"  failed: {run.label} subset {o.subset} target {o.target.coarse_index} "
                f"seed {o.seed}: {o.error} (details: {failure_path(o.path)})"
            )
        return lines


def resolve_methods(
    methods: Sequence[str | MethodSpec | Method], registry: Registry[type[Method]]
) -> list[EvaluatedMethod]:
    """Configure every method first, so a bad name or config fails before any work.

    Raises:
        SplitbenchError: for an unknown method, a broken plugin or a bad config.
    """
    from splitbench.protocol.api import Method, build_config

    out = []
    for m in methods:
        if isinstance(m, Method):
            origin = registry.origin(m.name) if m.name in registry else ""
            out.append(EvaluatedMethod(m.name, m, origin))
            continue
        spec = MethodSpec(m) if isinstance(m, str) else m
        cls = registry.get(spec.name)
        instance = cls(build_config(cls.config_class, spec.config))
        out.append(
            EvaluatedMethod(spec.label or instance.name, instance, registry.origin(spec.name))
        )
    return out


def evaluate(
    methods: Sequence[str | MethodSpec | Method],
    benchmark: str | Benchmark = "synthetic",
    *,
    stores: Mapping[str, FeatureStore] | Path | None = None,
    subsets: Sequence[str] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    targets: Sequence[str] | None = None,
    output_dir: Path = Path("splitbench-results"),
    annotations: Path | None = None,
    registry: Registry[type[Method]] | None = None,
    device: str = "cpu",
    overwrite: Literal["only-missing", "always"] = "only-missing",
    progress: bool = False,
    log_samples: bool = False,
    log_top_k: int = 5,
    unit_timeout: float | None = None,
    jobs: int = 1,
    unmet: Literal["error", "skip"] = "error",
    text_encoder_factory: Callable[[str], TextEncoder] | None = None,
    on_unit: Callable[[UnitOutcome], None] | None = None,
    on_run: Callable[[EvaluatedMethod], None] | None = None,
) -> Evaluation:
    """Evaluate methods on a benchmark: plan, check needs, run or reuse units, aggregate.

    Args:
        methods: Registry names, :class:`MethodSpec` (name + config overrides) or configured
            :class:`~splitbench.protocol.Method` instances.
        benchmark: A benchmark name (``synthetic``, ``ssv2-split``, a hub id) or a loaded
            benchmark.
        stores: Subset → feature store, a stores folder, or None for the benchmark's
            default stores (the synthetic benchmark makes its own).
        subsets: Subsets to run (default: all).
        seeds: Seeds; deterministic methods run the first only.
        targets: Restrict to these targets (coarse index, key or name).
        output_dir: Where unit results go; finished units there are reused.
        annotations: The official annotation folder (official benchmarks).
        registry: Method registry (default: the installed entry points).
        device: Torch device for methods that train.
        overwrite: ``only-missing`` (resume) or ``always`` (recompute).
        progress: Show progress bars.
        log_samples: Also write per-video logs next to each result.
        log_top_k: Classes kept per video in those logs.
        unit_timeout: Seconds one method call may run before its unit fails (None: no
            limit; see :mod:`splitbench.protocol.guard`).
        jobs: Worker processes per subset (``--jobs``); every unit's numbers are the same
            for any value.
        unmet: ``error``: refuse the whole evaluation, before any unit, when a store cannot
            meet a method's needs; ``skip``: leave such methods out
            (:attr:`Evaluation.not_applicable`).
        text_encoder_factory: Replaces the text-encoder registry (tests).
        on_unit: Called after each computed or failed unit.
        on_run: Called after each method's run.

    Raises:
        SplitbenchError: for unknown methods, bad configs, unmet needs (``unmet="error"``)
            or stores that do not fit; nothing has run then.
    """
    from splitbench.catalog import load_benchmark
    from splitbench.evaluation.stores import resolve_stores
    from splitbench.protocol import load_methods
    from splitbench.protocol.needs import require_needs, requirement_problems
    from splitbench.protocol.plan import check_store, select_targets
    from splitbench.protocol.runner import Runner, RunReport

    start = time.perf_counter()
    if overwrite not in ("only-missing", "always"):
        raise ConfigError(f"overwrite {overwrite!r}: expected only-missing or always")
    seed_list = list(dict.fromkeys(seeds))
    if not seed_list:
        raise ConfigError("no seeds given")
    reg = registry if registry is not None else load_methods()
    if isinstance(benchmark, str):  # only the subsets asked for are read (and validated)
        benchmark = load_benchmark(benchmark, annotations, list(subsets) if subsets else None)
    bench = benchmark
    chosen = list(subsets) if subsets else list(bench.subsets)
    for s in chosen:
        bench.subset(s)
    if stores is None or isinstance(stores, Path):
        stores = resolve_stores(bench.name, stores, chosen)
    store_map = {s: check_store(bench, bench.subset(s), stores) for s in chosen}

    runs: list[EvaluatedMethod] = []
    not_applicable: list[EvaluatedMethod] = []
    for run in resolve_methods(methods, reg):
        if unmet == "error":
            require_needs(run.method, bench, store_map)
        else:
            run.unmet = requirement_problems(run.method, store_map)
        (not_applicable if run.unmet else runs).append(run)

    options: dict[str, Any] = {"device": device, "overwrite": overwrite, "progress": progress}
    options.update(on_unit=on_unit, log_samples=log_samples, log_top_k=log_top_k)
    options.update(unit_timeout=unit_timeout)
    if text_encoder_factory is not None:
        options["text_encoder_factory"] = text_encoder_factory
    options.update(jobs=jobs)
    runners = [
        Runner(run.method, bench, store_map, output_dir, method_origin=run.origin, **options)
        for run in runs
    ]
    # subset by subset, every method on it: a subset's state is built once and shared
    # (splitbench.protocol.shared), and freed before the next subset's is built
    selected = [s for s in chosen if not targets or select_targets(bench.subset(s), targets)]
    if runners and not selected:
        runners[0].run(chosen, seed_list, targets)  # raises the one-line targets error
    from splitbench import progress as bars

    nest = progress and len(runners) > 1  # one outer bar over methods, units nested below
    outer = bars.bar(total=len(selected) * len(runners), desc="methods", disable=not nest)
    per_subset: list[list[RunReport]] = []
    for s in selected:
        if jobs > 1 and device == "cpu":  # every method of the subset on one pool of workers
            outer.set_postfix_str(f"{len(runners)} methods ({s})")
            with bars.nested() if nest else contextlib.nullcontext():
                per_subset.append(_pooled(runners, s, seed_list, targets, jobs))
            outer.update(len(runners))
            continue
        reports = []
        for r in runners:
            outer.set_postfix_str(f"{r.method.name} ({s})")
            with bars.nested() if nest else contextlib.nullcontext():
                reports.append(r.run([s], seed_list, targets))
            outer.update()
        per_subset.append(reports)
    outer.close()
    for i, run in enumerate(runs):
        run.report = RunReport.merged([reports[i] for reports in per_subset])
        if on_run is not None:
            on_run(run)

    paths, results = _read_back(Path(output_dir), runs, bench, store_map, seed_list)
    from splitbench.results.aggregate import aggregate

    return Evaluation(
        benchmark=bench,
        stores=store_map,
        subsets=chosen,
        seeds=seed_list,
        output_dir=Path(output_dir),
        runs=runs,
        not_applicable=not_applicable,
        paths=paths,
        results=results,
        cells=aggregate(results),
        wall_s=time.perf_counter() - start,
    )


def _pooled(
    runners: Sequence[Runner],
    subset: str,
    seeds: Sequence[int],
    targets: Sequence[str] | None,
    jobs: int,
) -> list[RunReport]:
    """Every runner's pending units of ``subset`` on one pool (:mod:`splitbench.protocol.pool`)."""
    from splitbench import progress as bars
    from splitbench.protocol.parallel import effective_jobs
    from splitbench.protocol.pool import pending_units, run_pooled

    states = []
    try:
        for i, r in enumerate(runners):  # one bar per method, each on its own line
            with contextlib.ExitStack() as stack:
                for _ in range(i):
                    stack.enter_context(bars.nested())
                states.append(r.begin([subset], seeds, targets))
        work = [(r, st, st.plans[0]) for r, st in zip(runners, states, strict=True)]
        n = effective_jobs(jobs, sum(pending_units(plan) for *_, plan in work))
        if n > 1:
            run_pooled(work, n)
        else:
            for r, st, plan in work:
                r.run_plan(st, plan)
    finally:
        for r, st in zip(runners, states, strict=False):
            r.finish(st)
    return [st.report for st in states]


def _read_back(
    output_dir: Path,
    runs: Sequence[EvaluatedMethod],
    bench: Benchmark,
    stores: Mapping[str, FeatureStore],
    seeds: Sequence[int],
) -> tuple[list[Path], list[UnitResult]]:
    """The results on disk that belong to the evaluation: its cells, its seeds."""
    from splitbench.protocol.plan import cell_key
    from splitbench.results.io import iter_result_files, read_result

    wanted: dict[CellKey, set[int]] = {}
    for run in runs:
        run_seeds = set(run.report.seeds if run.report is not None else seeds)
        for s, store in stores.items():
            wanted[cell_key(bench, s, store, run.method)] = run_seeds
    paths: list[Path] = []
    results: list[UnitResult] = []
    if not output_dir.exists():
        return paths, results
    for p in iter_result_files(output_dir):
        r = read_result(p)
        if r.unit.seed in wanted.get(r.cell_key, ()):
            paths.append(p)
            results.append(r)
    from splitbench.results.validate import check_unique

    check_unique(paths, results)  # two results for one unit are never averaged
    return paths, results
