"""Recover a benchmark's builder inputs from its official files.

The official folder never lists the original fine labels of its videos, but together its
files determine them. Each base label of a subset *stands for* a set of fine labels (a
collapsed group for all its members, any other label for itself, and a text shared by both
for their union); a video's fine label is the one label in the intersection of what its base
labels in A and B stand for, narrowed further by the fine index an ``ft_set.csv`` or
``equivalent_set.csv`` gives it. A label order is recovered by merging the two
``labels.json`` orders, since each lists base labels in the order of their place (see
:mod:`.construct`). The files do not pin the order down fully (a label whose base labels are
already listed in both subsets may go anywhere later), so this is *one* order that gives both
files, not necessarily the dataset's own; for SSv2-Split, the dataset's own order (SSv2's
labels sorted by text) gives them too, which a test checks.

Nothing here knows which benchmark it reads: the same code recovers SSv2-Split and
FineGym-Split (and any folder the builder wrote).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from splitbench.benchmarks.builder.inputs import SUBSETS, BuildInputs, FineLabel, VideoList
from splitbench.benchmarks.builder.readers import read_scheme
from splitbench.benchmarks.official import read_csv
from splitbench.errors import DataError

SETS = (("ft_set.csv", "train"), ("equivalent_set.csv", "val"))


def _labels(path: Path) -> list[str]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file is missing") from None
    if not isinstance(raw, dict) or sorted(raw.values()) != list(range(len(raw))):
        raise DataError(f"{path}: expected an object mapping text to indices 0..N-1")
    out = [""] * len(raw)
    for text, i in raw.items():
        out[i] = text
    return out


def stands_for(
    labels: Sequence[str], scheme: Mapping[str, Sequence[str]], collapsed: Sequence[str]
) -> list[frozenset[str]]:
    """What each base label of a subset stands for, as a set of fine-label texts."""
    fine = {m for members in scheme.values() for m in members}
    groups = set(collapsed)
    return [
        frozenset((set(scheme[t]) if t in groups else set()) | ({t} if t in fine else set()))
        for t in labels
    ]


def merge_order(
    orders: Mapping[str, Sequence[str]],
    meaning: Mapping[str, Sequence[frozenset[str]]],
    fine: Sequence[str],
) -> list[str]:
    """A fine-label order whose first occurrences give every subset's ``labels.json`` order.

    Greedy: take a fine label whose base label is already listed in every subset, else one
    that is the next expected base label in every subset where it is new. Ties go to
    group-scheme order, so the result is deterministic.

    Raises:
        DataError: when no order fits both files.
    """
    base_of: dict[str, dict[str, int]] = {s: {} for s in orders}
    for s, sets in meaning.items():
        for i, members in enumerate(sets):
            text = orders[s][i]
            for m in members:
                # A text that is also a label kept fine is placed by that label alone (see
                # construct.base_labels); the group members it stands for are unconstrained.
                base_of[s][m] = i if text not in members or m == text else -1
    nxt = {s: 0 for s in orders}
    left = list(fine)
    out: list[str] = []
    while left:
        pick = None
        for rank in (0, 1):
            for f in left:
                states = [base_of[s][f] - nxt[s] for s in orders]
                if all(d < 0 for d in states) if rank == 0 else all(d <= 0 for d in states):
                    pick = f
                    break
            if pick is not None:
                break
        if pick is None:
            raise DataError(
                "no original label order fits both labels.json files (next expected: "
                + ", ".join(f"{s} {orders[s][nxt[s]]!r}" for s in orders if nxt[s] < len(orders[s]))
                + ")"
            )
        for s in orders:
            if base_of[s][pick] == nxt[s]:
                nxt[s] += 1
        left.remove(pick)
        out.append(pick)
    return out


def recover_inputs(folder: Path) -> BuildInputs:
    """The builder inputs that the official ``folder`` was built from (as far as it shows).

    Raises:
        DataError: when a video's fine label cannot be determined uniquely, or the files
            disagree.
    """
    scheme_path = folder / "group_scheme.json"
    scheme, partition = read_scheme(scheme_path)
    if partition is None:
        raise DataError(f"{scheme_path}: no A/B partition")
    fine = [m for members in scheme.values() for m in members]
    labels = {s: _labels(folder / s / "labels.json") for s in SUBSETS}
    meaning = {s: stands_for(labels[s], scheme, partition[s]) for s in SUBSETS}
    order = merge_order(labels, meaning, fine)
    rank = {t: i for i, t in enumerate(order)}
    lists: dict[str, VideoList] = {}
    for table in ("train", "val"):
        videos = None
        cand: list[set[str]] = []
        for s in SUBSETS:
            path = folder / s / f"{table}.csv"
            vids, labs = read_csv(path)
            if videos is None:
                videos = vids
                cand = [set(meaning[s][int(lab)]) for lab in labs]
                pos = {str(v): i for i, v in enumerate(vids)}
                continue
            if len(vids) != len(videos) or set(vids.tolist()) != set(videos.tolist()):
                raise DataError(f"{path}: lists other videos than {SUBSETS[0]}/{table}.csv")
            for v, lab in zip(vids, labs, strict=True):
                cand[pos[str(v)]] &= meaning[s][int(lab)]
        assert videos is not None
        for s in SUBSETS:
            n = len(labels[s])
            for g in partition[s]:
                for fname, tname in SETS:
                    if tname != table:
                        continue
                    path = folder / s / g / fname
                    vids, labs = read_csv(path)
                    for row, (v, lab) in enumerate(zip(vids, labs, strict=True), start=1):
                        if str(v) not in pos or not 0 <= lab - n < len(scheme[g]):
                            raise DataError(
                                f"{path}: row {row}: {v!r} is not a {table} video "
                                f"with a fine index of {g!r}"
                            )
                        cand[pos[str(v)]] &= {scheme[g][lab - n]}
        texts = []
        for i, c in enumerate(cand):
            if len(c) != 1:
                raise DataError(
                    f"{folder}/{SUBSETS[0]}/{table}.csv: row {i + 1}: video {videos[i]!r} "
                    f"could be {sorted(c)!r}; its fine label is not determined by the files"
                )
            texts.append(next(iter(c)))
        lists[table] = VideoList(
            f"{folder}/{SUBSETS[0]}/{table}.csv",
            tuple(str(v) for v in videos),
            tuple(rank[t] for t in texts),
            tuple(range(1, len(videos) + 1)),
        )
    labels_out = tuple(FineLabel(rank[t], t) for t in fine)
    return BuildInputs(
        name=folder.name,
        labels_source=f"{folder}/{{A,B}}/labels.json",
        labels=labels_out,
        train=lists["train"],
        val=lists["val"],
        scheme_source=str(scheme_path),
        group_scheme=scheme,
        partition=partition,
    )
