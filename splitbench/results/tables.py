"""Tables with two faces: formatted for people (markdown, LaTeX) and tidy for machines.

Every analysis command builds a list of :class:`Table` objects and prints them in one of
:data:`FORMATS`:

* ``md`` — GitHub markdown via tabulate (the leaderboard's own format);
* ``latex`` — the same formatted table as a booktabs tabular;
* ``csv`` — the tidy data of all tables, one CSV with a ``table`` column;
* ``json`` — ``{"tables": [{"title", "note", "rows": [...]}]}`` with the tidy data.

Numbers in the tidy data are fractions (not percent), rounded to :data:`DIGITS` decimals so
the output is stable across machines for the same results.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tabulate import tabulate

from splitbench.errors import ConfigError

if TYPE_CHECKING:  # imported where a frame is built: the run's markdown needs none
    import pandas as pd

FORMATS = ("md", "csv", "json", "latex")
DIGITS = 6


@dataclass
class Table:
    """One table.

    Attributes:
        title: Heading.
        display: Formatted cells (strings), columns in display order.
        data: Tidy machine-readable data (fractions, ids); ``display`` when omitted.
        note: One paragraph printed under the heading in md/latex and kept in json.
    """

    title: str
    display: pd.DataFrame
    data: pd.DataFrame | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tidy(self) -> pd.DataFrame:
        """The machine-readable data."""
        return self.display if self.data is None else self.data


def pct(x: float | None, digits: int = 1, *, std: float | None = None, nan: str = "—") -> str:
    """A fraction as a percentage string, with ``± std`` (also in percent) when given.

    Args:
        x: The fraction; None prints ``—`` (and no std).
        digits: Decimals of the percentages.
        std: Standard deviation to append.
        nan: What a NaN ``x`` prints (``—`` by default; the plain leaderboard prints
            ``nan``).
    """
    if x is None:
        return "—"
    s = nan if isinstance(x, float) and math.isnan(x) else f"{100 * x:.{digits}f}"
    return s if std is None else f"{s} ± {100 * std:.{digits}f}"


def pct_ci(lo: float | None, hi: float | None, digits: int = 1) -> str:
    """``[lo, hi]`` in percent; ``—`` when missing."""
    if lo is None or hi is None or any(isinstance(v, float) and math.isnan(v) for v in (lo, hi)):
        return "—"
    return f"[{100 * lo:.{digits}f}, {100 * hi:.{digits}f}]"


def markdown(df: pd.DataFrame) -> str:
    """GitHub markdown of a formatted frame (no number parsing, so strings stay as given)."""
    return markdown_rows(df.to_numpy().tolist(), list(df.columns))


def markdown_rows(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    """:func:`markdown` of formatted rows under ``headers``, without building a frame."""
    text: str = tabulate(
        [list(r) for r in rows], headers=list(headers), tablefmt="github", disable_numparse=True
    )
    return text


def render(tables: Sequence[Table], fmt: str) -> str:
    """Render tables in ``fmt`` (one of :data:`FORMATS`).

    Raises:
        ConfigError: for an unknown format.
    """
    if fmt == "md":
        return "\n".join(_md(t) for t in tables)
    if fmt == "latex":
        return "\n".join(_latex(t) for t in tables)
    if fmt == "csv":
        import pandas as pd

        frames = [t.tidy.assign(table=t.title) for t in tables if not t.tidy.empty]
        if not frames:
            return ""
        both = pd.concat(frames, ignore_index=True)
        both = both[["table", *[c for c in both.columns if c != "table"]]]
        return str(both.map(_csv_cell).to_csv(index=False, lineterminator="\n"))
    if fmt == "json":
        payload = {
            "tables": [
                {
                    "title": t.title,
                    "note": t.note,
                    **t.extra,
                    "rows": [_clean(r) for r in t.tidy.to_dict(orient="records")],
                }
                for t in tables
            ]
        }
        return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")


def _md(t: Table) -> str:
    parts = [f"### {t.title}\n"]
    if t.note:
        parts.append(t.note + "\n")
    parts.append((markdown(t.display) if not t.display.empty else "_No rows._") + "\n")
    return "\n".join(parts)


def _latex(t: Table) -> str:
    body = (
        tabulate(
            t.display.to_numpy().tolist(),
            headers=list(t.display.columns),
            tablefmt="latex_booktabs",
            disable_numparse=True,
        )
        if not t.display.empty
        else "% no rows"
    )
    note = f"% {t.note}\n" if t.note else ""
    return f"% {t.title}\n{note}{body}\n"


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, DIGITS)
    if isinstance(value, int):
        return value
    return str(value)


def _csv_cell(value: Any) -> Any:
    value = _clean(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value
