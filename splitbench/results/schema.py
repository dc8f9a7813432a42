"""The versioned result schema: one :class:`UnitResult` per (method, subset, target, seed).

Every result keeps the raw counts, so any metric can be recomputed, and full provenance:
the method and its resolved config (with hash), the benchmark version and data revision, the
feature store identity, the protocol id of each metric, library versions, device and timings.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from splitbench.core.counts import UnitCounts
from splitbench.core.identity import CELL_FIELDS, CellKey, Comparable

__all__ = [
    "SCHEMA_VERSION",
    "Environment",
    "FeatureProvenance",
    "MetricMeta",
    "RunIdentity",
    "Timings",
    "UnitCounts",
    "UnitIdentity",
    "UnitMetrics",
    "UnitResult",
    "cell_columns",
]

SCHEMA_VERSION = "1.0"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricMeta(_Model):
    """How a metric was computed; metrics of different protocols are never averaged.

    Attributes:
        protocol: Protocol id (e.g. ``splitbench.protocol/1``).
        scorer: What the number is (e.g. ``accuracy_equivalent_fine``).
        comparable_group: Metrics with the same group may be compared.
    """

    protocol: str
    scorer: str
    comparable_group: str


class UnitMetrics(_Model):
    """Fractions in [0, 1] (locality may exceed 1); None where undefined."""

    generality: float | None
    locality: float | None
    mean: float | None


class RunIdentity(_Model):
    """The method and benchmark subset a result was run with (unit and session results)."""

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


def cell_columns(run: RunIdentity, protocol: str, store_key: str) -> dict[str, Any]:
    """A result's cell identity (:data:`~splitbench.core.identity.CELL_FIELDS`) as columns."""
    extra = {"protocol": protocol, "store_key": store_key}
    return {f: extra[f] if f in extra else getattr(run, f) for f in CELL_FIELDS}


class UnitIdentity(RunIdentity):
    """What was run."""

    target: str
    target_index: int
    target_key: str
    k: int
    seed: int


class FeatureProvenance(_Model):
    """Which feature store the unit was scored on."""

    store_key: str
    model: dict[str, Any]
    view_protocol: dict[str, Any]
    backbone_passes: int
    simulation: bool


class Environment(_Model):
    """Software and hardware that produced the result."""

    splitbench_version: str
    git_hash: str | None
    git_dirty: bool | None
    python: str
    platform: str
    libraries: dict[str, str]
    device: str
    deterministic_algorithms: bool
    date: str


class Timings(_Model):
    """Seconds spent on the unit (prepare is shared by the units of one subset and seed)."""

    prepare_s: float
    edit_s: float
    score_s: float


class UnitResult(_Model):
    """The result of one unit, as written to ``seed<S>.json``."""

    schema_version: str = SCHEMA_VERSION
    protocol: str
    unit: UnitIdentity
    features: FeatureProvenance
    counts: UnitCounts
    metrics: UnitMetrics
    metric_meta: dict[str, MetricMeta]
    resources: dict[str, str] = Field(default_factory=dict)
    method_info: dict[str, Any] = Field(default_factory=dict)
    environment: Environment
    timings: Timings

    @property
    def comparable(self) -> Comparable:
        """The comparability identity (:mod:`splitbench.core.identity`)."""
        u = self.unit
        values = (u.benchmark, u.benchmark_version, u.benchmark_revision, self.protocol)
        return Comparable(*values, u.subset, self.features.store_key)

    @property
    def cell_key(self) -> CellKey:
        """The cell this result is averaged into: comparable, same method and config."""
        return CellKey(self.comparable, self.unit.method, self.unit.config_hash)
