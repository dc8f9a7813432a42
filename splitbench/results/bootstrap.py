"""Bootstrap confidence intervals: over videos (per cell) and over targets (paired deltas).

**Over videos.** A cell's generality is a mean over targets (then seeds) of per-target
accuracies on different, finite sets of videos. :func:`video_ci` resamples the subset's val
videos with replacement (the same draw for every target and seed, since they share the val
set), recomputes every per-target generality, locality ratio and changed fraction on the
resampled videos, and aggregates exactly as the leaderboard does. It needs the per-video
logs (``splitbench run --log-samples``).

Each resample is a vector of per-video multiplicities, so the recomputed counts are integer
dot products. They are done as float32 matrix products whose partial sums are integers below
2**24, hence exact and independent of the BLAS kernel: the intervals are the same on every
machine for the same seed.

**Over targets.** :func:`paired_bootstrap_ci` resamples targets for the mean of paired
differences (used by ``splitbench leaderboard compare``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from splitbench.results.aggregate import CELL_KEYS, METRICS
from splitbench.results.frame import cell_labels, complete_mask
from splitbench.results.samples import read_samples

DEFAULT_REPLICATES = 1000
DEFAULT_LEVEL = 0.95
_EXACT_LIMIT = 2**24


@dataclass(frozen=True)
class _Unit:
    target: int
    seed: int
    eq_rows: np.ndarray
    eq_correct: np.ndarray
    un_rows: np.ndarray
    un_edited: np.ndarray
    un_original: np.ndarray
    un_changed: np.ndarray


def video_ci(
    df: pd.DataFrame,
    *,
    replicates: int = DEFAULT_REPLICATES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    labels: Mapping[tuple[str, str], str] | None = None,
) -> pd.DataFrame:
    """Percentile bootstrap intervals over videos for every complete cell with logs.

    Args:
        df: Unit results (:func:`splitbench.results.load`).
        replicates: Bootstrap resamples.
        level: Coverage of the interval (0.95 → 2.5th and 97.5th percentiles).
        seed: Seed of the resampling.
        labels: Display label per (method, config hash).

    Returns:
        One row per cell: :data:`splitbench.results.aggregate.CELL_KEYS`, ``label``,
        ``<metric>_lo`` and ``<metric>_hi`` for generality, locality, mean and changed,
        ``replicates`` (resamples in which every metric was defined) and ``level``. Cells
        with a unit lacking its log are left out.
    """
    rows: list[dict[str, object]] = []
    if df.empty or "samples" not in df:
        return pd.DataFrame(rows)
    labels = labels if labels is not None else cell_labels(df)
    df = df[complete_mask(df)]
    for key, g in df.groupby(CELL_KEYS, sort=True, dropna=False):
        if g["samples"].isna().any():
            continue
        cell = dict(zip(CELL_KEYS, key, strict=True))
        units = [_load_unit(r) for r in g.itertuples(index=False)]
        values = _resample(units, replicates, seed)
        ok = np.isfinite(values).all(axis=1)
        lo_q, hi_q = 100 * (1 - level) / 2, 100 * (1 + level) / 2
        row: dict[str, object] = {
            **cell,
            "label": labels.get((str(cell["method"]), str(cell["config_hash"])), cell["method"]),
        }
        for i, m in enumerate(METRICS):
            lo, hi = np.percentile(values[ok, i], [lo_q, hi_q]) if ok.any() else (None, None)
            row[f"{m}_lo"] = None if lo is None else float(lo)
            row[f"{m}_hi"] = None if hi is None else float(hi)
        row["replicates"] = int(ok.sum())
        row["level"] = level
        rows.append(row)
    return pd.DataFrame(rows)


def _load_unit(row: object) -> _Unit:
    samples, _ = read_samples(Path(str(row.samples)))  # type: ignore[attr-defined]
    eq = samples[samples["set"] == "equivalent"]
    un = samples[samples["set"] == "unrelated"]
    pred_u, orig_u, lab_u = (un[c].to_numpy() for c in ("pred", "pred_original", "label"))
    return _Unit(
        target=int(row.target_index),  # type: ignore[attr-defined]
        seed=int(row.seed),  # type: ignore[attr-defined]
        eq_rows=eq["row"].to_numpy(),
        eq_correct=(eq["pred"].to_numpy() == eq["label"].to_numpy()),
        un_rows=un["row"].to_numpy(),
        un_edited=pred_u == lab_u,
        un_original=orig_u == lab_u,
        un_changed=pred_u != orig_u,
    )


def _resample(units: list[_Unit], replicates: int, seed: int) -> np.ndarray:
    """``(replicates, 4)`` cell-level generality, locality, mean, changed per resample."""
    universe = np.unique(np.concatenate([np.concatenate([u.eq_rows, u.un_rows]) for u in units]))
    m = len(universe)
    if m >= _EXACT_LIMIT:
        raise ValueError(f"{m} videos: too many for exact float32 resampling")
    targets = sorted({u.target for u in units})
    seeds = sorted({u.seed for u in units})
    t_of = {t: i for i, t in enumerate(targets)}
    s_of = {s: i for i, s in enumerate(seeds)}
    n_t, n_s = len(targets), len(seeds)
    # columns: 6 quantities × targets × seeds, per-video 0/1 indicators
    x = np.zeros((m, 6, n_t, n_s), dtype=np.float32)
    for u in units:
        t, s = t_of[u.target], s_of[u.seed]
        eq = np.searchsorted(universe, u.eq_rows)
        un = np.searchsorted(universe, u.un_rows)
        x[eq, 0, t, s] = u.eq_correct
        x[eq, 1, t, s] = 1.0
        x[un, 2, t, s] = u.un_edited
        x[un, 3, t, s] = u.un_original
        x[un, 4, t, s] = u.un_changed
        x[un, 5, t, s] = 1.0
    flat = x.reshape(m, -1)
    rng = np.random.default_rng(np.random.SeedSequence([seed, m]))
    out = np.empty((replicates, len(METRICS)))
    chunk = max(1, min(replicates, 2**22 // max(m, 1)))
    for start in range(0, replicates, chunk):
        b = min(chunk, replicates - start)
        draws = rng.integers(0, m, size=(b, m))
        w = np.bincount((draws + m * np.arange(b)[:, None]).ravel(), minlength=b * m)
        sums = (w.reshape(b, m).astype(np.float32) @ flat).reshape(b, 6, n_t, n_s)
        sums = sums.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = sums[:, 0] / sums[:, 1]
            loc = sums[:, 2] / sums[:, 3]
            ch = sums[:, 4] / sums[:, 5]
        # mean over targets, then over seeds, as the leaderboard aggregates
        gm, lm, cm = (v.mean(axis=1).mean(axis=1) for v in (g, loc, ch))
        mm = ((g + loc) / 2).mean(axis=1).mean(axis=1)
        out[start : start + b] = np.stack([gm, lm, mm, cm], axis=1)
    return out


def paired_bootstrap_ci(
    deltas: np.ndarray, *, replicates: int = 10000, level: float = DEFAULT_LEVEL, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of paired differences (resampling pairs)."""
    from scipy import stats

    d = np.asarray(deltas, dtype=np.float64)
    if len(d) == 0:
        return (float("nan"), float("nan"))
    if len(d) == 1 or np.all(d == d[0]):  # every resample has the same mean
        return float(d[0]), float(d[0])
    res = stats.bootstrap(
        (d,),
        np.mean,
        n_resamples=replicates,
        confidence_level=level,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(np.random.SeedSequence([seed, len(d)])),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)
