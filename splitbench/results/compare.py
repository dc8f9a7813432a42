"""Compare two runs target by target: deltas, a bootstrap interval and paired tests.

A *run* is a folder of unit results, optionally narrowed to one method (and config). The
two selections are paired by (subset, target); each target's value is its mean over seeds.
Per subset (and pooled over subsets when there are several) the comparison reports the mean
difference B − A, a percentile bootstrap interval of it (resampling targets), the Wilcoxon
signed-rank test and the sign test.

Runs are comparable only when they share the comparability identity
(:data:`splitbench.core.identity.COMPARABLE_FIELDS`: protocol id, benchmark, version, data
revision and, per subset, the feature store); anything else is refused with one line naming
the field that differs. ``across_stores=True`` (``--across-stores``) allows different
feature stores, for comparing base models, and notes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from splitbench.core.identity import COMPARABLE_FIELDS
from splitbench.errors import ConfigError, SplitbenchError
from splitbench.results.aggregate import METRICS
from splitbench.results.bootstrap import DEFAULT_LEVEL, paired_bootstrap_ci

TIE = 1e-12


class IncomparableError(SplitbenchError):
    """Two result sets that must not be compared (different protocol, benchmark or data)."""


@dataclass(frozen=True)
class Selection:
    """The units of one side of a comparison.

    Attributes:
        name: ``A`` or ``B``.
        run: The results folder.
        method: Method name.
        config_hash: Config hash.
        units: Its unit results (rows of :func:`splitbench.results.load`).
    """

    name: str
    run: Path
    method: str
    config_hash: str
    units: pd.DataFrame

    @property
    def label(self) -> str:
        """``method@hash`` (12 hex digits)."""
        return f"{self.method}@{self.config_hash}"


def select(df: pd.DataFrame, run: Path, name: str, method: str | None) -> Selection:
    """Narrow a run's unit results to one method and config.

    Args:
        df: The run's unit results.
        run: Its folder (for messages).
        name: ``A`` or ``B``.
        method: ``NAME`` or ``NAME@HASH_PREFIX``; None when the run holds one config.

    Raises:
        ConfigError: when the run is empty, nothing matches, or the choice is ambiguous.
    """
    if df.empty:
        raise ConfigError(f"{run}: no unit results to compare")
    sel = df
    if method:
        m, _, h = method.partition("@")
        sel = sel[sel["method"] == m]
        if h:
            sel = sel[sel["config_hash"].str.startswith(h)]
    pairs = sorted(set(zip(sel["method"], sel["config_hash"], strict=True)))
    if not pairs:
        every = sorted(set(zip(df["method"], df["config_hash"], strict=True)))
        have = ", ".join(f"{m}@{h}" for m, h in every)
        raise ConfigError(f"{run}: no results for {method!r} (run {name} holds {have})")
    if len(pairs) > 1:
        have = ", ".join(f"{m}@{h}" for m, h in pairs)
        raise ConfigError(
            f"{run}: run {name} holds several methods or configs ({have}); choose one with "
            f"--method-{name.lower()} NAME[@HASH]"
        )
    return Selection(name, run, pairs[0][0], pairs[0][1], sel)


def check_comparable(a: Selection, b: Selection, *, across_stores: bool = False) -> None:
    """Refuse to compare results that are not comparable (:mod:`splitbench.core.identity`).

    Each side must be one comparability identity per subset, and the two sides must agree
    on it for every subset they share: protocol, benchmark, version, data revision and
    feature store. ``across_stores`` allows different feature stores (base models); the
    comparison then notes them.

    Raises:
        IncomparableError: one line naming the field that differs.
    """
    fields = [f for f in COMPARABLE_FIELDS if not (across_stores and f == "store_key")]
    ids = [_identities(s, fields) for s in (a, b)]
    for subset in sorted(set(ids[0]) & set(ids[1])):
        for field, va, vb in zip(fields, ids[0][subset], ids[1][subset], strict=True):
            if va != vb:
                raise IncomparableError(
                    f"cannot compare: {field} differs (A {a.label}: {va!r}, B {b.label}: {vb!r})"
                    + (
                        "; pass --across-stores to compare different base models"
                        if field == "store_key"
                        else ""
                    )
                )


def _identities(s: Selection, fields: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Subset → the side's identity values there (one value per field, or refused)."""
    out = {}
    for subset, g in s.units.groupby("subset", sort=True):
        values = []
        for field in fields:
            found = sorted({str(v) for v in g[field]})
            if len(found) > 1:
                raise IncomparableError(
                    f"cannot compare: run {s.name} ({s.label}) mixes {field} values "
                    f"{', '.join(map(repr, found))}"
                )
            values.append(found[0])
        out[str(subset)] = tuple(values)
    return out


