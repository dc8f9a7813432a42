"""The benchmark data model: benchmark → subsets → label space → split targets.

Labels are keyed by ``(subset, index)``, never by text: in FineGym-Split A the coarse target
``(BB) salto forward tucked`` has the same text as a fine label of another group. Video sets
are stored as row positions into the subset's train or val table, so the 27 unrelated sets
of SSv2-Split A cost 27 index arrays rather than 27 copies of the video list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from splitbench.errors import UnknownNameError


@dataclass(frozen=True, eq=False)
class VideoTable:
    """An ordered list of videos with their base-model labels (``train.csv`` or ``val.csv``).

    Attributes:
        name: ``"train"`` or ``"val"``.
        videos: Video ids as given in the annotation file (``object`` array of ``str``).
        labels: Base-model label index per video (``int64``).
    """

    name: str
    videos: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.videos)

    @cached_property
    def position(self) -> Mapping[str, int]:
        """Video id → row position."""
        return {str(v): i for i, v in enumerate(self.videos)}


@dataclass(frozen=True, eq=False)
class VideoSet:
    """A set of videos: row positions into a :class:`VideoTable` plus the set's labels.

    Attributes:
        name: ``"ft"``, ``"equivalent"`` or ``"unrelated"``.
        table: Which table the rows index (``"train"`` or ``"val"``).
        rows: Row positions (``int64``).
        labels: Ground-truth label per row (fine indices for ft/equivalent, base indices
            for unrelated).
    """

    name: str
    table: str
    rows: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True, eq=False)
class SplitTarget:
    """One coarse class of a subset and the k subcategories it is split into.

    Attributes:
        subset: Subset name (``"A"`` or ``"B"``).
        name: The coarse label text (the target's folder name).
        coarse_index: Index of the coarse class in the subset's base label space.
        fine_labels: Subcategory texts in group-scheme order.
        fine_indices: ``N + position`` for each subcategory (N = base label count).
        modifiers: The phrase that distinguishes each subcategory within its group.
        split_types: Tags such as ``"direction"`` or ``"object count"`` (may be empty).
        ft: Train videos of the target with fine labels (the low-shot pool).
        equivalent: Val videos of the target with fine labels (generality).
        unrelated: All other val videos with base labels (locality).
        excluded_val: Val rows labelled with the coarse index that the official files put
            in neither the equivalent nor the unrelated set (reported, never dropped silently).
        excluded_train: Train rows labelled with the coarse index missing from ``ft``.
    """

    subset: str
    name: str
    coarse_index: int
    fine_labels: tuple[str, ...]
    fine_indices: tuple[int, ...]
    modifiers: tuple[str, ...]
    ft: VideoSet
    equivalent: VideoSet
    unrelated: VideoSet
    split_types: tuple[str, ...] = ()
    excluded_val: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    excluded_train: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def k(self) -> int:
        """Number of subcategories."""
        return len(self.fine_labels)

    @property
    def key(self) -> str:
        """A stable file-system key: zero-padded coarse index plus a slug of the name."""
        return f"{self.coarse_index:03d}-{slugify(self.name)}"

    def counts(self, which: str) -> np.ndarray:
        """Videos per subcategory in ``ft`` or ``equivalent`` (length k)."""
        s = self.ft if which == "ft" else self.equivalent
        base = self.fine_indices[0]
        return np.bincount(s.labels - base, minlength=self.k)


@dataclass(frozen=True, eq=False)
class FineGroup:
    """A multi-member group that stays fine-grained in this subset's base model.

    These are the "pseudo-coarse" categories of the paper: their members are ordinary base
    classes, and modifier retrieval and alignment build their dictionaries from them.

    Attributes:
        name: The group's coarse label text (not a class of this base model).
        members: Member label texts in group-scheme order.
        indices: Base-model index of each member.
        modifiers: Modifier phrase of each member.
    """

    name: str
    members: tuple[str, ...]
    indices: tuple[int, ...]
    modifiers: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Subset:
    """A mixed-granularity base label space and its split targets.

    Attributes:
        benchmark: Name of the owning benchmark.
        name: ``"A"`` or ``"B"``.
        labels: Base label texts in ``labels.json`` order.
        train: The base model's training videos.
        val: The base model's validation videos.
        targets: Split targets, in the order of the benchmark's partition list.
        fine_groups: Multi-member groups kept fine-grained in this base model.
        singletons: Base indices of single-member groups.
        findings: Anomalies found while reading, one sentence each.
    """

    benchmark: str
    name: str
    labels: tuple[str, ...]
    train: VideoTable
    val: VideoTable
    targets: tuple[SplitTarget, ...]
    fine_groups: tuple[FineGroup, ...]
    singletons: tuple[int, ...]
    findings: tuple[str, ...] = ()

    @property
    def num_labels(self) -> int:
        """Size of the base label space (N)."""
        return len(self.labels)

    def target(self, key: str | int) -> SplitTarget:
        """Look a target up by coarse index, key, or exact name.

        Raises:
            UnknownNameError: if nothing matches.
        """
        for t in self.targets:
            if key in (t.coarse_index, t.key, t.name, str(t.coarse_index)):
                return t
        raise UnknownNameError(
            f"subset {self.benchmark}/{self.name} has no split target {key!r}; targets are "
            f"coarse indices {', '.join(str(t.coarse_index) for t in self.targets)}"
        )


@dataclass(frozen=True, eq=False)
class Benchmark:
    """A category-splitting benchmark.

    Attributes:
        name: Registry name (``"ssv2-split"``, ``"finegym-split"``, ``"synthetic"``).
        display_name: Human name used in tables.
        version: Version of the benchmark definition; results from different versions are
            never averaged together.
        subsets: Subset name → :class:`Subset`.
        group_scheme: Coarse group → member fine labels.
        partition: Subset name → coarse groups collapsed in that subset.
        simulation: True for synthetic benchmarks; their numbers are labelled as simulated.
        source: Where it was read from (a path or ``hf://`` id).
        revision: Data revision (a hub commit, or a content hash of the files read).
        modifier_source: Where the modifier phrases came from.
        citation: BibTeX of the benchmark's paper.
        video_size: ``(width, height)`` every video is scaled to before view sampling, as
            the official preprocessing did (FineGym-Split: 480×270), or None.
    """

    name: str
    display_name: str
    version: str
    subsets: Mapping[str, Subset]
    group_scheme: Mapping[str, tuple[str, ...]]
    partition: Mapping[str, tuple[str, ...]]
    simulation: bool
    source: str
    revision: str
    modifier_source: str = ""
    citation: str = ""
    video_size: tuple[int, int] | None = None

    def subset(self, name: str) -> Subset:
        """Return a subset by name (case-insensitive).

        Raises:
            UnknownNameError: for an unknown subset.
        """
        for key, s in self.subsets.items():
            if key.lower() == name.lower():
                return s
        raise UnknownNameError(
            f"benchmark {self.name!r} has no subset {name!r}; subsets: {', '.join(self.subsets)}"
        )


def slugify(text: str, max_len: int = 48) -> str:
    """Lower-case ``text`` and keep ``[a-z0-9]`` runs joined by dashes."""
    out: list[str] = []
    word = ""
    for ch in text.lower():
        if ch.isascii() and ch.isalnum():
            word += ch
        elif word:
            out.append(word)
            word = ""
    if word:
        out.append(word)
    slug = "-".join(out)
    return slug[:max_len].rstrip("-") or "target"
