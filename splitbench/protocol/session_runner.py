"""Running the session track: units are method × subset × size × order × seed.

One result file per unit (:class:`~splitbench.results.session_schema.SessionResult`), under
``<output>/<benchmark>/<subset>/<method>/<config_hash>/sessions/<track>/m<size>-o<order>/``
as ``session-seed<S>.json`` (a name the single-split reader never picks up). A finished
unit with the same identity is skipped, so an interrupted run resumes. Sessions of one order
are nested (size m splits the first m targets of the order) and each edit depends only on
the earlier ones, so the edits of an (order, seed) are made once, for its largest pending
size, and every size scores its prefix.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from splitbench.benchmarks.model import Benchmark, Subset
from splitbench.errors import ConfigError, DataError
from splitbench.features.store import FeatureStore
from splitbench.models.text import TextEncoder, get_text_encoder
from splitbench.protocol.api import Method
from splitbench.protocol.context import SubsetContext
from splitbench.protocol.determinism import use_deterministic_algorithms
from splitbench.protocol.guard import contained
from splitbench.protocol.needs import require_needs
from splitbench.protocol.plan import SubsetPlan, check_store, effective_seeds
from splitbench.protocol.runner import OverwriteStrategy, Report, Runner, Status
from splitbench.protocol.scoring import SubsetScorer
from splitbench.protocol.session import (
    SESSION_PROTOCOL_ID,
    SessionCounts,
    SessionEdit,
    Track,
    edit_session,
    score_session,
    session_order,
)
from splitbench.protocol.unit import provenance, run_identity, seed_everything
from splitbench.results.io import atomic_write_text
from splitbench.results.provenance import environment
from splitbench.results.schema import Environment, Timings
from splitbench.results.session_schema import SessionIdentity, SessionMetrics, SessionResult

T = TypeVar("T")


def session_path(
    output: Path, benchmark: str, subset: str, method: Method, track: str, size: int, order: int,
    seed: int,
) -> Path:  # fmt: skip
    """Path of a session unit's result file."""
    return (
        output / benchmark / subset / method.name / method.config_hash() / "sessions" / track
        / f"m{size}-o{order}" / f"session-seed{seed}.json"
    )  # fmt: skip


@dataclass
class SessionOutcome:
    """What happened to one session unit."""

    subset: str
    size: int
    order: int
    seed: int
    status: Status
    path: Path
    result: SessionResult | None = None
    error: str | None = None


SessionReport = Report[SessionOutcome]
"""Summary of one :meth:`SessionRunner.run` call."""


