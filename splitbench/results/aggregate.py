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

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from splitbench.core.identity import CELL_FIELDS
from splitbench.results.schema import UnitResult, cell_columns

METRICS = ("generality", "locality", "mean", "changed")
CELL_KEYS = list(CELL_FIELDS)  # the cell identity, defined once in splitbench.core.identity


def to_frame(results: Sequence[UnitResult]) -> pd.DataFrame:
    """One row per unit result with identity, counts and metrics."""
    rows = []
    for r in results:
        u = r.unit
        rows.append(
            {
                **cell_columns(u, r.protocol, r.features.store_key),
                "simulation": u.simulation,
                "subset_targets": u.subset_targets,
                "model": r.features.model.get("name", ""),
                "method_version": u.method_version,
                "shots": u.shots,
                "config": u.config,
                "target": u.target,
                "target_index": u.target_index,
                "k": u.k,
                "seed": u.seed,
                "generality": r.metrics.generality,
                "locality": r.metrics.locality,
                "mean": r.metrics.mean,
                "changed": changed_fraction(r),
                **r.counts.model_dump(),
            }
        )
    return pd.DataFrame(rows)


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
        per_target: Per-target means over seeds.
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
    per_target: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)

    @property
    def coverage(self) -> str:
        """E.g. ``27/27 × 3 seeds`` or ``27/27, 14/27``."""
        counts = [self.targets_per_seed[s] for s in self.seeds]
        if len(set(counts)) == 1:
            n = len(self.seeds)
            return f"{counts[0]}/{self.n_targets} × {n} seed{'s' if n > 1 else ''}"
        return ", ".join(f"{c}/{self.n_targets}" for c in counts)


def aggregate(results: Sequence[UnitResult]) -> list[Cell]:
    """Group unit results into cells and aggregate each."""
    if not results:
        return []
    df = to_frame(results)
    cells = []
    for key, g in df.groupby(CELL_KEYS, sort=True, dropna=False):
        cells.append(_cell(dict(zip(CELL_KEYS, key, strict=True)), g))
    return cells


def _cell(key: dict[str, object], g: pd.DataFrame) -> Cell:
    n_targets = int(g["subset_targets"].max())
    seeds = sorted(int(s) for s in g["seed"].unique())
    per_seed = {s: int(g.loc[g["seed"] == s, "target_index"].nunique()) for s in seeds}
    complete = all(per_seed[s] == n_targets for s in seeds)
    cell = Cell(
        key=key,
        method=str(key["method"]),
        shots=_opt_int(g["shots"].iloc[0]),
        config_hash=str(key["config_hash"]),
        config=dict(g["config"].iloc[0]),
        simulation=bool(g["simulation"].any()),
        n_targets=n_targets,
        seeds=seeds,
        targets_per_seed=per_seed,
        complete=complete,
    )
    cell.per_target = (
        g.groupby(["target_index", "target", "k"], sort=True)[list(METRICS)].mean().reset_index()
    )
    if not complete:
        cell.notes.append(f"incomplete: {cell.coverage}")
        return cell
    metrics = g[["generality", "locality", "mean"]]
    if metrics.isna().any().any():
        bad = g.loc[metrics.isna().any(axis=1), "target_index"].unique()
        cell.notes.append(f"undefined metric for targets {sorted(int(t) for t in bad)}")
        return cell
    seed_means = g.groupby("seed")[list(METRICS)].mean()
    for m in METRICS:
        vals = seed_means[m].to_numpy(dtype=float)
        setattr(cell, m, float(vals.mean()))
        setattr(cell, f"{m}_std", float(np.std(vals, ddof=1)) if len(vals) > 1 else None)
    return cell


def _opt_int(v: object) -> int | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return int(v)  # type: ignore[call-overload,no-any-return]
