"""The one leaderboard table model: rows of aggregated cells, rendered every way it is shown.

``splitbench run``, ``grid`` and ``leaderboard show`` print it as markdown; ``--format
csv|json|latex`` writes it as a :class:`~splitbench.results.tables.Table`; the committed
board (:mod:`splitbench.results.board`) renders a per-subset view with reproduce commands.
Every view formats a row with the same functions, under the same note, so the numbers and
their wording cannot drift apart. A table never mixes results that are not comparable: it
is split by :data:`splitbench.core.identity.COMPARABLE_FIELDS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from splitbench.core.identity import COMPARABLE_FIELDS
from splitbench.results.aggregate import Cell
from splitbench.results.labels import pair_labels
from splitbench.results.tables import Table, markdown_rows, pct

if TYPE_CHECKING:  # frames only for the csv/json/latex views; markdown needs none
    import pandas as pd

METRIC_HEADERS = {
    "generality": "Generality ↑",
    "locality": "Locality ↑",
    "mean": "Mean ↑",
    "changed": "Changed ↓",
}
NOTE = (
    "Mean over targets, then over seeds (± std over seeds), in percent; Mean = (G + L) / 2; "
    "Changed = percent of unrelated videos whose prediction the edit changed (EasyEdit's "
    "locality is 100 − Changed)."
)
SIMULATION_BANNER = (
    "> **Simulation.** These numbers come from simulated features (the synthetic benchmark, "
    "or a simulated feature store), not from videos. They are not SSv2-Split or "
    "FineGym-Split results."
)
SIM = " (simulation)"

#: Columns of each view, in order.
MARKDOWN_COLUMNS = ("Method", "Shots", *METRIC_HEADERS.values(), "Targets × seeds", "Config")
TABLE_COLUMNS = ("Benchmark", "Subset", "Method", "Shots", "Config", *METRIC_HEADERS.values(),
                 "Targets × seeds")  # fmt: skip
BOARD_COLUMNS = (*MARKDOWN_COLUMNS, "Command")


def sort_cells(cells: Sequence[Cell]) -> list[Cell]:
    """By benchmark and subset, then complete before incomplete, best mean first, then name."""
    return sorted(
        cells,
        key=lambda c: (
            str(c.key["benchmark"]),
            str(c.key["subset"]),
            not c.complete,
            -(c.mean if c.mean is not None else -1.0),
            c.method,
            c.config_hash,
        ),
    )


@dataclass(frozen=True)
class Row:
    """One row: a cell, its display label and (on the committed board) its command."""

    cell: Cell
    label: str
    command: str = ""

    def display(self, columns: Sequence[str], *, code: bool) -> dict[str, str]:
        """Formatted values of ``columns`` (``code``: hashes and commands in backticks)."""
        c = self.cell
        tick = "`" if code else ""
        values = {
            "Benchmark": f"{c.key['benchmark']}{SIM if c.simulation else ''}",
            "Subset": str(c.key["subset"]),
            "Method": self.label,
            "Shots": "—" if c.shots is None else str(c.shots),
            "Config": f"{tick}{c.config_hash}{tick}",
            **{
                h: pct(getattr(c, m), std=getattr(c, f"{m}_std")) for m, h in METRIC_HEADERS.items()
            },
            "Targets × seeds": c.coverage + ("" if c.complete else " (incomplete)"),
            "Command": f"{tick}{self.command}{tick}",
        }
        return {col: values[col] for col in columns}

    def data(self) -> dict[str, object]:
        """Tidy values: the cell identity, fractions, seeds and notes."""
        c = self.cell
        return {
            **dict(c.key),
            "label": self.label,
            "shots": c.shots,
            "simulation": c.simulation,
            "config": c.config,
            "n_targets": c.n_targets,
            "seeds": c.seeds,
            "complete": c.complete,
            **{m: getattr(c, m) for m in METRIC_HEADERS},
            **{f"{m}_std": getattr(c, f"{m}_std") for m in METRIC_HEADERS},
            "notes": c.notes,
        }


class LeaderboardTable:
    """Aggregated cells as leaderboard rows, best first within each subset.

    Args:
        cells: The cells.
        labels: ``(method, config_hash)`` → display label (default: the method name).
        command: The command that reproduces a cell's row (committed board only).
    """

    def __init__(
        self,
        cells: Sequence[Cell],
        labels: Mapping[tuple[str, str], str] | None = None,
        command: Callable[[Cell], str] | None = None,
    ) -> None:
        names = labels or {}
        self.rows = [
            Row(c, names.get((c.method, c.config_hash), c.method), command(c) if command else "")
            for c in sort_cells(cells)
        ]

    @property
    def simulation(self) -> bool:
        """Whether any row's numbers are simulated."""
        return any(r.cell.simulation for r in self.rows)

    def frame(
        self, columns: Sequence[str] = MARKDOWN_COLUMNS, *, code: bool = True
    ) -> pd.DataFrame:
        """The rows as a frame of formatted strings."""
        import pandas as pd

        return pd.DataFrame(
            [r.display(columns, code=code) for r in self.rows], columns=list(columns)
        )

    def groups(self) -> list[tuple[dict[str, str], LeaderboardTable]]:
        """One sub-table per comparability identity (never averaged or ranked together)."""

        def key(r: Row) -> tuple[str, ...]:
            return tuple(str(r.cell.key[k]) for k in COMPARABLE_FIELDS)

        out = []
        for k in sorted({key(r) for r in self.rows}):
            sub = LeaderboardTable([])
            sub.rows = [r for r in self.rows if key(r) == k]
            out.append((dict(zip(COMPARABLE_FIELDS, k, strict=True)), sub))
        return out

    def to_table(self) -> Table:
        """All rows in one :class:`Table` (subset as a column), for csv, json and latex."""
        import pandas as pd

        return Table(
            "Leaderboard",
            self.frame(TABLE_COLUMNS, code=False),
            pd.DataFrame([r.data() for r in self.rows]),
            note=NOTE,
        )

    def to_markdown(self, *, per_target: bool = False) -> str:
        """One markdown table per comparability identity, with its provenance line."""
        if not self.rows:
            return "_No results._\n"
        parts: list[str] = [SIMULATION_BANNER + "\n"] if self.simulation else []
        for ident, sub in self.groups():
            sim = SIM if sub.simulation else ""
            parts.append(f"### {ident['benchmark']} — subset {ident['subset']}{sim}\n")
            parts.append(
                f"benchmark v{ident['benchmark_version']}, data `{ident['benchmark_revision']}`, "
                f"features `{ident['store_key']}`, protocol `{ident['protocol']}`. {NOTE}\n"
            )
            rows = [list(r.display(MARKDOWN_COLUMNS, code=True).values()) for r in sub.rows]
            parts.append(markdown_rows(rows, MARKDOWN_COLUMNS) + "\n")
            if per_target:
                parts.append(render_per_target([r.cell for r in sub.rows]))
        return "\n".join(parts)


def render_per_target(cells: Sequence[Cell]) -> str:
    """Per-target table: one row per target, ``G / L`` (percent) per method."""
    labels = pair_labels((c.method, c.config_hash) for c in cells)
    names = [labels[(c.method, c.config_hash)] for c in cells]
    table: dict[tuple[int, str, int], list[str]] = {}
    for i, c in enumerate(cells):
        for t in c.targets:
            table.setdefault((t.target_index, t.target, t.k), ["—"] * len(cells))[i] = (
                f"{pct(t.generality)} / {pct(t.locality)}"
            )
    rows = [
        [str(idx), name if len(name) <= 60 else name[:57] + "...", str(k), *vals]
        for (idx, name, k), vals in sorted(table.items())
    ]
    return markdown_rows(rows, ["Index", "Target", "k", *[f"{n} (G / L)" for n in names]]) + "\n"
