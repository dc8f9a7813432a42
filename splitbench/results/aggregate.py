"""Aggregation: mean over targets, then over seeds, ± std over seeds, with coverage.

A *cell* is one (benchmark, version, revision, protocol, subset, feature store, method,
config): :data:`splitbench.core.identity.CELL_FIELDS`. A cell
is complete when every seed that appears has a result for every target of the subset;
incomplete cells get no averages (a partial average is not comparable to a full one).
Results with different protocol ids are never put in one cell.

Besides the paper's generality, locality and mean, cells report ``changed``: the fraction of
unrelated videos whose prediction the edit changed (locality as agreement, EasyEdit's notion:
their locality is 1 − changed). It is an extra column, not a replacement for the ratio.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from splitbench.core.identity import CELL_FIELDS
from splitbench.results.schema import UnitResult

if TYPE_CHECKING:  # pandas only for frames: aggregating is done without it (start-up)
    import pandas as pd

METRICS = ("generality", "locality", "mean", "changed")
CELL_KEYS = list(CELL_FIELDS)  # the cell identity, defined once in splitbench.core.identity
TARGET_KEYS = ("target_index", "target", "k")
# UnitIdentity fields of a unit row, in column order (before and after protocol and store)
_IDENTITY = ("benchmark", "benchmark_version", "benchmark_revision", "simulation")
_METHOD_AND_TARGET = (
    "method",
    "method_version",
    "shots",
    "config_hash",
    "config",
    "target",
    "target_index",
    "k",
    "seed",
)


def unit_row(r: UnitResult) -> dict[str, Any]:
    """One unit result as a flat row: identity, counts and metrics (a :func:`to_frame` row)."""
    u = r.unit
    row: dict[str, Any] = {f: getattr(u, f) for f in _IDENTITY}
    row.update(protocol=r.protocol, subset=u.subset, subset_targets=u.subset_targets)
    row.update(store_key=r.features.store_key, model=r.features.model.get("name", ""))
    row.update({f: getattr(u, f) for f in _METHOD_AND_TARGET})
    row.update({m: getattr(r.metrics, m) for m in METRICS[:3]}, changed=changed_fraction(r))
    row.update(r.counts.model_dump())
    return row


def to_frame(results: Sequence[UnitResult]) -> pd.DataFrame:
    """One row per unit result with identity, counts and metrics."""
    import pandas as pd

    return pd.DataFrame([unit_row(r) for r in results])


def changed_fraction(result: UnitResult) -> float | None:
    """Fraction of the unrelated videos whose prediction the edit changed (None if none)."""
    return result.counts.changed


@dataclass
class Cell:
    """Aggregated numbers for one cell (fractions; None when incomplete).

    Attributes:
        key: Values of :data:`CELL_KEYS`.
        method: Method name.
        shots: Shots per subcategory (0 = zero-shot).
        config_hash: Config hash.
        config: Resolved config.
        simulation: Whether the numbers are simulated.
        n_targets: Targets of the subset.
        seeds: Seeds present.
        targets_per_seed: Targets present for each seed.
        complete: All seeds cover all targets.
        generality: Mean over seeds of the per-seed mean over targets.
        locality: Likewise.
        mean: Likewise, of (G + L) / 2.
        changed: Likewise, of the fraction of unrelated predictions the edit changed.
        generality_std: Std over seeds (None for one seed).
        locality_std: Likewise.
        mean_std: Likewise.
        changed_std: Likewise.
        targets: Per-target means over seeds, by target (:attr:`per_target` as a frame).
        notes: Why a cell has no numbers.
    """

    key: dict[str, object]
    method: str
    shots: int | None
    config_hash: str
    config: dict[str, object]
    simulation: bool
    n_targets: int
    seeds: list[int]
    targets_per_seed: dict[int, int]
    complete: bool
    generality: float | None = None
    locality: float | None = None
    mean: float | None = None
    changed: float | None = None
    generality_std: float | None = None
    locality_std: float | None = None
    mean_std: float | None = None
    changed_std: float | None = None
    targets: list[TargetMeans] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def per_target(self) -> pd.DataFrame:
        """:attr:`targets` as a frame: ``target_index, target, k`` and :data:`METRICS`."""
        import pandas as pd

        columns = [*TARGET_KEYS, *METRICS]
        return pd.DataFrame([t.row() for t in self.targets], columns=columns)

    @property
    def coverage(self) -> str:
        """E.g. ``27/27 × 3 seeds`` or ``27/27, 14/27``."""
        counts = [self.targets_per_seed[s] for s in self.seeds]
        if len(set(counts)) == 1:
            n = len(self.seeds)
            return f"{counts[0]}/{self.n_targets} × {n} seed{'s' if n > 1 else ''}"
        return ", ".join(f"{c}/{self.n_targets}" for c in counts)


@dataclass(frozen=True)
class TargetMeans:
    """One target's metrics averaged over the cell's seeds (NaN where undefined).

    Attributes:
        target_index: Coarse index of the target.
        target: Target key.
        k: Subcategories.
        generality: Mean over seeds.
        locality: Likewise.
        mean: Likewise.
        changed: Likewise.
    """

    target_index: int
    target: str
    k: int
    generality: float
    locality: float
    mean: float
    changed: float

    def row(self) -> dict[str, object]:
        """The fields as a dict, in :data:`TARGET_KEYS` + :data:`METRICS` order."""
        return {f: getattr(self, f) for f in (*TARGET_KEYS, *METRICS)}


def aggregate(results: Sequence[UnitResult]) -> list[Cell]:
    """Group unit results into cells and aggregate each.

    Plain Python rather than a pandas groupby (importing pandas was about a tenth of a warm
    ``make run``); :func:`group_mean` sums as pandas' grouped mean does, so every number is
    the one the groupby gave (``tests/test_results_aggregate.py`` compares them bit for bit).
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in results:
        row = unit_row(r)
        groups.setdefault(tuple(row[k] for k in CELL_KEYS), []).append(row)
    return [_cell(dict(zip(CELL_KEYS, k, strict=True)), g) for k, g in sorted(groups.items())]


