"""The parsed-benchmark cache: a validated subset of an official-layout folder, on disk.

One ``.npz`` file per subset (plain arrays, loaded with ``allow_pickle=False``) under
``<cache>/benchmarks/``, named by a hash of the data revision (every annotation file's
bytes), the reader version and the benchmark's name. Only a subset that passed every check
is stored, so a hit needs no re-validation; a file that cannot be read back is a miss (the
subset is parsed again and the file replaced). Modifier tables and split types are not
cached: they are applied to the parsed subset on every read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splitbench.atomic import atomic_path
from splitbench.benchmarks.checks import TargetSets, rest_rows
from splitbench.benchmarks.model import VideoSet, VideoTable
from splitbench.core.hashing import json_hash
from splitbench.paths import cache_dir

#: Bump on any change to what the official reader accepts or produces.
READER_VERSION = "2"


@dataclass(frozen=True, eq=False)
class ParsedSubset:
    """What parsing one subset's files yields, before modifiers are attached.

    Attributes:
        labels: Base label texts in index order.
        train: The train table. val: The val table.
        sets: Each split target's checked sets, in partition order.
        findings: Anomalies found while reading.
    """

    labels: tuple[str, ...]
    train: VideoTable
    val: VideoTable
    sets: tuple[TargetSets, ...]
    findings: tuple[str, ...]


def cache_key(revision: str, benchmark: str, display_name: str, subset: str) -> str:
    """The cache key of one subset of the files with data revision ``revision``."""
    return json_hash(["official", READER_VERSION, revision, benchmark, display_name, subset], 32)


def _path(key: str) -> Path:
    return cache_dir() / "benchmarks" / f"{key}.npz"


def is_marked(key: str) -> bool:
    """Whether :func:`mark` recorded ``key`` (a check that passed on these files)."""
    return _path(key).with_suffix(".ok").is_file()


def mark(key: str) -> None:
    """Record that the check named by ``key`` passed (best effort, like :func:`store`)."""
    try:
        with atomic_path(_path(key).with_suffix(".ok")) as tmp:
            tmp.write_text("ok\n")
    except OSError:
        pass


def store(key: str, parsed: ParsedSubset) -> None:
    """Write ``parsed`` under ``key`` (atomically; a failure to write is not an error)."""
    arrays: dict[str, np.ndarray] = {
        "labels": np.array(parsed.labels, dtype=str),
        "findings": np.array(parsed.findings, dtype=str),
    }
    for t in (parsed.train, parsed.val):
        arrays[f"{t.name}_videos"] = t.videos.astype(str)
        arrays[f"{t.name}_labels"] = t.labels
    for i, ts in enumerate(parsed.sets):
        for vs in (ts.ft, ts.equivalent):
            arrays[f"t{i}_{vs.name}_rows"] = vs.rows
            arrays[f"t{i}_{vs.name}_labels"] = vs.labels
        # unrelated labels are the val labels (checked); its rows are stored only when
        # they are not simply the rest of val in val order (most of the file otherwise)
        rest = rest_rows(len(parsed.val), ts.equivalent.rows, ts.excluded_val)
        if not np.array_equal(ts.unrelated.rows, rest):
            arrays[f"t{i}_unrelated_rows"] = ts.unrelated.rows
        arrays[f"t{i}_excluded_val"] = ts.excluded_val
        arrays[f"t{i}_excluded_train"] = ts.excluded_train
    try:
        with atomic_path(_path(key)) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]  # (numpy stubs type **kwds as bool)
    except OSError:
        pass  # a read-only or full cache only costs the next run a parse


def load(key: str) -> ParsedSubset | None:
    """The subset stored under ``key``, or None (absent or unreadable)."""
    path = _path(key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            a = {name: z[name] for name in z.files}
        tables = {
            t: VideoTable(t, a[f"{t}_videos"].astype(object), a[f"{t}_labels"])
            for t in ("train", "val")
        }
        val_labels = tables["val"].labels
        sets = []
        i = 0
        while f"t{i}_ft_rows" in a:
            eq_rows, excluded = a[f"t{i}_equivalent_rows"], a[f"t{i}_excluded_val"]
            un = a.get(f"t{i}_unrelated_rows")
            if un is None:
                un = rest_rows(len(tables["val"]), eq_rows, excluded)
            sets.append(
                TargetSets(
                    ft=VideoSet("ft", "train", a[f"t{i}_ft_rows"], a[f"t{i}_ft_labels"]),
                    equivalent=VideoSet(
                        "equivalent",
                        "val",
                        eq_rows,
                        a[f"t{i}_equivalent_labels"],
                    ),
                    unrelated=VideoSet("unrelated", "val", un, val_labels[un]),
                    excluded_val=excluded,
                    excluded_train=a[f"t{i}_excluded_train"],
                )
            )
            i += 1
        return ParsedSubset(
            labels=tuple(str(x) for x in a["labels"]),
            train=tables["train"],
            val=tables["val"],
            sets=tuple(sets),
            findings=tuple(str(x) for x in a["findings"]),
        )
    except (OSError, ValueError, KeyError):
        return None
