"""Rules of the official layout beyond the sets: group scheme, labels.json, A↔B indices.

The set checks shared with every other reader are in :mod:`splitbench.benchmarks.checks`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from splitbench.benchmarks import checks
from splitbench.benchmarks.model import Subset, VideoTable
from splitbench.errors import DataError


def parse_scheme(
    raw: object, path: Path
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """Group scheme and A/B partition from ``group_scheme.json``, checked."""
    if not isinstance(raw, dict) or not isinstance(raw.get("group_scheme"), dict):
        raise DataError(f"{path}: expected an object with a 'group_scheme' mapping")
    scheme: dict[str, tuple[str, ...]] = {}
    for group, members in raw["group_scheme"].items():
        if (
            not isinstance(members, list)
            or not members
            or not all(isinstance(m, str) for m in members)
        ):
            raise DataError(f"{path}: group {group!r} must map to a non-empty list of labels")
        scheme[group] = tuple(members)
    partition: dict[str, tuple[str, ...]] = {}
    for key in ("A", "B"):
        groups = raw.get(key)
        if not isinstance(groups, list):
            raise DataError(f"{path}: expected a list of coarse groups under {key!r}")
        for g in groups:
            if g not in scheme:
                raise DataError(f"{path}: subset {key} lists {g!r}, which is not a group")
            if len(scheme[g]) < 2:
                raise DataError(f"{path}: subset {key} lists single-member group {g!r}")
        partition[key] = tuple(groups)
    both = set(partition["A"]) & set(partition["B"])
    if both:
        raise DataError(f"{path}: group {sorted(both)[0]!r} is in both subset A and B")
    fine = [m for members in scheme.values() for m in members]
    dup = {m for m in fine if fine.count(m) > 1}
    if dup:
        raise DataError(f"{path}: fine label {sorted(dup)[0]!r} belongs to several groups")
    return scheme, partition


def label_texts(raw: object, path: Path) -> tuple[str, ...]:
    """Label texts in index order from ``labels.json`` (text → index)."""
    what = "expected an object mapping label text to integer index"
    if not isinstance(raw, dict):
        raise DataError(f"{path}: {what}")
    for text, idx in raw.items():
        # JSON true/false are ints to Python: refuse them rather than read index 1/0
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise DataError(f"{path}: label {text!r} has index {json.dumps(idx)}; {what}")
    n = len(raw)
    if sorted(raw.values()) != list(range(n)):
        raise DataError(f"{path}: indices must be exactly 0..{n - 1}, each once")
    labels = [""] * n
    for text, idx in raw.items():
        labels[idx] = text
    return tuple(labels)


def cross_check(subsets: Mapping[str, Subset]) -> None:
    """Check fine indices against the other subset, where the same labels are base classes.

    In subset A, an equivalent video of target c with fine index N + i must carry, in subset
    B's val.csv, the index that B's labels.json gives to ``group_scheme[c][i]``.
    """
    for s in subsets.values():
        other = next(o for o in subsets.values() if o is not s)
        index_of = {text: i for i, text in enumerate(other.labels)}
        todo = [
            (t, vs, table, otable)
            for t in s.targets
            for vs, table, otable in (
                (t.equivalent, s.val, other.val),
                (t.ft, s.train, other.train),
            )
            if len(vs)
        ]
        found = _lookup_all([(table.videos[vs.rows], otable) for _, vs, table, otable in todo])
        for (t, vs, table, otable), orows in zip(todo, found, strict=True):
            absent = [f for f in t.fine_labels if f not in index_of]
            if absent:
                raise DataError(
                    f"{s.benchmark}/{s.name}/{t.name}: fine label {absent[0]!r} is not a label "
                    f"of subset {other.name}"
                )
            expected = np.array([index_of[t.fine_labels[j]] for j in range(t.k)])
            want = expected[vs.labels - t.fine_indices[0]]
            if (orows < 0).any():
                v = table.videos[vs.rows[int(np.flatnonzero(orows < 0)[0])]]
                raise DataError(
                    f"{s.benchmark}/{other.name}/{otable.name}.csv lacks video {v!r} "
                    f"listed for target {t.name!r} of subset {s.name}"
                )
            mism = otable.labels[orows] != want
            if mism.any():
                i = int(np.flatnonzero(mism)[0])
                v = table.videos[vs.rows[i]]
                raise DataError(
                    f"{s.benchmark}/{s.name}/{t.name}/{vs.name}: video {v!r} has fine index "
                    f"{vs.labels[i]}, but subset {other.name} labels it "
                    f"{other.labels[otable.labels[orows[i]]]!r}, not "
                    f"{t.fine_labels[vs.labels[i] - t.fine_indices[0]]!r}"
                )


def _lookup_all(queries: Sequence[tuple[np.ndarray, VideoTable]]) -> list[np.ndarray]:
    """Row positions (-1: absent) of each query's videos in its table, one lookup per table."""
    import pyarrow as pa

    out: list[np.ndarray | None] = [None] * len(queries)
    for table in {id(t): t for _, t in queries}.values():
        mine = [i for i, (_, t) in enumerate(queries) if t is table]
        ids = pa.array(table.videos, pa.string())
        target = checks.Table(table, ids, table.name)
        parts = [checks.Rows("", pa.array(queries[i][0], pa.string()), np.zeros(0)) for i in mine]
        for i, rows in zip(mine, checks.locate(target, parts), strict=True):
            out[i] = rows.pos
    return [x if x is not None else np.zeros(0, np.int64) for x in out]
