"""Unit results as a pandas DataFrame (``splitbench.results.load``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from splitbench.results.aggregate import CELL_KEYS, METRICS, to_frame
from splitbench.results.io import read_results_folder
from splitbench.results.labels import pair_labels
from splitbench.results.samples import samples_path
from splitbench.results.schema import UnitResult


def load(root: Path | str) -> pd.DataFrame:
    """Load every unit result under ``root`` into one DataFrame, one row per unit.

    Columns: the unit's identity (``benchmark``, ``benchmark_version``,
    ``benchmark_revision``, ``simulation``, ``protocol``, ``subset``, ``store_key``,
    ``model``, ``method``, ``method_version``, ``shots``, ``config_hash``, ``config``,
    ``target``, ``target_index``, ``k``, ``seed``), the metrics as fractions
    (``generality``, ``locality``, ``mean``, ``changed``), the raw counts
    (``equivalent_correct`` … ``unrelated_total``), ``path`` (the result file) and
    ``samples`` (its per-video log, or None when the unit was run without
    ``--log-samples``).

    Example:
        >>> import splitbench.results
        >>> df = splitbench.results.load("splitbench-results")  # doctest: +SKIP
        >>> df.groupby(["subset", "method"])["generality"].mean()  # doctest: +SKIP

    Raises:
        DataError: if ``root`` does not exist or a result file is malformed.
    """
    return frame_of(*read_results_folder(Path(root)))


def frame_of(paths: Sequence[Path], results: Sequence[UnitResult]) -> pd.DataFrame:
    """The :func:`load` frame of already-read results and their file paths."""
    df = to_frame(results)
    if df.empty:
        return df
    df["path"] = [str(p) for p in paths]
    df["samples"] = [str(samples_path(p)) if samples_path(p).is_file() else None for p in paths]
    return df


def cell_labels(df: pd.DataFrame) -> dict[tuple[str, str], str]:
    """A short display label per (method, config hash).

    The method name when it has one config in ``df``, else ``method@<hash prefix>``.
    """
    return pair_labels(zip(df["method"], df["config_hash"], strict=True))


def complete_mask(df: pd.DataFrame) -> pd.Series:
    """True for the rows of complete cells (every seed covers every target of the subset).

    The same rule as :func:`splitbench.results.aggregate.aggregate`: incomplete cells are
    left out of averages and breakdowns.
    """
    ok = pd.Series(False, index=df.index)
    for _, g in df.groupby(CELL_KEYS, sort=False, dropna=False):
        n = int(g["subset_targets"].max())
        per_seed = g.groupby("seed")["target_index"].nunique()
        ok[g.index] = bool((per_seed == n).all())
    return ok


def target_means(
    df: pd.DataFrame, labels: Mapping[tuple[str, str], str] | None = None
) -> pd.DataFrame:
    """Per-target metrics of complete cells, averaged over seeds.

    Returns one row per (cell, target) with :data:`CELL_KEYS`, ``label``, ``shots``,
    ``simulation``, ``target_index``, ``target``, ``k``, ``n_seeds`` and the metrics.
    """
    labels = labels if labels is not None else cell_labels(df)
    df = df[complete_mask(df)]
    if df.empty:
        return pd.DataFrame(
            columns=[*CELL_KEYS, "label", "target_index", "target", "k", "n_seeds", *METRICS]
        )
    keys = [*CELL_KEYS, "shots", "simulation", "target_index", "target", "k"]
    out = (
        df.groupby(keys, sort=True, dropna=False)
        .agg(n_seeds=("seed", "nunique"), **{m: (m, "mean") for m in METRICS})
        .reset_index()
    )
    out.insert(
        len(CELL_KEYS),
        "label",
        [labels[(m, h)] for m, h in zip(out["method"], out["config_hash"], strict=True)],
    )
    return out
