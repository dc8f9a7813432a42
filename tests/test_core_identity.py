"""One comparability identity: change any identity field and two results never share a
cell, a leaderboard table, a comparison or a resume slot."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_core_results import make_result

from splitbench.core.identity import CELL_FIELDS, COMPARABLE_FIELDS
from splitbench.errors import ConfigError, DataError
from splitbench.protocol.plan import is_done
from splitbench.results.aggregate import aggregate
from splitbench.results.compare import IncomparableError, compare, select
from splitbench.results.frame import frame_of
from splitbench.results.io import write_result
from splitbench.results.leaderboard import LeaderboardTable
from splitbench.results.schema import UnitResult


def _with(r: UnitResult, field: str, value: str) -> UnitResult:
    """``r`` with one identity field changed, wherever the schema keeps it."""
    if field == "protocol":
        return r.model_copy(update={"protocol": value})
    if field == "store_key":
        return r.model_copy(update={"features": r.features.model_copy(update={field: value})})
    return r.model_copy(update={"unit": r.unit.model_copy(update={field: value})})


def _pair(field: str) -> tuple[list[UnitResult], list[UnitResult]]:
    """Two targets of one cell, and the same two with ``field`` changed."""
    base = [make_result("alpha", t, 0, (5 + t, 10), (90, 100, 120)) for t in (1, 2)]
    return base, [_with(r, field, f"{r.cell_key.as_dict()[field]}-other") for r in base]


def test_every_result_field_of_the_identity_is_covered() -> None:
    r = make_result("alpha", 1, 0, (5, 10), (90, 100, 120))
    assert tuple(r.cell_key.as_dict()) == CELL_FIELDS
    assert tuple(r.comparable.as_dict()) == COMPARABLE_FIELDS


@pytest.mark.parametrize("field", CELL_FIELDS)
def test_changed_field_never_shares_a_cell(field: str) -> None:
    a, b = _pair(field)
    cells = aggregate([*a, *b])
    assert len(cells) == 2
    assert all(c.complete for c in cells)  # each side alone is a complete cell


@pytest.mark.parametrize("field", COMPARABLE_FIELDS)
def test_changed_field_never_shares_a_leaderboard_table(field: str) -> None:
    a, b = _pair(field)
    groups = LeaderboardTable(aggregate([*a, *b])).groups()
    assert len(groups) == 2
    assert {g[field] for g, _ in groups} == {
        str(getattr(x.comparable, field)) for x in (a[0], b[0])
    }


@pytest.mark.parametrize("field", COMPARABLE_FIELDS)
def test_changed_field_never_shares_a_comparison(field: str, tmp_path: Path) -> None:
    a, b = _pair(field)
    sides = []
    for name, results in (("A", a), ("B", b)):
        paths = [tmp_path / name / f"{i}.json" for i in range(len(results))]
        sides.append(select(frame_of(paths, results), tmp_path / name, name, None))
    if field == "subset":  # different subsets: nothing pairs
        with pytest.raises(ConfigError, match="no split target in common"):
            compare(sides[0], sides[1], replicates=10)
    else:
        with pytest.raises(IncomparableError, match=f"cannot compare: {field} differs"):
            compare(sides[0], sides[1], replicates=10)


def test_the_same_identity_compares(tmp_path: Path) -> None:
    a, _ = _pair("method")
    b = [r.model_copy(update={"unit": r.unit.model_copy(update={"method": "beta"})}) for r in a]
    sides = [
        select(frame_of([tmp_path / f"{n}{i}" for i in range(2)], rs), tmp_path, n, None)
        for n, rs in (("A", a), ("B", b))
    ]
    assert len(compare(sides[0], sides[1], replicates=10).per_target) == 2


def test_different_stores_compare_only_when_asked(tmp_path: Path) -> None:
    a, b = _pair("store_key")
    sides = [
        select(frame_of([tmp_path / f"{n}{i}" for i in range(2)], rs), tmp_path, n, None)
        for n, rs in (("A", a), ("B", b))
    ]
    with pytest.raises(IncomparableError, match="--across-stores"):
        compare(sides[0], sides[1], replicates=10)
    cmp = compare(sides[0], sides[1], replicates=10, across_stores=True)
    assert any("store_key differs" in n for n in cmp.notes)


@pytest.mark.parametrize("field", CELL_FIELDS)
def test_changed_field_never_shares_a_resume_slot(field: str, tmp_path: Path) -> None:
    a, b = _pair(field)
    path = tmp_path / "seed0.json"
    write_result(path, a[0])
    assert is_done(path, a[0].cell_key, need_samples=False)
    with pytest.raises(DataError, match=field):
        is_done(path, b[0].cell_key, need_samples=False)
