"""Matplotlib figures (PNG, Agg backend, no global pyplot state).

* :func:`scatter_generality_locality` — one point per method and subset, with error bars
  from the bootstrap over videos (or ± std over seeds when there are no per-video logs).
* :func:`bars_by_group` — generality per split type (the paper's Fig. 5b) or per k
  (Fig. 5a), one bar per method, one panel per subset.

Simulated numbers are labelled as such in the titles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from splitbench.results.aggregate import Cell
from splitbench.results.breakdown import order_split_types

_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
# tab10 without its grey (C7), then tab20's lighter tints (without their grey): a method's
# colour never matches the black subset markers of the legend or another method.
_TAB10 = [f"C{i}" for i in range(10) if i != 7]
_TAB20_LIGHT = [
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d",
    "#9edae5",
]  # fmt: skip


def method_colors(names: Sequence[str]) -> dict[str, str]:
    """One distinct colour per method label (18 before any repeats)."""
    palette = _TAB10 + _TAB20_LIGHT
    return {n: palette[i % len(palette)] for i, n in enumerate(names)}


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=120)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None}, bbox_inches="tight")
    return path


def scatter_generality_locality(
    cells: Sequence[Cell],
    path: Path,
    *,
    ci: pd.DataFrame | None = None,
    labels: Mapping[tuple[str, str], str] | None = None,
) -> Path:
    """Generality (x) against locality (y), in percent, per complete cell.

    Args:
        cells: Aggregated cells; incomplete ones are skipped.
        path: PNG to write.
        ci: :func:`splitbench.results.bootstrap.video_ci` output; error bars fall back to ±
            std over seeds for cells not in it.
        labels: Display label per (method, config hash).
    """
    cells = [c for c in cells if c.complete and c.generality is not None]
    fig = _figure(8.5, 5.0)
    ax = fig.add_subplot(1, 1, 1)
    names = sorted({(labels or {}).get((c.method, c.config_hash), c.method) for c in cells})
    subsets = sorted({str(c.key["subset"]) for c in cells})
    colors = method_colors(names)
    ci_rows = {}
    if ci is not None and not ci.empty:
        for r in ci.itertuples(index=False):
            ci_rows[(r.subset, r.method, r.config_hash, r.store_key)] = r
    for c in cells:
        name = (labels or {}).get((c.method, c.config_hash), c.method)
        subset = str(c.key["subset"])
        g, loc = 100 * (c.generality or 0.0), 100 * (c.locality or 0.0)
        r = ci_rows.get((subset, c.method, c.config_hash, c.key["store_key"]))
        if r is not None:
            xerr = [[g - 100 * r.generality_lo], [100 * r.generality_hi - g]]
            yerr = [[loc - 100 * r.locality_lo], [100 * r.locality_hi - loc]]
        else:
            xerr = 100 * (c.generality_std or 0.0)  # type: ignore[assignment]
            yerr = 100 * (c.locality_std or 0.0)  # type: ignore[assignment]
        ax.errorbar(
            g,
            loc,
            xerr=xerr,
            yerr=yerr,
            fmt=_MARKERS[subsets.index(subset) % len(_MARKERS)],
            color=colors[name],
            ecolor=colors[name],
            elinewidth=1,
            capsize=3,
            markersize=7,
        )
    from matplotlib.lines import Line2D

    # A legend keyed by colour (method) and marker (subset) instead of a text label per point:
    # labels of close methods overprinted each other. It sits right of the axes, on no data.
    handles = [
        Line2D([], [], color=colors[n], marker="o", linestyle="", label=n) for n in names
    ] + [
        Line2D(
            [],
            [],
            color="black",
            markerfacecolor="white",
            marker=_MARKERS[i % len(_MARKERS)],
            linestyle="",
            label=f"subset {s}",
        )
        for i, s in enumerate(subsets)
    ]
    if handles:
        ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    sim = any(c.simulation for c in cells)
    benches = ", ".join(sorted({str(c.key["benchmark"]) for c in cells}))
    bars = "95% bootstrap CI over videos" if ci_rows else "± std over seeds"
    ax.set_title(
        f"{benches}{' (SIMULATION)' if sim else ''}: generality vs locality\nerror bars: {bars}",
        fontsize=10,
    )
    ax.set_xlabel("Generality (%) ↑")
    ax.set_ylabel("Locality (%) ↑")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def bars_by_group(
    df: pd.DataFrame,
    by: str,
    path: Path,
    *,
    metric: str = "generality",
    labels_order: Sequence[str] | None = None,
) -> Path:
    """Grouped bars of ``metric`` per split type or k, one panel per (benchmark, subset).

    Args:
        df: :func:`splitbench.results.breakdown.by_split_type` or ``by_k`` output.
        by: ``split_type`` or ``k``.
        path: PNG to write.
        metric: Which metric the bars show.
        labels_order: Method labels in legend order.
    """
    panels = list(df.groupby(["benchmark", "subset"], sort=True)) if not df.empty else []
    fig = _figure(max(6.0, 1.6 * _max_groups(df, by) + 2) + 2.2, 3.6 * max(1, len(panels)))
    names = list(labels_order or sorted(df["label"].unique()) if not df.empty else [])
    drawn = df[df[metric].notna()] if not df.empty else df
    names = [n for n in names if not drawn.empty and n in set(drawn["label"])]
    colors = method_colors(names)
    width = 0.8 / max(1, len(names))
    for i, ((bench, subset), part) in enumerate(panels):
        ax = fig.add_subplot(len(panels), 1, i + 1)
        groups = (
            order_split_types(part[by].astype(str).tolist())
            if by == "split_type"
            else [str(g) for g in sorted(part[by].unique())]
        )
        for j, name in enumerate(names):
            xs, hs = [], []
            for gi, grp in enumerate(groups):
                hit = part[(part["label"] == name) & (part[by].astype(str) == grp)]
                if len(hit) and pd.notna(hit[metric].iloc[0]):
                    xs.append(gi + (j - (len(names) - 1) / 2) * width)
                    hs.append(100 * float(hit[metric].iloc[0]))
            ax.bar(xs, hs, width=width, color=colors[name], label=name)
        n_targets = [
            int(part.loc[part[by].astype(str) == grp, "n_targets"].max()) for grp in groups
        ]
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(
            [f"{g}\n(n={n})" for g, n in zip(groups, n_targets, strict=True)], fontsize=8
        )
        sim = " (SIMULATION)" if part["simulation"].any() else ""
        what = "split type" if by == "split_type" else "number of subcategories k"
        ax.set_title(f"{bench}{sim}, subset {subset}: {metric} by {what}", fontsize=10)
        ax.set_ylabel(f"{metric.capitalize()} (%)")
        ax.set_ylim(0, 100)
        ax.grid(True, axis="y", alpha=0.3)
    if names:  # one legend for all panels, right of them (it covered bars inside a panel)
        from matplotlib.patches import Patch

        fig.legend(
            handles=[Patch(color=colors[n], label=n) for n in names],
            fontsize=8,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            bbox_transform=fig.axes[0].transAxes if fig.axes else None,
        )
    fig.tight_layout()
    return _save(fig, path)


def _max_groups(df: pd.DataFrame, by: str) -> int:
    if df.empty:
        return 1
    return int(df.groupby(["benchmark", "subset"])[by].nunique().max())