class SessionRunner:
    """Run one method's sessions over subsets, sizes, orders and seeds.

    Args:
        method: The configured method; it must declare support for ``track``.
        benchmark: The benchmark.
        stores: Subset name → feature store.
        output_dir: Root of the result files.
        track: ``batch`` or ``sequential``.
        method_origin: Where the method class comes from.
        device: Torch device for methods that train.
        overwrite: ``only-missing`` (resume) or ``always``.
        text_encoder_factory: Builds text encoders (tests inject cheaper ones).
        on_unit: Called after each session unit.
        unit_timeout: Seconds one method call may run before its units fail; None for no
            limit. Calls are contained as in single-split runs
            (:mod:`splitbench.protocol.guard`).
    """

    def __init__(
        self,
        method: Method,
        benchmark: Benchmark,
        stores: Mapping[str, FeatureStore],
        output_dir: Path,
        track: Track,
        *,
        method_origin: str = "",
        device: str = "cpu",
        overwrite: OverwriteStrategy = "only-missing",
        text_encoder_factory: Callable[[str], TextEncoder] = get_text_encoder,
        on_unit: Callable[[SessionOutcome], None] | None = None,
        unit_timeout: float | None = None,
    ) -> None:
        support = method.session_support
        if not support.supports(track):
            why = f": {support.note}" if support.note else ""
            raise ConfigError(f"method {method.name!r} does not take part in {track} sessions{why}")
        self.method = method
        self.benchmark = benchmark
        self.output_dir = Path(output_dir)
        self.stores = stores
        self.track = track
        self.overwrite = overwrite
        self.on_unit = on_unit
        self._units = Runner(
            method,
            benchmark,
            stores,
            output_dir,
            method_origin=method_origin,
            device=device,
            progress=False,
            text_encoder_factory=text_encoder_factory,
            unit_timeout=unit_timeout,
        )

    def path_for(self, subset: str, size: int, order: int, seed: int) -> Path:
        """Result path of a session unit."""
        return session_path(
            self.output_dir, self.benchmark.name, subset, self.method, self.track, size, order,
            seed,
        )  # fmt: skip

    def _is_done(self, path: Path, store: FeatureStore) -> bool:
        if self.overwrite == "always" or not path.is_file():
            return False
        try:
            raw = json.loads(path.read_text())
            same = (
                raw["protocol"] == SESSION_PROTOCOL_ID
                and raw["features"]["store_key"] == store.meta.key
                and raw["session"]["benchmark_revision"] == self.benchmark.revision
                and raw["session"]["config_hash"] == self.method.config_hash()
            )
        except (OSError, ValueError, KeyError, TypeError):
            return False
        if not same:
            raise DataError(
                f"{path} was produced with another protocol, feature store or annotation "
                f"revision; use another --output-dir, or --overwrite-strategy always"
            )
        return True

    def run(
        self, subsets: Sequence[str], sizes: Sequence[int], orders: int, seeds: Sequence[int]
    ) -> SessionReport:
        """Run every pending session unit.

        Raises:
            ConfigError: for sizes larger than a subset's target count, or no orders.
        """
        start = time.perf_counter()
        if orders < 1:
            raise ConfigError(f"--orders {orders}: expected at least 1")
        seeds = effective_seeds(self.method, seeds)
        report = SessionReport()
        checked = {
            s: check_store(self.benchmark, self.benchmark.subset(s), self.stores) for s in subsets
        }
        require_needs(self.method, self.benchmark, checked)
        env = environment(self._units.device, deterministic=True)
        use_deterministic_algorithms(True, warn_only=True)  # without the compiler stack
        for name in subsets:
            subset = self.benchmark.subset(name)
            too_big = [m for m in sizes if m > len(subset.targets)]
            if too_big:
                raise ConfigError(
                    f"session size {too_big[0]} exceeds the {len(subset.targets)} targets of "
                    f"{self.benchmark.name} subset {subset.name}"
                )
            store = checked[name]
            pending = {
                (o, s): [m for m in sizes if not self._is_done(self.path_for(name, m, o, s), store)]
                for o in range(orders)
                for s in seeds
            }
            for (o, s), todo in pending.items():
                for m in sizes:
                    if m not in todo:
                        report.outcomes.append(
                            SessionOutcome(name, m, o, s, "skipped", self.path_for(name, m, o, s))
                        )
            if not any(pending.values()):
                continue
            ctx, scorer = self._units._context(SubsetPlan(subset, store, list(subset.targets)))
            for seed in seeds:
                todo_orders = [(o, pending[(o, seed)]) for o in range(orders)]
                if any(t for _, t in todo_orders):
                    self._run_seed(ctx, scorer, store, subset, seed, todo_orders, env, report)
        report.wall_s = time.perf_counter() - start
        return report

    def _run_seed(
        self,
        ctx: SubsetContext,
        scorer: SubsetScorer,
        store: FeatureStore,
        subset: Subset,
        seed: int,
        todo_orders: list[tuple[int, list[int]]],
        env: Environment,
        report: SessionReport,
    ) -> None:
        t0 = time.perf_counter()
        try:
            seed_everything(seed)
            self._contained(lambda: self.method.prepare(ctx, seed), "prepare")
        except Exception as exc:  # a plugin's bug fails its units, not the run
            msg = f"prepare failed: {type(exc).__name__}: {exc}"
            for order, todo in todo_orders:
                for m in todo:
                    self._fail(subset.name, m, order, seed, msg, traceback.format_exc(), report)
            return
        prepare_s = time.perf_counter() - t0
        for order, todo in todo_orders:
            if not todo:
                continue
            targets = session_order(subset.targets, order)[: max(todo)]
            try:
                t1 = time.perf_counter()
                edit = edit_session(
                    self.method,
                    ctx,
                    targets,
                    self.track,
                    seed,
                    lambda f: self._contained(f, "edit"),
                )
                edit_s = time.perf_counter() - t1
            except Exception as exc:
                msg = f"{type(exc).__name__}: {exc}"
                for m in todo:
                    self._fail(subset.name, m, order, seed, msg, traceback.format_exc(), report)
                continue
            for m in todo:
                t2 = time.perf_counter()
                prefix = _prefix(edit, m)
                counts, _, _ = score_session(scorer, prefix, self.track)
                timings = Timings(
                    prepare_s=prepare_s, edit_s=edit_s, score_s=time.perf_counter() - t2
                )
                result = self._result(
                    subset, m, order, seed, store, ctx, prefix, counts, env, timings
                )
                path = self.path_for(subset.name, m, order, seed)
                atomic_write_text(path, result.model_dump_json(indent=2) + "\n")
                path.with_name(path.stem + ".failed.json").unlink(missing_ok=True)
                outcome = SessionOutcome(subset.name, m, order, seed, "done", path, result)
                report.outcomes.append(outcome)
                if self.on_unit is not None:
                    self.on_unit(outcome)

    def _contained(self, call: Callable[[], T], step: str) -> T:
        units = self._units
        return contained(
            call, what=f"{self.method.name}.{step}", timeout=units.unit_timeout, head=units._head
        )

    def _fail(
        self, subset: str, m: int, order: int, seed: int, msg: str, tb: str, report: SessionReport
    ) -> None:
        path = self.path_for(subset, m, order, seed)
        atomic_write_text(
            path.with_name(path.stem + ".failed.json"),
            json.dumps({"method": self.method.name, "error": msg, "traceback": tb}, indent=2),
        )
        outcome = SessionOutcome(subset, m, order, seed, "failed", path, error=msg)
        report.outcomes.append(outcome)
        if self.on_unit is not None:
            self.on_unit(outcome)

    def _result(
        self,
        subset: Subset,
        size: int,
        order: int,
        seed: int,
        store: FeatureStore,
        ctx: SubsetContext,
        edit: SessionEdit,
        counts: SessionCounts,
        env: Environment,
        timings: Timings,
    ) -> SessionResult:
        g, loc = counts.generality, counts.locality
        origin = self._units.method_origin
        return SessionResult(
            protocol=SESSION_PROTOCOL_ID,
            session=SessionIdentity(
                **run_identity(self.method, origin, self.benchmark, subset, store).model_dump(),
                track=self.track,
                size=size,
                order=order,
                seed=seed,
                targets=[t.key for t in edit.targets],
            ),
            features=provenance(store),
            targets=list(counts.targets),
            locality=counts.outside,
            metrics=SessionMetrics(
                generality=g,
                locality=loc,
                retention=counts.retention,
                mean=None if g is None or loc is None else (g + loc) / 2,
            ),
            resources=dict(ctx.resources),
            method_info=json.loads(
                json.dumps(
                    {t.key: info for t, info in zip(edit.targets, edit.info, strict=True)},
                    default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o),
                )
            ),
            environment=env,
            timings=timings,
        )


def _prefix(edit: SessionEdit, m: int) -> SessionEdit:
    """The first m targets of a session's edit (their rows are the first columns)."""
    rows = sum(t.k for t in edit.targets[:m])
    return SessionEdit(edit.weight[:rows], edit.bias[:rows], edit.targets[:m], edit.info[:m])
