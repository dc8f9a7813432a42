"""Markdown leaderboards, as ``splitbench run``, ``grid`` and ``leaderboard show`` print them.

The table itself is :class:`splitbench.results.leaderboard.LeaderboardTable`; this module
keeps the short names the commands and plugins import.
"""

from __future__ import annotations

from collections.abc import Sequence

from splitbench.results.aggregate import Cell
from splitbench.results.leaderboard import (
    SIMULATION_BANNER,
    LeaderboardTable,
    render_per_target,
    sort_cells,
)

__all__ = ["SIMULATION_BANNER", "render_leaderboard", "render_per_target", "sort_cells"]


def render_leaderboard(cells: Sequence[Cell], *, per_target: bool = False) -> str:
    """Render one table per comparability identity, deterministic for the same results.

    Args:
        cells: Aggregated cells.
        per_target: Also render a per-target table for each subset.
    """
    return LeaderboardTable(cells).to_markdown(per_target=per_target)