def group_mean(values: Iterable[object]) -> float:
    """Mean of the non-missing values with pandas' grouped-mean summation (NaN if none).

    pandas' ``groupby(...).mean()`` adds in row order with Kahan compensation (a NaN
    compensation, from an infinite value, is reset to 0), then divides by the count.
    """
    total = comp = 0.0
    n = 0
    for v in values:
        if v is None:
            continue
        x = float(v)  # type: ignore[arg-type]
        if math.isnan(x):
            continue
        n += 1
        y = x - comp
        t = total + y
        comp = t - total - y
        if math.isnan(comp):
            comp = 0.0
        total = t
    return total / n if n else math.nan


def _cell(key: dict[str, object], g: list[dict[str, Any]]) -> Cell:
    n_targets = max(int(r["subset_targets"]) for r in g)
    seeds = sorted({int(r["seed"]) for r in g})
    per_seed = {s: len({r["target_index"] for r in g if r["seed"] == s}) for s in seeds}
    complete = all(per_seed[s] == n_targets for s in seeds)
    shots = g[0]["shots"]
    cell = Cell(
        key=key,
        method=str(key["method"]),
        shots=None if shots is None else int(shots),
        config_hash=str(key["config_hash"]),
        config=dict(g[0]["config"]),
        simulation=any(bool(r["simulation"]) for r in g),
        n_targets=n_targets,
        seeds=seeds,
        targets_per_seed=per_seed,
        complete=complete,
    )
    by_target: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in g:
        by_target.setdefault(tuple(r[k] for k in TARGET_KEYS), []).append(r)
    cell.targets = [
        TargetMeans(int(i), str(t), int(k), *(group_mean(r[m] for r in rows) for m in METRICS))
        for (i, t, k), rows in sorted(by_target.items())
    ]
    if not complete:
        cell.notes.append(f"incomplete: {cell.coverage}")
        return cell
    bad = {r["target_index"] for r in g if any(_missing(r[m]) for m in METRICS[:3])}
    if bad:
        cell.notes.append(f"undefined metric for targets {sorted(int(t) for t in bad)}")
        return cell
    for m in METRICS:
        vals = np.array([group_mean(r[m] for r in g if r["seed"] == s) for s in seeds])
        setattr(cell, m, float(vals.mean()))
        setattr(cell, f"{m}_std", float(np.std(vals, ddof=1)) if len(vals) > 1 else None)
    return cell


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))
