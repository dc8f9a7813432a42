"""The construction rules of a category-splitting benchmark (the official ``Datasets/README``).

Given validated inputs (:class:`~splitbench.benchmarks.builder.inputs.CleanInputs`), for each
subset S:

1. **Base labels.** Walk the fine labels in the original dataset's label order; a fine label
   whose group is collapsed in S (listed under S) stands for its group's name, any other
   stands for itself (singletons included). ``labels.json`` lists the distinct texts in the
   order of their place: a label kept fine is at its own place, a collapsed group at the place
   of its first member. For SSv2, whose label list is sorted by text, this looks "sorted by
   text" except where a group's name sorts elsewhere than its first member. When a group
   shares its text with a label kept fine, the label's own place wins (FineGym-Split A,
   index 134: the only case in the official files, and the order they have).
2. **train.csv / val.csv.** Every video of the input lists, in input order, with the base
   index of its fine label.
3. **Per split target** c (each group under S, in partition order): ``ft_set.csv`` = the train
   videos whose fine label is a member of c, ``equivalent_set.csv`` = the same on val, both
   labelled N + the label's position in the group (N = number of base labels);
   ``unrelated_set.csv`` = the val videos whose *base index* is not c's, with their base
   labels. All three keep the table's order.

``labels.json`` maps text to index, so two base labels with the same text (a group named like
a fine label of another group) share one index. The official files do this (FineGym-Split A,
target 134); the construction reproduces it and reports it as a finding, since the other
label's videos then carry c's index and land in none of c's sets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from splitbench.benchmarks.builder.inputs import SUBSETS, CleanInputs


@dataclass(frozen=True, eq=False)
class BuiltTable:
    """Rows of one CSV: video ids and label indices."""

    videos: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.videos)


@dataclass(frozen=True, eq=False)
class BuiltTarget:
    """The three sets of one split target."""

    name: str
    coarse_index: int
    ft: BuiltTable
    equivalent: BuiltTable
    unrelated: BuiltTable


@dataclass(frozen=True, eq=False)
class BuiltSubset:
    """One subset folder's content."""

    name: str
    labels: dict[str, int]
    train: BuiltTable
    val: BuiltTable
    targets: tuple[BuiltTarget, ...]


@dataclass(frozen=True, eq=False)
class BuiltBenchmark:
    """A benchmark folder's content, before writing.

    Attributes:
        name: Folder name.
        group_scheme: As given.
        partition: Subset → split targets.
        subsets: ``A`` and ``B``.
        findings: Anomalies worth knowing, one sentence each (reported, never hidden).
        dropped: Exclusions applied, one sentence each.
    """

    name: str
    group_scheme: Mapping[str, tuple[str, ...]]
    partition: Mapping[str, tuple[str, ...]]
    subsets: Mapping[str, BuiltSubset]
    findings: tuple[str, ...]
    dropped: tuple[str, ...]


def base_labels(inputs: CleanInputs, subset: str) -> tuple[dict[str, int], np.ndarray]:
    """Rule 1: ``labels.json`` of ``subset`` and the base index of every fine label."""
    collapsed = set(inputs.partition[subset])
    group_of = {m: g for g, members in inputs.group_scheme.items() for m in members}
    base_of = [g if (g := group_of[t]) in collapsed else t for t in inputs.fine]
    place: dict[str, int] = {}
    for p, base in enumerate(base_of):
        place.setdefault(base, p)  # a collapsed group: where its first member is
    for p, (text, base) in enumerate(zip(inputs.fine, base_of, strict=True)):
        if base == text:
            place[text] = (
                p  # a label kept fine keeps its own place, even if a group shares its text
            )
    order = sorted(place, key=place.__getitem__)
    index = {text: i for i, text in enumerate(order)}
    return index, np.array([index[b] for b in base_of], dtype=np.int64)


def build(inputs: CleanInputs) -> BuiltBenchmark:
    """Apply the construction rules to validated inputs."""
    findings: list[str] = []
    fine_pos = {t: p for p, t in enumerate(inputs.fine)}
    train_v = np.array(inputs.train[0], dtype=object)
    train_f = np.array(inputs.train[1], dtype=np.int64)
    val_v = np.array(inputs.val[0], dtype=object)
    val_f = np.array(inputs.val[1], dtype=np.int64)
    n_fine = len(inputs.fine)
    train_count = np.bincount(train_f, minlength=n_fine)
    val_count = np.bincount(val_f, minlength=n_fine)
    for p, text in enumerate(inputs.fine):
        for which, counts in (("train", train_count), ("val", val_count)):
            if counts[p] == 0:
                findings.append(f"fine label {text!r} has no {which} videos")
    subsets: dict[str, BuiltSubset] = {}
    for s in SUBSETS:
        labels, to_base = base_labels(inputs, s)
        n = len(labels)
        findings.extend(_collisions(inputs, s, labels))
        train = BuiltTable(train_v, to_base[train_f])
        val = BuiltTable(val_v, to_base[val_f])
        targets = []
        for g in inputs.partition[s]:
            c = labels[g]
            member = np.full(n_fine, -1, dtype=np.int64)
            for i, m in enumerate(inputs.group_scheme[g]):
                member[fine_pos[m]] = n + i
            tr, va = member[train_f], member[val_f]
            keep_un = val.labels != c
            targets.append(
                BuiltTarget(
                    g,
                    c,
                    BuiltTable(train_v[tr >= 0], tr[tr >= 0]),
                    BuiltTable(val_v[va >= 0], va[va >= 0]),
                    BuiltTable(val_v[keep_un], val.labels[keep_un]),
                )
            )
        subsets[s] = BuiltSubset(s, labels, train, val, tuple(targets))
    return BuiltBenchmark(
        name=inputs.name,
        group_scheme=inputs.group_scheme,
        partition=inputs.partition,
        subsets=subsets,
        findings=tuple(findings),
        dropped=inputs.dropped,
    )


def _collisions(inputs: CleanInputs, subset: str, labels: Mapping[str, int]) -> list[str]:
    """Base-label texts that stand for a collapsed group and for a fine label at once."""
    out = []
    group_of = {m: g for g, members in inputs.group_scheme.items() for m in members}
    for g in inputs.partition[subset]:
        owner = group_of.get(g)
        if owner is not None and owner != g and owner not in inputs.partition[subset]:
            out.append(
                f"{subset}: split target {g!r} has the same text as a fine label of group "
                f"{owner!r}; labels.json maps text to index, so both share index {labels[g]} "
                f"and that label's videos are in none of the target's sets (rename one to avoid it)"
            )
    return out
