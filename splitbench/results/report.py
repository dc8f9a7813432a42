"""Tables for the analysis commands: leaderboard cells, intervals, breakdowns, comparisons.

Each function turns an analysis frame into :class:`splitbench.results.tables.Table` objects
(formatted percentages for people, tidy fractions for machines), deterministically ordered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from splitbench.results.aggregate import Cell
from splitbench.results.breakdown import order_split_types
from splitbench.results.compare import Comparison
from splitbench.results.leaderboard import METRIC_HEADERS, SIM, LeaderboardTable
from splitbench.results.tables import Table, pct, pct_ci

SHORT = {"generality": "G", "locality": "L", "mean": "Mean", "changed": "Chg"}


def cell_label(c: Cell, labels: Mapping[tuple[str, str], str] | None) -> str:
    """Display label of a cell."""
    return (labels or {}).get((c.method, c.config_hash), c.method)


def cells_table(
    cells: Sequence[Cell], labels: Mapping[tuple[str, str], str] | None = None
) -> Table:
    """All cells in one table (subset as a column), best mean first within a subset."""
    return LeaderboardTable(cells, labels).to_table()


def ci_table(
    ci: pd.DataFrame,
    title: str = "Bootstrap intervals over videos",
    order: Sequence[str] = (),
) -> Table:
    """Percentile intervals per cell (from :func:`splitbench.results.bootstrap.video_ci`).

    Rows go by benchmark and subset, then by ``order`` of labels, then by label.
    """
    if ci.empty:
        return Table(title, pd.DataFrame(), ci, note="No cell has per-video logs for every unit.")
    rank = {lab: i for i, lab in enumerate(order)}
    ci = ci.assign(_r=[rank.get(lab, len(rank)) for lab in ci["label"]])
    ci = ci.sort_values(["benchmark", "subset", "_r", "label", "config_hash"], kind="stable")
    ci = ci.drop(columns="_r")
    level = round(100 * float(ci["level"].iloc[0]))
    display = pd.DataFrame(
        {
            "Subset": ci["subset"].to_list(),
            "Method": ci["label"].to_list(),
            **{
                f"{METRIC_HEADERS[m]} {level}% CI": [
                    pct_ci(lo, hi) for lo, hi in zip(ci[f"{m}_lo"], ci[f"{m}_hi"], strict=True)
                ]
                for m in METRIC_HEADERS
            },
            "Resamples": [str(r) for r in ci["replicates"]],
        }
    )
    return Table(
        title,
        display,
        ci.reset_index(drop=True),
        note=f"Percentile bootstrap over the subset's val videos ({level}%): each resample "
        "recomputes every target's numbers on the same resampled videos and aggregates them "
        "as the leaderboard does. Seeded, so the intervals are reproducible.",
    )


def breakdown_tables(df: pd.DataFrame, by: str, title: str, labels_order: list[str]) -> list[Table]:
    """One pivot per (benchmark, subset): groups as rows, methods as ``G / L`` columns.

    Args:
        df: :func:`splitbench.results.breakdown.by_split_type` or ``by_k`` output.
        by: The grouping column (``split_type`` or ``k``).
        title: Title prefix.
        labels_order: Method labels in column order.
    """
    tables = []
    if df.empty:
        return [Table(title, pd.DataFrame(), df, note="No complete cell to break down.")]
    for (bench, subset), part in df.groupby(["benchmark", "subset"], sort=True):
        sim = SIM if part["simulation"].any() else ""
        groups = (
            order_split_types(part[by].astype(str).tolist())
            if by == "split_type"
            else sorted(part[by].unique())
        )
        cols = [lab for lab in labels_order if lab in set(part["label"])]
        rows = []
        for grp in groups:
            sub = part[part[by].astype(str) == str(grp)]
            n = int(sub["n_targets"].max())
            row = {("Split type" if by == "split_type" else "k"): str(grp), "Targets": str(n)}
            for lab in cols:
                hit = sub[sub["label"] == lab]
                row[f"{lab} (G / L)"] = (
                    f"{pct(hit['generality'].iloc[0])} / {pct(hit['locality'].iloc[0])}"
                    if len(hit)
                    else "—"
                )
            rows.append(row)
        tables.append(
            Table(
                f"{title} — {bench}, subset {subset}{sim}",
                pd.DataFrame(rows),
                part.reset_index(drop=True),
                note="Generality / locality in percent: mean over the group's targets of "
                "each target's mean over seeds (complete cells only)"
                + (
                    "; a target with several split types counts in each."
                    if by == "split_type"
                    else "."
                ),
            )
        )
    return tables


def subcategory_tables(df: pd.DataFrame, labels_order: list[str]) -> list[Table]:
    """Per-subcategory accuracy and most frequent confusion, one table per subset."""
    if df.empty:
        return [Table("Per subcategory", pd.DataFrame(), df)]
    order = {lab: i for i, lab in enumerate(labels_order)}
    tables = []
    for (bench, subset), part in df.groupby(["benchmark", "subset"], sort=True):
        sim = SIM if part["simulation"].any() else ""
        part = part.assign(_o=part["label"].map(lambda x: order.get(x, len(order))))
        part = part.sort_values(["target_index", "fine", "_o", "label"], kind="stable")
        display = pd.DataFrame(
            {
                "Target": [
                    f"{i} {t}" for i, t in zip(part["target_index"], part["target"], strict=True)
                ],
                "Subcategory": part["subcategory"].to_list(),
                "Videos": [str(n) for n in part["n_videos"]],
                "Method": part["label"].to_list(),
                "Acc": [pct(a) for a in part["accuracy"]],
                "Most frequent confusion (share of errors)": [
                    "—" if c is None or pd.isna(c) else f"{c} ({pct(s, 0)}%)"
                    for c, s in zip(part["confusion"], part["confusion_share"], strict=True)
                ],
            }
        )
        tables.append(
            Table(
                f"Per subcategory — {bench}, subset {subset}{sim}",
                display,
                part.drop(columns="_o").reset_index(drop=True),
                note="Accuracy on the subcategory's equivalent videos, pooled over seeds, and "
                "the label most often predicted instead.",
            )
        )
    return tables


def comparison_tables(cmp: Comparison) -> list[Table]:
    """Per-target deltas and the paired summary of a comparison."""
    a, b = cmp.a, cmp.b
    metrics = [m for m in METRIC_HEADERS if f"{m}_delta" in cmp.per_target]
    pt = cmp.per_target
    display = pd.DataFrame(
        {
            "Subset": pt["subset"].to_list(),
            "Index": [str(i) for i in pt["target_index"]],
            "Target": pt["target"].to_list(),
            "k": [str(k) for k in pt["k"]],
            **{
                col: vals
                for m in metrics
                for col, vals in (
                    (f"{SHORT[m]} A", [pct(x) for x in pt[f"{m}_a"]]),
                    (f"{SHORT[m]} B", [pct(x) for x in pt[f"{m}_b"]]),
                    (f"Δ{SHORT[m]}", [_signed(x) for x in pt[f"{m}_delta"]]),
                )
            },
        }
    )
    level = round(100 * cmp.level)
    sm = cmp.summary
    summary = pd.DataFrame(
        {
            "Scope": [s if s == "all" else f"subset {s}" for s in sm["scope"]],
            "Metric": [METRIC_HEADERS[m] for m in sm["metric"]],
            "Targets": [str(n) for n in sm["n_targets"]],
            "A": [pct(x) for x in sm["mean_a"]],
            "B": [pct(x) for x in sm["mean_b"]],
            "Mean Δ (B − A)": [_signed(x) for x in sm["mean_delta"]],
            f"{level}% CI of mean Δ": [
                pct_ci(lo, hi) for lo, hi in zip(sm["ci_lo"], sm["ci_hi"], strict=True)
            ],
            "Wilcoxon p": [f"{p:.3g}" for p in sm["wilcoxon_p"]],
            "Sign test p": [f"{p:.3g}" for p in sm["sign_p"]],
            "B > A / = / <": [
                f"{h} / {t} / {lo}"
                for h, t, lo in zip(sm["b_higher"], sm["ties"], sm["b_lower"], strict=True)
            ],
        }
    )
    head = f"A = {a.label} ({a.run}), B = {b.label} ({b.run})."
    sim = SIM if bool(a.units["simulation"].any() or b.units["simulation"].any()) else ""
    notes = " ".join(
        [
            *cmp.notes,
            *(
                [f"{len(cmp.unpaired)} target(s) on one side only, left out."]
                if cmp.unpaired
                else []
            ),
        ]
    )
    extra = {"a": a.label, "b": b.label}
    return [
        Table(
            f"Per-target deltas (B − A, percentage points){sim}",
            display,
            pt,
            note=head
            + " Each target's value is its mean over seeds."
            + (f" {notes}" if notes else ""),
            extra=extra,
        ),
        Table(
            f"Paired comparison across targets{sim}",
            summary,
            sm,
            note=f"Bootstrap interval: resampling targets ({level}%, seeded). Wilcoxon "
            "signed-rank and sign tests over the per-target differences (zero differences "
            "dropped).",
            extra=extra,
        ),
    ]


def _signed(x: float | None) -> str:
    if x is None or pd.isna(x):
        return "—"
    return f"{100 * x:+.1f}"
