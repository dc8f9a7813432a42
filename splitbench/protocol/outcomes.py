"""What a run reports: one outcome per unit, a report per run, and the progress hook.

Their own module so that the runner and its forked-worker path
(:mod:`splitbench.protocol.pool`) both use them without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Literal, Protocol, TypeVar

from splitbench.benchmarks.model import SplitTarget
from splitbench.results.schema import UnitResult

Status = Literal["done", "skipped", "failed"]


@dataclass
class UnitOutcome:
    """What happened to one unit.

    Attributes:
        subset: Subset name.
        target: The target.
        seed: Seed.
        status: ``done`` (computed now), ``skipped`` (already on disk) or ``failed``.
        path: Result file path.
        result: The result, when done.
        error: One-line error, when failed.
    """

    subset: str
    target: SplitTarget
    seed: int
    status: Status
    path: Path
    result: UnitResult | None = None
    error: str | None = None


class _HasStatus(Protocol):
    status: Status


OutcomeT = TypeVar("OutcomeT", bound=_HasStatus)


@dataclass
class Report(Generic[OutcomeT]):
    """What happened to each unit of one run (single-split units or sessions).

    Attributes:
        outcomes: One per unit, in the order they finished.
        wall_s: Seconds the run took.
    """

    outcomes: list[OutcomeT] = field(default_factory=list)
    wall_s: float = 0.0

    def by_status(self, status: Status) -> list[OutcomeT]:
        """Outcomes with the given status."""
        return [o for o in self.outcomes if o.status == status]


@dataclass
class RunReport(Report[UnitOutcome]):
    """Summary of one :meth:`Runner.run` call."""

    seeds: list[int] = field(default_factory=list)
    backbone_passes: dict[str, int] = field(default_factory=dict)
    jobs: int = 1

    @classmethod
    def merged(cls, reports: Sequence[RunReport]) -> RunReport:
        """One report from per-subset reports of the same method."""
        out = cls(seeds=list(next((r.seeds for r in reports if r.seeds), [])))
        for r in reports:
            out.outcomes.extend(r.outcomes)
            out.backbone_passes.update(r.backbone_passes)
            out.wall_s += r.wall_s
            out.jobs = max(out.jobs, r.jobs)
        return out


@dataclass
class _Progress:
    """Report outcomes and advance the progress bar."""

    report: RunReport
    bar: object
    on_unit: Callable[[UnitOutcome], None] | None

    def add(self, outcome: UnitOutcome, *, notify: bool = True) -> None:
        self.report.outcomes.append(outcome)
        self.bar.update(1)  # type: ignore[attr-defined]
        if notify and self.on_unit is not None:
            self.on_unit(outcome)
