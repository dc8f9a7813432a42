"""Reader and validator for the official Category-Splitting annotation layout.

Layout (any root path)::

    <root>/<Benchmark>-Split/group_scheme.json
    <root>/<Benchmark>-Split/{A,B}/labels.json, train.csv, val.csv
    <root>/<Benchmark>-Split/{A,B}/<coarse label>/{ft_set,equivalent_set,unrelated_set}.csv

Every CSV row is ``video_path,label_index`` without a header. The reader checks what the
files promise and raises :class:`~splitbench.errors.DataError` with a one-line message that
names the file and row otherwise. Anomalies that the official files really contain are kept
and reported as ``findings`` (for example FineGym-Split A, target 134, whose 4 val videos of
an identically named fine label are in neither the equivalent nor the unrelated set).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splitbench.benchmarks.model import (
    Benchmark,
    FineGroup,
    SplitTarget,
    Subset,
    VideoSet,
    VideoTable,
)
from splitbench.benchmarks.modifiers import DERIVED_SOURCE, ModifierLookup, derive_modifiers
from splitbench.errors import DataError

SET_FILES = {
    "ft": "ft_set.csv",
    "equivalent": "equivalent_set.csv",
    "unrelated": "unrelated_set.csv",
}

PAPER_CITATION = """@inproceedings{liu2026letssplit,
  title     = {Let's Split Up: Zero-Shot Classifier Edits for Fine-Grained Video Understanding},
  author    = {Liu, Kaiting and Doughty, Hazel},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2026},
  note      = {arXiv:2602.16545}
}"""


@dataclass(frozen=True)
class OfficialSpec:
    """What distinguishes one official benchmark.

    Attributes:
        name: Registry name.
        folder: Folder name inside the ``Datasets`` root.
        display_name: Name used in tables.
        version: Benchmark definition version.
        video_size: ``(width, height)`` the videos are scaled to before view sampling.
    """

    name: str
    folder: str
    display_name: str
    version: str = "1"
    video_size: tuple[int, int] | None = None


SSV2_SPLIT = OfficialSpec("ssv2-split", "SSv2-Split", "SSv2-Split")
#: The official README: FineGym videos were resized from 1920×1080 to 480×270 "before
#: everything else"; "to reproduce our results, please apply the same resizing".
FINEGYM_SPLIT = OfficialSpec(
    "finegym-split", "FineGym-Split", "FineGym-Split", video_size=(480, 270)
)


def resolve_root(spec: OfficialSpec, path: Path) -> Path:
    """Find the benchmark folder under ``path`` (the ``Datasets`` root or the folder itself).

    Raises:
        DataError: if neither ``path/<folder>/group_scheme.json`` nor
            ``path/group_scheme.json`` exists.
    """
    for cand in (path / spec.folder, path):
        if (cand / "group_scheme.json").is_file():
            return cand
    raise DataError(
        f"{path}: no {spec.folder}/group_scheme.json here; pass --annotations pointing at the "
        f"official 'Datasets' folder (or at its {spec.folder} subfolder)"
    )


class _Hasher:
    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def add(self, path: Path, data: bytes) -> None:
        self._h.update(path.name.encode())
        self._h.update(data)

    def hexdigest(self) -> str:
        return self._h.hexdigest()[:16]


def read_official(
    spec: OfficialSpec,
    path: Path,
    *,
    subsets: Sequence[str] | None = None,
    modifiers: ModifierLookup | None = None,
    modifier_source: str | None = None,
    split_types: Mapping[str, tuple[str, ...]] | None = None,
) -> Benchmark:
    """Read and validate an official benchmark.

    Args:
        spec: Which benchmark (:data:`SSV2_SPLIT` or :data:`FINEGYM_SPLIT`).
        path: The ``Datasets`` root or the benchmark folder.
        subsets: Subsets to read (default both).
        modifiers: ``(group, fine_labels) -> modifiers``; defaults to :func:`derive_modifiers`.
        modifier_source: Description of ``modifiers`` recorded in the benchmark.
        split_types: Coarse group → split-type tags.

    Returns:
        The validated :class:`Benchmark`.

    Raises:
        DataError: on any broken promise of the files.
    """
    root = resolve_root(spec, path)
    hasher = _Hasher()
    scheme_path = root / "group_scheme.json"
    raw = _read_json(scheme_path, hasher)
    scheme, partition = _parse_scheme(raw, scheme_path)
    lookup = modifiers or (lambda _group, labels: derive_modifiers(labels))
    wanted = list(subsets) if subsets else sorted(partition)
    out: dict[str, Subset] = {}
    for name in wanted:
        if name not in partition:
            raise DataError(f"{scheme_path}: no subset {name!r} (has {', '.join(partition)})")
        out[name] = _read_subset(
            spec, root, name, scheme, partition, lookup, split_types or {}, hasher
        )
    if len(out) == 2:
        _cross_check(out, scheme)
    return Benchmark(
        name=spec.name,
        display_name=spec.display_name,
        version=spec.version,
        subsets=out,
        group_scheme=scheme,
        partition=partition,
        simulation=False,
        source=str(root),
        revision=f"sha256:{hasher.hexdigest()}",
        modifier_source=modifier_source or DERIVED_SOURCE,
        citation=PAPER_CITATION,
        video_size=spec.video_size,
    )


def _read_json(path: Path, hasher: _Hasher) -> object:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file is missing") from None
    hasher.add(path, data)
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _parse_scheme(
    raw: object, path: Path
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
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


def read_csv(path: Path, hasher: _Hasher | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``video_path,label_index`` file (no header; blank lines are skipped).

    Returns:
        ``(videos, labels)`` as an object array of ``str`` and an int64 array.

    Raises:
        DataError: naming the file and 1-based line of the first malformed row.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file is missing") from None
    if hasher is not None:
        hasher.add(path, data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    videos: list[str] = []
    labels: list[int] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(",")
        video = parts[0].strip()
        label = parts[1].strip() if len(parts) == 2 else ""
        if len(parts) != 2 or not video or not label.isdigit():
            raise DataError(
                f"{path}: line {line_no}: expected 'video_path,label_index' with an integer "
                f"label, got {line.strip()!r}"
            )
        videos.append(video)
        labels.append(int(label))
    return np.array(videos, dtype=object), np.array(labels, dtype=np.int64)


def _positions(table: VideoTable, videos: np.ndarray) -> np.ndarray:
    """Row positions of ``videos`` in ``table`` (-1 where absent)."""
    pos = table.position
    return np.fromiter((pos.get(v, -1) for v in videos), dtype=np.int64, count=len(videos))


def _read_subset(
    spec: OfficialSpec,
    root: Path,
    name: str,
    scheme: Mapping[str, tuple[str, ...]],
    partition: Mapping[str, tuple[str, ...]],
    modifiers: ModifierLookup,
    split_types: Mapping[str, tuple[str, ...]],
    hasher: _Hasher,
) -> Subset:
    sdir = root / name
    labels_path = sdir / "labels.json"
    raw = _read_json(labels_path, hasher)
    if not isinstance(raw, dict) or not all(isinstance(v, int) for v in raw.values()):
        raise DataError(f"{labels_path}: expected an object mapping label text to integer index")
    n = len(raw)
    if sorted(raw.values()) != list(range(n)):
        raise DataError(f"{labels_path}: indices must be exactly 0..{n - 1}, each once")
    labels = [""] * n
    for text, idx in raw.items():
        labels[idx] = text
    index_of = dict(raw)

    def base_index(text: str, why: str) -> int:
        if text not in index_of:
            raise DataError(f"{labels_path}: missing label {text!r} ({why})")
        return int(index_of[text])

    tables: dict[str, VideoTable] = {}
    for tname in ("train", "val"):
        p = sdir / f"{tname}.csv"
        videos, labs = read_csv(p, hasher)
        _check_range(p, labs, 0, n, "a base label index")
        _check_unique(p, videos)
        tables[tname] = VideoTable(tname, videos, labs)
    train, val = tables["train"], tables["val"]

    other = [s for s in partition if s != name]
    fine_groups: list[FineGroup] = []
    for sname in other:
        for g in partition[sname]:
            members = scheme[g]
            idx = tuple(base_index(m, f"fine member of group {g!r}") for m in members)
            fine_groups.append(FineGroup(g, members, idx, modifiers(g, members)))
    singletons = tuple(
        base_index(members[0], "singleton group")
        for g, members in scheme.items()
        if len(members) == 1
    )

    findings: list[str] = []
    targets: list[SplitTarget] = []
    for g in partition[name]:
        tdir = sdir / g
        if not tdir.is_dir():
            raise DataError(f"{tdir}: split-target folder is missing")
        c = base_index(g, "split target")
        fine = scheme[g]
        k = len(fine)
        sets: dict[str, VideoSet] = {}
        for key, fname in SET_FILES.items():
            p = tdir / fname
            videos, labs = read_csv(p, hasher)
            _check_unique(p, videos)
            table = train if key == "ft" else val
            rows = _positions(table, videos)
            if (rows < 0).any():
                i = int(np.flatnonzero(rows < 0)[0])
                raise DataError(f"{p}: row {i + 1}: video {videos[i]!r} is not in {table.name}.csv")
            if key == "unrelated":
                _check_range(p, labs, 0, n, "a base label index")
                mism = labs != table.labels[rows]
                if mism.any():
                    i = int(np.flatnonzero(mism)[0])
                    raise DataError(
                        f"{p}: row {i + 1}: label {labs[i]} differs from val.csv "
                        f"({table.labels[rows[i]]}) for {videos[i]!r}"
                    )
            else:
                _check_range(p, labs, n, n + k, f"a fine index of this target ({n}..{n + k - 1})")
                notc = table.labels[rows] != c
                if notc.any():
                    i = int(np.flatnonzero(notc)[0])
                    raise DataError(
                        f"{p}: row {i + 1}: {videos[i]!r} has label "
                        f"{table.labels[rows[i]]} in {table.name}.csv, expected coarse index {c}"
                    )
            sets[key] = VideoSet(key, table.name, rows.astype(np.int64), labs)
        eq_rows, un_rows = sets["equivalent"].rows, sets["unrelated"].rows
        in_eq = np.zeros(len(val), dtype=bool)
        in_eq[eq_rows] = True
        in_un = np.zeros(len(val), dtype=bool)
        in_un[un_rows] = True
        if (in_eq & in_un).any():
            v = val.videos[int(np.flatnonzero(in_eq & in_un)[0])]
            raise DataError(f"{tdir}: video {v!r} is in both equivalent_set and unrelated_set")
        neither = np.flatnonzero(~(in_eq | in_un))
        wrong = neither[val.labels[neither] != c]
        if len(wrong):
            v = val.videos[int(wrong[0])]
            raise DataError(
                f"{tdir}: val video {v!r} (label {val.labels[wrong[0]]}) is in neither "
                f"equivalent_set nor unrelated_set"
            )
        in_ft = np.zeros(len(train), dtype=bool)
        in_ft[sets["ft"].rows] = True
        excluded_train = np.flatnonzero((train.labels == c) & ~in_ft)
        if len(neither) or len(excluded_train):
            findings.append(
                f"{spec.display_name}/{name} target {c} {g!r}: {len(neither)} val and "
                f"{len(excluded_train)} train videos labelled {c} are in none of its sets "
                f"(they belong to an identically named fine label); excluded from scoring"
            )
        target = SplitTarget(
            subset=name,
            name=g,
            coarse_index=c,
            fine_labels=fine,
            fine_indices=tuple(range(n, n + k)),
            modifiers=modifiers(g, fine),
            ft=sets["ft"],
            equivalent=sets["equivalent"],
            unrelated=sets["unrelated"],
            split_types=tuple(split_types.get(g, ())),
            excluded_val=neither.astype(np.int64),
            excluded_train=excluded_train.astype(np.int64),
        )
        for which in ("ft", "equivalent"):
            counts = target.counts(which)
            for zero in np.flatnonzero(counts == 0).tolist():
                findings.append(
                    f"{spec.display_name}/{name} target {c} {g!r}: subcategory {n + zero} "
                    f"{fine[zero]!r} has 0 {which} videos"
                )
        targets.append(target)
    for fg in fine_groups:
        for text, idx in zip(fg.members, fg.indices, strict=True):
            if idx in {t.coarse_index for t in targets}:
                findings.append(
                    f"{spec.display_name}/{name}: base class {idx} {text!r} is both a split "
                    f"target and the identically named member of fine group {fg.name!r}"
                )
    return Subset(
        benchmark=spec.name,
        name=name,
        labels=tuple(labels),
        train=train,
        val=val,
        targets=tuple(targets),
        fine_groups=tuple(fine_groups),
        singletons=singletons,
        findings=tuple(findings),
    )


def _check_range(path: Path, labels: np.ndarray, lo: int, hi: int, what: str) -> None:
    bad = (labels < lo) | (labels >= hi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{path}: row {i + 1}: label index {labels[i]} is unknown; expected {what} "
            f"in [{lo}, {hi})"
        )


def _check_unique(path: Path, videos: np.ndarray) -> None:
    seen: set[str] = set()
    for i, v in enumerate(videos):
        if v in seen:
            raise DataError(f"{path}: row {i + 1}: video {v!r} appears more than once")
        seen.add(v)


def _cross_check(subsets: Mapping[str, Subset], scheme: Mapping[str, tuple[str, ...]]) -> None:
    """Check fine indices against the other subset, where the same labels are base classes.

    In subset A, an equivalent video of target c with fine index N + i must carry, in subset
    B's val.csv, the index that B's labels.json gives to ``group_scheme[c][i]``.
    """
    for s in subsets.values():
        other = next(o for o in subsets.values() if o is not s)
        index_of = {text: i for i, text in enumerate(other.labels)}
        for t in s.targets:
            for vs, table, otable in (
                (t.equivalent, s.val, other.val),
                (t.ft, s.train, other.train),
            ):
                if not len(vs):
                    continue
                expected = np.array([index_of[t.fine_labels[j]] for j in range(t.k)])
                want = expected[vs.labels - t.fine_indices[0]]
                orows = _positions(otable, table.videos[vs.rows])
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
