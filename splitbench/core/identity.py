"""What makes two results comparable: the one definition, used everywhere.

Two unit results may share a leaderboard table, be averaged into one cell, be compared
target by target, or stand in for each other on resume only when every field of
:data:`COMPARABLE_FIELDS` agrees: the same protocol, the same benchmark definition and data
revision, the same subset and the same feature store. A *cell* adds the method and its
resolved config (:data:`CELL_FIELDS`); a *slot* (one result file) adds the target and seed.

:data:`DATA_FIELDS` is the part a feature store carries itself: a VLM sub-store belongs to
its base store only when they agree on it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

COMPARABLE_FIELDS: tuple[str, ...] = (
    "benchmark",
    "benchmark_version",
    "benchmark_revision",
    "protocol",
    "subset",
    "store_key",
)
METHOD_FIELDS: tuple[str, ...] = ("method", "config_hash")
CELL_FIELDS: tuple[str, ...] = (*COMPARABLE_FIELDS, *METHOD_FIELDS)
DATA_FIELDS: tuple[str, ...] = ("benchmark", "benchmark_revision", "subset")


@dataclass(frozen=True, order=True)
class Comparable:
    """The comparability identity of a result (see the module docstring)."""

    benchmark: str
    benchmark_version: str
    benchmark_revision: str
    protocol: str
    subset: str
    store_key: str

    def as_dict(self) -> dict[str, str]:
        """Field name → value, in :data:`COMPARABLE_FIELDS` order."""
        return asdict(self)

    def differences(self, other: Comparable) -> list[str]:
        """Names of the fields where ``other`` differs, in :data:`COMPARABLE_FIELDS` order."""
        return [f for f in COMPARABLE_FIELDS if getattr(self, f) != getattr(other, f)]


@dataclass(frozen=True, order=True)
class CellKey:
    """A cell: results that are averaged together (comparable, same method and config)."""

    comparable: Comparable
    method: str
    config_hash: str

    def as_dict(self) -> dict[str, str]:
        """Field name → value, in :data:`CELL_FIELDS` order."""
        return {**self.comparable.as_dict(), "method": self.method, "config_hash": self.config_hash}

    @classmethod
    def from_mapping(cls, row: Any) -> CellKey:
        """Build from anything indexable by the :data:`CELL_FIELDS` names (a dict, a row)."""
        return cls(
            Comparable(*(str(row[f]) for f in COMPARABLE_FIELDS)),
            str(row["method"]),
            str(row["config_hash"]),
        )


def data_key(benchmark: str, benchmark_revision: str, subset: str) -> tuple[str, str, str]:
    """The :data:`DATA_FIELDS` values, in order."""
    return (benchmark, benchmark_revision, subset)


def data_identity(meta: Any) -> tuple[str, str, str]:
    """The :data:`DATA_FIELDS` of an object that has them as attributes (a store's meta)."""
    return data_key(str(meta.benchmark), str(meta.benchmark_revision), str(meta.subset))
