"""Results check themselves: metrics agree with counts, and one result per unit.

A result's metrics are recomputed from its stored counts with the scorer's own rules
(:class:`splitbench.core.counts.Counts`), so a hand-edited or damaged number is caught
on load, with or without per-video logs. A folder holding two results for one unit (same
comparability identity, target and seed — e.g. two copies of a run merged into one folder)
is refused instead of averaged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from splitbench.errors import DataError
from splitbench.results.schema import UnitResult

_TOL = 1e-9


def check_result(result: UnitResult, where: Path | str) -> None:
    """Check that ``result``'s counts are consistent and its metrics follow from them.

    Raises:
        DataError: naming the file and the first disagreement.
    """
    c = result.counts
    for name, value in c:
        if value < 0:
            raise DataError(f"{where}: counts.{name} is {value}; counts are never negative")
    for part, total in (
        ("equivalent_correct", "equivalent_total"),
        ("unrelated_correct_edited", "unrelated_total"),
        ("unrelated_correct_original", "unrelated_total"),
        ("unrelated_changed", "unrelated_total"),
    ):
        if getattr(c, part) > getattr(c, total):
            raise DataError(
                f"{where}: counts.{part} = {getattr(c, part)} exceeds counts.{total} = "
                f"{getattr(c, total)}"
            )
    want = c  # the counts model carries the metric rules (splitbench.core.counts)
    for name in ("generality", "locality", "mean"):
        stored: float | None = getattr(result.metrics, name)
        expected: float | None = getattr(want, name)
        if stored is None and expected is None:
            continue
        if (
            stored is None
            or expected is None
            or not math.isfinite(stored)
            or not math.isclose(stored, expected, rel_tol=_TOL, abs_tol=_TOL)
        ):
            raise DataError(
                f"{where}: metrics.{name} is {stored!r} but its counts give {expected!r} "
                f"(edited or damaged result); restore the file or delete it and rerun"
            )


def unit_identity(result: UnitResult) -> tuple[object, ...]:
    """What makes two results the same unit: the cell, the target and the seed."""
    return (result.cell_key, result.unit.target_key, result.unit.seed)


def check_unique(paths: Sequence[Path], results: Sequence[UnitResult]) -> None:
    """Refuse two results for the same unit.

    Raises:
        DataError: naming both files.
    """
    seen: dict[tuple[object, ...], Path] = {}
    for path, result in zip(paths, results, strict=True):
        ident = unit_identity(result)
        first = seen.setdefault(ident, path)
        if first != path:
            raise DataError(
                f"{path}: a second result for the unit of {first} ({result.unit.method} "
                f"{result.unit.subset} target {result.unit.target_index} seed "
                f"{result.unit.seed}); two results for one unit are never averaged — keep one"
            )
