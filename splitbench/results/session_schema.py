"""The result schema of a multi-target session, one result per unit.

A unit is (method, subset, track, size, order, seed). Follows
:mod:`splitbench.results.schema`: frozen, ``extra="forbid"``, raw counts kept (per target and
for locality), full provenance, pinned by a golden file. Its protocol id is
``splitbench.session/1``, so session results never share a cell with single-split ones.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from splitbench.results.schema import Environment, FeatureProvenance, Timings

SESSION_SCHEMA_VERSION = "1.0"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionIdentity(_Model):
    """What was run: the method, the benchmark subset and the session."""

    method: str
    method_version: str
    method_origin: str
    shots: int | None
    config: dict[str, Any]
    config_hash: str
    benchmark: str
    benchmark_version: str
    benchmark_revision: str
    simulation: bool
    subset: str
    subset_targets: int
    track: Literal["batch", "sequential"]
    size: int
    order: int
    seed: int
    targets: list[str]
    """Target keys in session order."""


class SessionTargetCounts(_Model):
    """Raw counts of one target (see :class:`splitbench.protocol.session.TargetCounts`)."""

    key: str
    coarse_index: int
    k: int
    column: int
    equivalent_correct: int
    equivalent_total: int
    correct_after_edit: int | None


class SessionLocalityCounts(_Model):
    """Raw counts on the val videos outside every equivalent set of the session."""

    unrelated_correct_edited: int
    unrelated_correct_original: int
    unrelated_changed: int
    unrelated_total: int


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
