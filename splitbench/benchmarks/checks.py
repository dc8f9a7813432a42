"""The checks every benchmark reader applies: one implementation for every on-disk layout.

The official CSV layout and the hub's parquet layout both hand their rows to these
functions, so a label, set or index that one reader refuses is refused by the other with the
same kind of one-line :class:`~splitbench.errors.DataError` naming the file, row and field:

- train/val labels are known base indices, and no video is listed twice in a table or set;
- every set video is in its table (ft in train, equivalent and unrelated in val);
- ft and equivalent labels are fine indices of the target (``N + position``) and their
  videos carry the coarse index in the table; unrelated labels equal the val labels;
- equivalent and unrelated are disjoint, and every val video in neither carries the coarse
  index (those are reported as exclusions, never dropped silently);
- a target has at least one equivalent video (generality is undefined otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from splitbench.benchmarks.model import VideoSet, VideoTable
from splitbench.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True, eq=False)
class Rows:
    """Rows of one file (or one part of a file) as read, before checking.

    Attributes:
        where: How messages name the file (a path, optionally with the part).
        videos: Video ids (Arrow string array).
        labels: Label index per row (int64).
        line: 1-based row number in the file of each row; None means ``1, 2, ...``.
        pos: Row position of each video in its table (-1: absent), once :func:`locate`
            looked them up; None before.
    """

    where: str
    videos: pa.Array
    labels: np.ndarray
    line: np.ndarray | None = None
    pos: np.ndarray | None = None

    def row(self, i: int) -> int:
        """The file's 1-based row number of row ``i``."""
        return int(self.line[i]) if self.line is not None else i + 1


@dataclass(frozen=True, eq=False)
class Table:
    """A checked train or val table: the model's :class:`VideoTable` and its Arrow ids."""

    table: VideoTable
    ids: pa.Array
    file: str


@dataclass(frozen=True, eq=False)
class TargetSets:
    """A split target's checked sets and exclusions."""

    ft: VideoSet
    equivalent: VideoSet
    unrelated: VideoSet
    excluded_val: np.ndarray
    excluded_train: np.ndarray


def rest_rows(n: int, *taken: np.ndarray) -> np.ndarray:
    """Rows ``0..n-1`` in none of ``taken``, in order.

    A target's unrelated set is the rest of val once its equivalent and excluded rows are
    taken (that is how the hub folders and the parsed cache store it).
    """
    keep = np.ones(n, dtype=bool)
    for rows in taken:
        keep[rows] = False
    return np.flatnonzero(keep).astype(np.int64)


def check_range(rows: Rows, lo: int, hi: int, what: str) -> None:
    """Refuse the first label of ``rows`` outside ``[lo, hi)``."""
    labels = rows.labels
    bad = (labels < lo) | (labels >= hi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{rows.where}: row {rows.row(i)}: label index {labels[i]} is unknown; expected "
            f"{what} in [{lo}, {hi})"
        )


def check_unique(rows: Rows) -> None:
    """Refuse the first video listed a second time."""
    import pyarrow.compute as pc

    if rows.pos is not None and (rows.pos >= 0).all():
        first = _first_repeat(rows.pos)  # positions repeat exactly where videos do
    elif pc.count_distinct(rows.videos).as_py() == len(rows.videos):
        first = None
    else:
        import pandas as pd

        videos = rows.videos.to_numpy(zero_copy_only=False)
        first = int(np.flatnonzero(pd.Index(videos).duplicated())[0])
    if first is not None:
        raise DataError(
            f"{rows.where}: row {rows.row(first)}: video {rows.videos[first].as_py()!r} "
            f"appears more than once"
        )


def _first_repeat(values: np.ndarray) -> int | None:
    """Index of the first element equal to an earlier one, or None."""
    order = np.argsort(values, kind="stable")
    repeat = order[1:][values[order][1:] == values[order][:-1]]
    return int(repeat.min()) if len(repeat) else None


