"""The result schema of a multi-target session, one result per unit.

A unit is (method, subset, track, size, order, seed). Follows
:mod:`splitbench.results.schema`: frozen, ``extra="forbid"``, raw counts kept (per target and
for locality), full provenance, pinned by a golden file. Its protocol id is
``splitbench.session/1``, so session results never share a cell with single-split ones.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from splitbench.results.schema import Environment, FeatureProvenance, RunIdentity, Timings

SESSION_SCHEMA_VERSION = "1.0"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _ratio(part: int, whole: int | None) -> float | None:
    return part / whole if whole else None


class SessionIdentity(RunIdentity):
    """What was run: the method, the benchmark subset and the session."""

    track: Literal["batch", "sequential"]
    size: int
    order: int
    seed: int
    targets: list[str]
    """Target keys in session order."""


class SessionTargetCounts(_Model):
    """Raw counts of one target of a session.

    Attributes:
        key: Target key.
        coarse_index: Its coarse class.
        k: Its subcategories.
        column: Its first fine column in the edited label space.
        equivalent_correct: Equivalent videos right at the end of the session.
        equivalent_total: Equivalent videos.
        correct_after_edit: Equivalent videos right just after its own edit (sequential;
            None in a batch session).
    """

    key: str
    coarse_index: int
    k: int
    column: int
    equivalent_correct: int
    equivalent_total: int
    correct_after_edit: int | None

    @property
    def generality(self) -> float | None:
        """Fraction right at the end; None without equivalent videos."""
        return _ratio(self.equivalent_correct, self.equivalent_total)

    @property
    def retention(self) -> float | None:
        """End over right-after-edit correct counts; None when undefined."""
        return _ratio(self.equivalent_correct, self.correct_after_edit)


class SessionLocalityCounts(_Model):
    """Raw counts on the val videos outside every equivalent set of the session."""

    unrelated_correct_edited: int
    unrelated_correct_original: int
    unrelated_changed: int
    unrelated_total: int

    @property
    def locality(self) -> float | None:
        """Edited over original accuracy; None when the original gets none right."""
        return _ratio(self.unrelated_correct_edited, self.unrelated_correct_original)


class SessionMetrics(_Model):
    """Fractions (locality and retention may exceed 1); None where undefined."""

    generality: float | None
    locality: float | None
    retention: float | None
    mean: float | None


class SessionResult(_Model):
    """The result of one session, as written to ``session-seed<S>.json``."""

    schema_version: str = SESSION_SCHEMA_VERSION
    protocol: str
    session: SessionIdentity
    features: FeatureProvenance
    targets: list[SessionTargetCounts]
    locality: SessionLocalityCounts
    metrics: SessionMetrics
    resources: dict[str, str] = Field(default_factory=dict)
    method_info: dict[str, Any] = Field(default_factory=dict)
    """Per target key, what the method said about its edit."""
    environment: Environment
    timings: Timings