@dataclass
class Comparison:
    """Result of :func:`compare`.

    Attributes:
        a: Side A.
        b: Side B.
        per_target: One row per paired target: ``subset``, ``target_index``, ``target``,
            ``k`` and, per metric, ``<metric>_a``, ``<metric>_b``, ``<metric>_delta`` (B − A).
        summary: One row per (scope, metric): ``scope`` (a subset or ``all``),
            ``metric``, ``n_targets``, ``mean_a``, ``mean_b``, ``mean_delta``, ``ci_lo``,
            ``ci_hi``, ``wilcoxon_p``, ``sign_p``, ``b_higher``, ``ties``, ``b_lower``.
        unpaired: Targets present on only one side, ``(side, subset, target_index)``.
        notes: Things the reader should know (e.g. different feature stores).
        level: Coverage of the intervals.
    """

    a: Selection
    b: Selection
    per_target: pd.DataFrame
    summary: pd.DataFrame
    unpaired: list[tuple[str, str, int]]
    notes: list[str]
    level: float


def compare(
    a: Selection,
    b: Selection,
    *,
    metrics: Sequence[str] = METRICS,
    replicates: int = 10000,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    across_stores: bool = False,
) -> Comparison:
    """Pair two selections by target and test the differences.

    Raises:
        IncomparableError: see :func:`check_comparable`.
        ConfigError: for an unknown metric or when no target is in both.
    """
    from scipy import stats

    check_comparable(a, b, across_stores=across_stores)
    bad = [m for m in metrics if m not in METRICS]
    if bad:
        raise ConfigError(f"unknown metric {bad[0]!r}; expected some of {', '.join(METRICS)}")
    keys = ["subset", "target_index", "target", "k"]
    ta = a.units.groupby(keys, sort=True)[list(metrics)].mean()
    tb = b.units.groupby(keys, sort=True)[list(metrics)].mean()
    joined = ta.add_suffix("_a").join(tb.add_suffix("_b"), how="inner").reset_index()
    if joined.empty:
        raise ConfigError(f"{a.label} and {b.label} have no split target in common")
    unpaired = [
        (side, str(k[0]), int(k[1]))
        for side, own, other in (("A", ta, tb), ("B", tb, ta))
        for k in own.index.difference(other.index)
    ]
    for m in metrics:
        joined[f"{m}_delta"] = joined[f"{m}_b"] - joined[f"{m}_a"]
    per_target = joined[[*keys, *[f"{m}_{s}" for m in metrics for s in ("a", "b", "delta")]]].copy()
    scopes = [(str(s), joined[joined["subset"] == s]) for s in sorted(joined["subset"].unique())]
    if len(scopes) > 1:
        scopes.append(("all", joined))
    rows = []
    for scope, part in scopes:
        for m in metrics:
            ok = part[[f"{m}_a", f"{m}_b"]].notna().all(axis=1)
            d = part.loc[ok, f"{m}_delta"].to_numpy(dtype=float)
            lo, hi = paired_bootstrap_ci(d, replicates=replicates, level=level, seed=seed)
            higher, lower = int((d > TIE).sum()), int((d < -TIE).sum())
            nonzero = d[np.abs(d) > TIE]
            wilcoxon_p = float(stats.wilcoxon(nonzero).pvalue) if len(nonzero) else 1.0
            sign_p = (
                float(stats.binomtest(higher, higher + lower, 0.5).pvalue)
                if higher + lower
                else 1.0
            )
            rows.append(
                {
                    "scope": scope,
                    "metric": m,
                    "n_targets": len(d),
                    "mean_a": float(part.loc[ok, f"{m}_a"].mean()) if len(d) else None,
                    "mean_b": float(part.loc[ok, f"{m}_b"].mean()) if len(d) else None,
                    "mean_delta": float(d.mean()) if len(d) else None,
                    "ci_lo": lo,
                    "ci_hi": hi,
                    "wilcoxon_p": wilcoxon_p,
                    "sign_p": sign_p,
                    "b_higher": higher,
                    "ties": len(d) - higher - lower,
                    "b_lower": lower,
                }
            )
    notes = []
    for field in ("store_key", "simulation"):
        va = sorted({str(v) for v in a.units[field]})
        vb = sorted({str(v) for v in b.units[field]})
        if va != vb:
            notes.append(f"{field} differs: A {', '.join(va)}; B {', '.join(vb)}")
    return Comparison(a, b, per_target, pd.DataFrame(rows), unpaired, notes, level)