def locate(table: Table, parts: Sequence[Rows]) -> list[Rows]:
    """Look every part's videos up in ``table`` with one hash table (sets' ``pos``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not parts:
        return []
    videos = pa.concat_arrays([p.videos for p in parts])
    pos = pc.index_in(videos, value_set=table.ids).fill_null(-1).to_numpy().astype(np.int64)
    ends = np.cumsum([len(p.videos) for p in parts])
    return [replace(p, pos=x) for p, x in zip(parts, np.split(pos, ends[:-1]), strict=True)]


def check_table(name: str, file: str, rows: Rows, n: int) -> Table:
    """Check a train or val table against a label space of ``n`` labels."""
    check_range(rows, 0, n, "a base label index")
    check_unique(rows)
    videos = rows.videos.to_numpy(zero_copy_only=False)
    return Table(VideoTable(name, videos, rows.labels), rows.videos, file)


def positions(table: Table, rows: Rows) -> np.ndarray:
    """Row positions of ``rows``' videos in ``table`` (refusing videos it lacks)."""
    pos = rows.pos if rows.pos is not None else locate(table, [rows])[0].pos
    assert pos is not None
    if (pos < 0).any():
        i = int(np.flatnonzero(pos < 0)[0])
        raise DataError(
            f"{rows.where}: row {rows.row(i)}: video {rows.videos[i].as_py()!r} is not in "
            f"{table.file}"
        )
    return pos


def target_sets(
    where: str,
    coarse: int,
    k: int,
    n: int,
    train: Table,
    val: Table,
    ft: Rows,
    equivalent: Rows,
    unrelated: Rows,
) -> TargetSets:
    """Check one target's three sets (see the module docstring) and find its exclusions.

    Args:
        where: How messages name the target (its folder, or file and target).
        coarse: The target's coarse index.
        k: Its number of subcategories.
        n: The number of base labels.
        train: The subset's train table.
        val: The subset's val table.
        ft: Train rows with fine labels (each set may come from :func:`locate` already).
        equivalent: Val rows with fine labels.
        unrelated: Val rows with base labels.
    """
    sets: dict[str, VideoSet] = {}
    for name, rows, table in (
        ("ft", ft, train),
        ("equivalent", equivalent, val),
        ("unrelated", unrelated, val),
    ):
        if rows.pos is None:
            rows = locate(table, [rows])[0]
        check_unique(rows)
        pos = positions(table, rows)
        labs = rows.labels
        if name == "unrelated":
            check_range(rows, 0, n, "a base label index")
            mism = labs != table.table.labels[pos]
            if mism.any():
                i = int(np.flatnonzero(mism)[0])
                raise DataError(
                    f"{rows.where}: row {rows.row(i)}: label {labs[i]} differs from "
                    f"{table.file} ({table.table.labels[pos[i]]}) for {rows.videos[i].as_py()!r}"
                )
        else:
            check_range(rows, n, n + k, f"a fine index of this target ({n}..{n + k - 1})")
            notc = table.table.labels[pos] != coarse
            if notc.any():
                i = int(np.flatnonzero(notc)[0])
                raise DataError(
                    f"{rows.where}: row {rows.row(i)}: {rows.videos[i].as_py()!r} has label "
                    f"{table.table.labels[pos[i]]} in {table.file}, expected coarse index {coarse}"
                )
        sets[name] = VideoSet(name, table.table.name, pos, labs)
    in_eq = np.zeros(len(val.ids), dtype=bool)
    in_eq[sets["equivalent"].rows] = True
    in_un = np.zeros(len(val.ids), dtype=bool)
    in_un[sets["unrelated"].rows] = True
    videos = val.table.videos
    if (in_eq & in_un).any():
        v = videos[int(np.flatnonzero(in_eq & in_un)[0])]
        raise DataError(f"{where}: video {v!r} is in both equivalent_set and unrelated_set")
    neither = np.flatnonzero(~(in_eq | in_un))
    val_labels = val.table.labels
    wrong = neither[val_labels[neither] != coarse]
    if len(wrong):
        raise DataError(
            f"{where}: val video {videos[int(wrong[0])]!r} (label {val_labels[wrong[0]]}) is in "
            f"neither equivalent_set nor unrelated_set"
        )
    if not len(sets["equivalent"]):
        raise DataError(
            f"{equivalent.where}: no videos; target {coarse} needs at least one equivalent (val) "
            f"video with a fine label, or its generality is undefined"
        )
    in_ft = np.zeros(len(train.ids), dtype=bool)
    in_ft[sets["ft"].rows] = True
    excluded_train = np.flatnonzero((train.table.labels == coarse) & ~in_ft)
    return TargetSets(
        ft=sets["ft"],
        equivalent=sets["equivalent"],
        unrelated=sets["unrelated"],
        excluded_val=neither.astype(np.int64),
        excluded_train=excluded_train.astype(np.int64),
    )
