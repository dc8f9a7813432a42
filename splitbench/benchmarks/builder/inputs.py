"""What the benchmark builder starts from, and the checks it runs before building.

A build needs four things, each from a file the user names (so every error can name it):

* the **fine labels** of the original dataset, in the dataset's own label order (their index);
* the **train and val video lists**, each video with one fine label;
* the **group scheme**: every fine label in exactly one coarse group;
* the **partition** of the multi-member groups into complementary subsets A and B (or none,
  and :mod:`splitbench.benchmarks.builder.partition` proposes one).

Optional **exclusions** drop labels (with all their videos) and single videos before the
build, for example FineGym288's undownloadable videos and its duplicated label texts. They are
data the user supplies, never rules keyed by benchmark name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from splitbench.errors import DataError

SUBSETS = ("A", "B")


@dataclass(frozen=True)
class FineLabel:
    """One label of the original dataset.

    Attributes:
        index: Its index in the original dataset's label list (defines the label order).
        text: Its text; the group scheme refers to labels by text.
    """

    index: int
    text: str


@dataclass(frozen=True)
class VideoList:
    """A train or val list: video ids and the index of each video's fine label.

    Attributes:
        source: The file it was read from (named in errors).
        videos: Video ids as written to the benchmark's CSV files.
        labels: Original label index of each video (a :attr:`FineLabel.index`).
        rows: Row (1-based line or element number) of each video in ``source``.
    """

    source: str
    videos: tuple[str, ...]
    labels: tuple[int, ...]
    rows: tuple[int, ...]


@dataclass(frozen=True)
class Exclusions:
    """Labels and videos dropped before the build.

    Attributes:
        source: The file they came from.
        labels: Original label indices to drop, with all their videos.
        videos: Video ids to drop.
        note: Why (recorded in the build report).
    """

    source: str = ""
    labels: tuple[int, ...] = ()
    videos: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class BuildInputs:
    """Everything a build needs.

    Attributes:
        name: The benchmark's folder and display name (e.g. ``"MyData-Split"``).
        labels_source: File the fine labels came from.
        labels: Fine labels, any order (sorted by index when built).
        train: The train list.
        val: The val list.
        scheme_source: File the group scheme came from.
        group_scheme: Coarse group → member fine-label texts, in the scheme's order.
        partition: Subset → groups collapsed there; None to have one proposed.
        exclusions: What to drop first.
    """

    name: str
    labels_source: str
    labels: tuple[FineLabel, ...]
    train: VideoList
    val: VideoList
    scheme_source: str
    group_scheme: Mapping[str, tuple[str, ...]]
    partition: Mapping[str, tuple[str, ...]] | None = None
    exclusions: Exclusions = field(default_factory=Exclusions)


@dataclass(frozen=True)
class CleanInputs:
    """Validated inputs after exclusions: what the construction reads.

    Attributes:
        name: Benchmark name.
        fine: Fine-label texts in the original label order.
        train: ``(videos, fine position)`` of the train list, in file order.
        val: Same for the val list.
        group_scheme: As given.
        partition: As given (validated).
        dropped: One sentence per exclusion applied.
    """

    name: str
    fine: tuple[str, ...]
    train: tuple[tuple[str, ...], tuple[int, ...]]
    val: tuple[tuple[str, ...], tuple[int, ...]]
    group_scheme: Mapping[str, tuple[str, ...]]
    partition: Mapping[str, tuple[str, ...]]
    dropped: tuple[str, ...] = ()


def check_scheme(scheme: Mapping[str, Sequence[str]], fine: Sequence[str], source: str) -> None:
    """Every fine label in exactly one group, every group non-empty, no unknown label.

    Raises:
        DataError: one line naming ``source`` and the group or label.
    """
    known = set(fine)
    owner: dict[str, str] = {}
    for group, members in scheme.items():
        if not members:
            raise DataError(f"{source}: group {group!r} is empty; a group needs at least one label")
        for m in members:
            if m not in known:
                raise DataError(
                    f"{source}: group {group!r} lists {m!r}, which is not a fine label "
                    f"(or was excluded)"
                )
            if m in owner:
                where = "twice" if owner[m] == group else f"in groups {owner[m]!r} and {group!r}"
                raise DataError(f"{source}: fine label {m!r} is {where}; put it in one group")
            owner[m] = group
    for m in fine:
        if m not in owner:
            raise DataError(f"{source}: fine label {m!r} is in no group; add it to one")


def check_partition(
    scheme: Mapping[str, Sequence[str]], partition: Mapping[str, Sequence[str]], source: str
) -> None:
    """The partition splits exactly the multi-member groups into A and B.

    Raises:
        DataError: one line naming ``source`` and the subset or group.
    """
    extra = [s for s in partition if s not in SUBSETS]
    if extra:
        raise DataError(f"{source}: unknown subset {extra[0]!r}; expected A and B")
    seen: dict[str, str] = {}
    for s in SUBSETS:
        for g in partition.get(s, ()):
            if g not in scheme:
                raise DataError(f"{source}: subset {s} lists {g!r}, which is not a group")
            if len(scheme[g]) < 2:
                raise DataError(
                    f"{source}: subset {s} lists {g!r}, a single-member group (it cannot be split)"
                )
            if g in seen:
                where = "twice" if seen[g] == s else "in both subset A and B"
                raise DataError(f"{source}: group {g!r} is listed {where}")
            seen[g] = s
    for g, members in scheme.items():
        if len(members) > 1 and g not in seen:
            raise DataError(f"{source}: multi-member group {g!r} is in neither subset A nor B")
    for s in SUBSETS:
        if not partition.get(s):
            raise DataError(f"{source}: subset {s} lists no group")


def clean(inputs: BuildInputs, partition: Mapping[str, tuple[str, ...]]) -> CleanInputs:
    """Apply exclusions and check everything the construction relies on.

    Raises:
        DataError: one line naming the file and the label, video, group or subset at fault.
    """
    ex = inputs.exclusions
    by_index: dict[int, str] = {}
    for lab in inputs.labels:
        if lab.index in by_index:
            raise DataError(f"{inputs.labels_source}: label index {lab.index} appears twice")
        if not lab.text.strip():
            raise DataError(f"{inputs.labels_source}: label {lab.index} has an empty text")
        by_index[lab.index] = lab.text
    for i in ex.labels:
        if i not in by_index:
            raise DataError(f"{ex.source}: excluded label {i} is not a fine label")
    drop_labels = set(ex.labels)
    kept = sorted(i for i in by_index if i not in drop_labels)
    text_of: dict[str, int] = {}
    for i in kept:
        t = by_index[i]
        if t in text_of:
            raise DataError(
                f"{inputs.labels_source}: labels {text_of[t]} and {i} have the same text {t!r}; "
                f"exclude one of them (labels are matched to the group scheme by text)"
            )
        text_of[t] = i
    position = {i: p for p, i in enumerate(kept)}
    fine = tuple(by_index[i] for i in kept)
    all_videos = {v for vl in (inputs.train, inputs.val) for v in vl.videos}
    for v in ex.videos:
        if v not in all_videos:
            raise DataError(f"{ex.source}: excluded video {v!r} is in neither video list")
    drop_videos = set(ex.videos)
    dropped_by_label = 0
    lists: list[tuple[tuple[str, ...], tuple[int, ...]]] = []
    seen_in: dict[str, str] = {}
    for vl in (inputs.train, inputs.val):
        videos: list[str] = []
        pos: list[int] = []
        for v, label, row in zip(vl.videos, vl.labels, vl.rows, strict=True):
            if v in seen_in:
                where = "twice" if seen_in[v] == vl.source else f"also in {seen_in[v]}"
                raise DataError(f"{vl.source}: row {row}: video {v!r} is listed {where}")
            seen_in[v] = vl.source
            if label not in by_index:
                raise DataError(f"{vl.source}: row {row}: video {v!r} has unknown label {label}")
            if v in drop_videos:
                continue
            if label in drop_labels:
                dropped_by_label += 1
                continue
            videos.append(v)
            pos.append(position[label])
        lists.append((tuple(videos), tuple(pos)))
    check_scheme(inputs.group_scheme, fine, inputs.scheme_source)
    check_partition(inputs.group_scheme, partition, inputs.scheme_source)
    dropped = []
    if ex.labels:
        dropped.append(
            f"excluded {len(ex.labels)} labels ({', '.join(map(str, ex.labels))}) and their "
            f"{dropped_by_label} videos ({ex.source}{': ' + ex.note if ex.note else ''})"
        )
    if ex.videos:
        dropped.append(f"excluded {len(ex.videos)} videos ({ex.source})")
    return CleanInputs(
        name=inputs.name,
        fine=fine,
        train=lists[0],
        val=lists[1],
        group_scheme=inputs.group_scheme,
        partition=partition,
        dropped=tuple(dropped),
    )
