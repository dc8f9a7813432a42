"""Session-track results: loading, aggregation over orders and seeds, tables and a plot.

A *session cell* is one (benchmark, version, revision, protocol, subset, feature store,
method, config, track, size m). Its numbers are the mean over the cell's sessions (orders ×
seeds) of each session's generality (itself a mean over its targets), locality and
retention, ± std over sessions. Session results carry their own protocol id, so they never
share a cell, a table or a file pattern with single-split results.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from splitbench.core.identity import CELL_FIELDS
from splitbench.errors import DataError
from splitbench.results.io import read_versioned
from splitbench.results.render import SIMULATION_BANNER
from splitbench.results.schema import cell_columns
from splitbench.results.session_schema import SESSION_SCHEMA_VERSION, SessionResult
from splitbench.results.tables import pct

SESSION_CELL_KEYS = [*CELL_FIELDS, "track", "size"]
"""A session cell: the one comparability identity plus method, config, track and m."""
SESSION_METRICS = ("generality", "locality", "retention", "mean")
_ROW_FIELDS = ("track", "size", "order", "seed", "simulation", "shots")  # after the cell's


def read_session(path: Path) -> SessionResult:
    """Read and validate one session result.

    Raises:
        DataError: naming the file and its first problem.
    """
    return read_versioned(
        path, SessionResult, SESSION_SCHEMA_VERSION, "session result", "session schema"
    )


_SESSION_FILE = re.compile(r"session-seed\d+\.json")


def load_sessions(root: Path) -> list[SessionResult]:
    """Every session result under ``root`` (sorted by path).

    Raises:
        DataError: if ``root`` does not exist or a file is malformed.
    """
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: results folder does not exist")
    files = sorted(p for p in root.rglob("session-seed*.json") if _SESSION_FILE.fullmatch(p.name))
    return [read_session(p) for p in files]  # not the session-seed<S>.failed.json records


def session_frame(results: Sequence[SessionResult]) -> pd.DataFrame:
    """One row per session result with its identity and metrics."""
    rows = [
        {
            **cell_columns(r.session, r.protocol, r.features.store_key),
            **r.session.model_dump(include=set(_ROW_FIELDS)),
            **r.metrics.model_dump(),
        }
        for r in results
    ]
    return pd.DataFrame(rows, columns=[*CELL_FIELDS, *_ROW_FIELDS, *SESSION_METRICS])


def aggregate_sessions(results: Sequence[SessionResult]) -> pd.DataFrame:
    """Session cells: mean and std over sessions (orders × seeds) of each metric.

    Columns: the cell keys, ``sessions``, ``orders``, ``seeds``, ``simulation``, ``shots``,
    and ``<metric>`` / ``<metric>_std`` for generality, locality, retention and mean
    (fractions; NaN where undefined).
    """
    df = session_frame(results)
    if df.empty:
        return df
    out = []
    for key, g in df.groupby(SESSION_CELL_KEYS, sort=True, dropna=False):
        row = dict(zip(SESSION_CELL_KEYS, key, strict=True))
        row.update(
            sessions=len(g),
            orders=g["order"].nunique(),
            seeds=g["seed"].nunique(),
            simulation=bool(g["simulation"].any()),
            shots=g["shots"].iloc[0],
        )
        for m in SESSION_METRICS:
            values = pd.to_numeric(g[m], errors="coerce")
            row[m] = values.mean()
            row[f"{m}_std"] = values.std(ddof=0) if values.notna().sum() > 1 else float("nan")
        out.append(row)
    return pd.DataFrame(out)


def _cell(mean: float, std: float) -> str:
    if pd.isna(mean):
        return "—"
    return pct(float(mean), std=None if pd.isna(std) else float(std))


def render_sessions(cells: pd.DataFrame) -> str:
    """Markdown tables, one per (benchmark, revision, subset, store), rows by method and m."""
    if cells.empty:
        return "_No session results._\n"
    parts: list[str] = []
    if cells["simulation"].any():
        parts.append(SIMULATION_BANNER + "\n")
    table_keys = ["benchmark", "benchmark_version", "benchmark_revision", "subset", "store_key"]
    for key, g in cells.groupby(table_keys, sort=True):
        bench, version, revision, subset, store = key
        sim = " (simulation)" if g["simulation"].any() else ""
        parts.append(
            f"### {bench} subset {subset}: multi-target sessions{sim}\n\n"
            f"Benchmark `{bench}` v{version}, data revision `{revision}`, features "
            f"`{str(store)[:16]}`, protocol `{g['protocol'].iloc[0]}`. m = targets split in one "
            f"session; mean over sessions (orders × seeds) ± std, in percent. Generality is "
            f"each session's mean over its targets; Locality is measured outside all m "
            f"equivalent sets; Retention (sequential) is a target's correct videos at the end "
            f"over those right after its own edit.\n"
        )
        rows = []
        for _, r in g.sort_values(["method", "config_hash", "track", "size"]).iterrows():
            rows.append(
                [
                    r["method"],
                    r["track"],
                    int(r["size"]),
                    _cell(r["generality"], r["generality_std"]),
                    _cell(r["locality"], r["locality_std"]),
                    _cell(r["retention"], r["retention_std"]),
                    _cell(r["mean"], r["mean_std"]),
                    f"{int(r['orders'])} × {int(r['seeds'])}",
                    f"`{str(r['config_hash'])[:12]}`",
                ]
            )
        headers = ["Method", "Track", "m", "Generality ↑", "Locality ↑", "Retention ↑",
                   "Mean ↑", "Orders × seeds", "Config"]  # fmt: skip
        parts.append(tabulate(rows, headers=headers, tablefmt="github") + "\n")
    return "\n".join(parts)


def plot_sessions(cells: pd.DataFrame, folder: Path) -> list[Path]:
    """One PNG per (benchmark, subset): generality, locality and retention against m.

    One line per (method, track, config), with ± std over sessions as error bars.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    written = []
    for (bench, subset), g in cells.groupby(["benchmark", "subset"], sort=True):
        fig = Figure(figsize=(11.0, 3.6), dpi=120)
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, 3, sharex=True)
        lines = g.groupby(["method", "track", "config_hash"], sort=True)
        for i, ((method, track, _), line) in enumerate(lines):
            line = line.sort_values("size")
            style = "-" if track == "sequential" else "--"
            colour = f"C{i % 10}"
            for ax, metric in zip(axes, ("generality", "locality", "retention"), strict=True):
                y = line[metric] * 100
                if y.notna().any():
                    ax.errorbar(line["size"], y, yerr=line[f"{metric}_std"].fillna(0) * 100,
                                linestyle=style, marker="o", capsize=3, color=colour,
                                label=f"{method} ({track})")  # fmt: skip
        sizes = sorted({int(m) for m in g["size"]})
        for ax, title in zip(axes, ("Generality", "Locality", "Retention"), strict=True):
            ax.set_xticks(sizes)
            ax.set_title(f"{title} (%)")
            ax.set_xlabel("m (targets split in one session)")
            ax.grid(alpha=0.3)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(4, max(1, len(labels))),
                   frameon=False, fontsize=8)  # fmt: skip
        sim = " — simulation" if g["simulation"].any() else ""
        fig.suptitle(f"{bench} subset {subset}: multi-target sessions{sim}")
        fig.subplots_adjust(bottom=0.3, top=0.82, wspace=0.28)
        path = Path(folder) / f"sessions-{bench}-{subset}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", metadata={"Software": None})
        written.append(path)
    return written
