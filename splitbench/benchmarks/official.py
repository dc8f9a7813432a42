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

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splitbench.benchmarks import checks, official_cache
from splitbench.benchmarks.checks import Rows
from splitbench.benchmarks.csvrows import read_rows
from splitbench.benchmarks.model import Benchmark, FineGroup, SplitTarget, Subset
from splitbench.benchmarks.modifiers import DERIVED_SOURCE, ModifierLookup, derive_modifiers
from splitbench.benchmarks.official_cache import ParsedSubset
from splitbench.benchmarks.official_rules import cross_check, label_texts, parse_scheme
from splitbench.core.hashing import sha256_parts
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


class _Files:
    """Every file of the layout, read once; the data revision hashes all of them.

    The revision covers every subset's files whichever subsets are read, so ``-s A`` and
    ``-s all`` name the same data (and results resume into each other). The bytes are
    hashed in the order the full reader has always read them (name, then bytes), so the
    revision of a full read is the one recorded before this reader existed.
    """

    def __init__(self, root: Path, scheme: bytes, partition: Mapping[str, Sequence[str]]):
        self._data: dict[Path, bytes | OSError] = {}
        parts: list[bytes] = [b"group_scheme.json" + scheme]
        for s in sorted(partition):
            sdir = root / s
            paths = [sdir / "labels.json", sdir / "train.csv", sdir / "val.csv"]
            for g in partition[s]:
                paths.extend(sdir / g / f for f in SET_FILES.values())
            for p in paths:
                try:
                    data: bytes | OSError = p.read_bytes()
                except OSError as exc:  # reported when (if) this subset is read
                    data = exc
                self._data[p] = data
                parts.append(p.name.encode())
                parts.append(data if isinstance(data, bytes) else b"\0unreadable\0")
        self.revision = f"sha256:{sha256_parts(parts, 16)}"

    def get(self, path: Path) -> bytes:
        data = self._data[path]
        if isinstance(data, FileNotFoundError):
            raise DataError(f"{path}: file is missing")
        if isinstance(data, OSError):
            raise data
        return data

    def rows(self, path: Path) -> Rows:
        videos, labels = read_rows(path, self.get(path))
        return Rows(str(path), videos, labels)


def read_official(
    spec: OfficialSpec,
    path: Path,
    *,
    subsets: Sequence[str] | None = None,
    modifiers: ModifierLookup | None = None,
    modifier_source: str | None = None,
    split_types: Mapping[str, tuple[str, ...]] | None = None,
    cache: bool = True,
) -> Benchmark:
    """Read and validate an official benchmark.

    Only the subsets asked for are parsed; a parsed and validated subset is kept under the
    cache folder, keyed by the data revision and the reader version, so the next read of
    the same files only hashes them.

    Args:
        spec: Which benchmark (:data:`SSV2_SPLIT` or :data:`FINEGYM_SPLIT`).
        path: The ``Datasets`` root or the benchmark folder.
        subsets: Subsets to read (default both).
        modifiers: ``(group, fine_labels) -> modifiers``; defaults to :func:`derive_modifiers`.
        modifier_source: Description of ``modifiers`` recorded in the benchmark.
        split_types: Coarse group → split-type tags.
        cache: Use (and fill) the parsed-benchmark cache.

    Returns:
        The validated :class:`Benchmark`; its ``revision`` hashes every annotation file.

    Raises:
        DataError: on any broken promise of the files.
    """
    root = resolve_root(spec, path)
    scheme_path = root / "group_scheme.json"
    try:
        scheme_bytes = scheme_path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{scheme_path}: file is missing") from None
    scheme, partition = parse_scheme(_parse_json(scheme_path, scheme_bytes), scheme_path)
    named = {s.lower(): s for s in partition}  # subset names are case-insensitive
    wanted = [named.get(s.lower(), s) for s in subsets] if subsets else sorted(partition)
    for name in wanted:
        if name not in partition:
            raise DataError(f"{scheme_path}: no subset {name!r} (has {', '.join(partition)})")
    files = _Files(root, scheme_bytes, partition)
    layout = _Layout(spec, root, scheme, partition)
    lookup = modifiers or (lambda _group, labels: derive_modifiers(labels))
    out: dict[str, Subset] = {}
    parsed_now = not cache
    for name in wanted:
        key = official_cache.cache_key(files.revision, spec.name, spec.display_name, name)
        parsed = official_cache.load(key) if cache else None
        if parsed is None or len(parsed.sets) != len(partition[name]):
            parsed = _parse_subset(layout, name, files)
            parsed_now = True
            if cache:
                official_cache.store(key, parsed)
        out[name] = _assemble(layout, name, parsed, lookup, split_types or {})
    if len(out) == 2:
        key = official_cache.cache_key(files.revision, spec.name, spec.display_name, "A+B")
        if parsed_now or not official_cache.is_marked(key):
            cross_check(out)
            if cache:
                official_cache.mark(key)
    return Benchmark(
        name=spec.name,
        display_name=spec.display_name,
        version=spec.version,
        subsets=out,
        group_scheme=scheme,
        partition=partition,
        simulation=False,
        source=str(root),
        revision=files.revision,
        modifier_source=modifier_source or DERIVED_SOURCE,
        citation=PAPER_CITATION,
        video_size=spec.video_size,
    )


def _parse_json(path: Path, data: bytes) -> object:
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
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
    videos, labels = read_rows(path, data)
    return videos.to_numpy(zero_copy_only=False).astype(object), labels


@dataclass(frozen=True)
class _Layout:
    """One benchmark folder: its spec, root, group scheme and A/B partition."""

    spec: OfficialSpec
    root: Path
    scheme: Mapping[str, tuple[str, ...]]
    partition: Mapping[str, tuple[str, ...]]

    def kept_fine(self, subset: str) -> list[str]:
        """Groups that stay fine-grained in ``subset``: the other subset's targets."""
        return [
            g for other in sorted(self.partition) if other != subset for g in self.partition[other]
        ]


def _parse_subset(layout: _Layout, name: str, files: _Files) -> ParsedSubset:
    spec, scheme, partition = layout.spec, layout.scheme, layout.partition
    sdir = layout.root / name
    labels_path = sdir / "labels.json"
    labels = label_texts(_parse_json(labels_path, files.get(labels_path)), labels_path)
    n = len(labels)
    index_of = {text: i for i, text in enumerate(labels)}

    def base_index(text: str, why: str) -> int:
        if text not in index_of:
            raise DataError(f"{labels_path}: missing label {text!r} ({why})")
        return index_of[text]

    train, val = (
        checks.check_table(t, f"{t}.csv", files.rows(sdir / f"{t}.csv"), n)
        for t in ("train", "val")
    )
    fine_indices = {
        g: tuple(base_index(m, f"fine member of group {g!r}") for m in scheme[g])
        for g in layout.kept_fine(name)
    }
    for members in scheme.values():
        if len(members) == 1:
            base_index(members[0], "singleton group")
    findings: list[str] = []
    sets: list[checks.TargetSets] = []
    read: list[tuple[str, int, list[Rows]]] = []
    for g in partition[name]:
        tdir = sdir / g
        if not tdir.is_dir():
            raise DataError(f"{tdir}: split-target folder is missing")
        c = base_index(g, "split target")
        read.append((g, c, [files.rows(tdir / f) for f in SET_FILES.values()]))
    # one lookup per table for all targets' sets: most of the reader's time otherwise
    ft = iter(checks.locate(train, [r[2][0] for r in read]))
    eq_un = iter(checks.locate(val, [x for r in read for x in r[2][1:]]))
    for g, c, _ in read:
        fine = scheme[g]
        ts = checks.target_sets(
            str(sdir / g), c, len(fine), n, train, val, next(ft), next(eq_un), next(eq_un)
        )
        sets.append(ts)
        here = f"{spec.display_name}/{name} target {c} {g!r}"
        if len(ts.excluded_val) or len(ts.excluded_train):
            namesake = [h for h, members in scheme.items() if h != g and g in members]
            why = (
                "they belong to an identically named fine label"
                if namesake
                else "no set file lists them"
            )
            findings.append(
                f"{here}: {len(ts.excluded_val)} val and {len(ts.excluded_train)} train videos "
                f"labelled {c} are in none of its sets ({why}); excluded from scoring"
            )
        for which, vs in (("ft", ts.ft), ("equivalent", ts.equivalent)):
            counts = np.bincount(vs.labels - n, minlength=len(fine))
            for zero in np.flatnonzero(counts == 0).tolist():
                findings.append(
                    f"{here}: subcategory {n + zero} {fine[zero]!r} has 0 {which} videos"
                )
    targets = {index_of[g] for g in partition[name]}
    for group, indices in fine_indices.items():
        for text, idx in zip(scheme[group], indices, strict=True):
            if idx in targets:
                findings.append(
                    f"{spec.display_name}/{name}: base class {idx} {text!r} is both a split "
                    f"target and the identically named member of fine group {group!r}"
                )
    return ParsedSubset(labels, train.table, val.table, tuple(sets), tuple(findings))


def _assemble(
    layout: _Layout,
    name: str,
    parsed: ParsedSubset,
    modifiers: ModifierLookup,
    split_types: Mapping[str, tuple[str, ...]],
) -> Subset:
    """The data model of a parsed (freshly or from the cache) subset."""
    scheme = layout.scheme
    index_of = {text: i for i, text in enumerate(parsed.labels)}
    n = len(parsed.labels)
    fine_groups = tuple(
        FineGroup(g, scheme[g], tuple(index_of[m] for m in scheme[g]), modifiers(g, scheme[g]))
        for g in layout.kept_fine(name)
    )
    targets = tuple(
        SplitTarget(
            subset=name,
            name=g,
            coarse_index=index_of[g],
            fine_labels=scheme[g],
            fine_indices=tuple(range(n, n + len(scheme[g]))),
            modifiers=modifiers(g, scheme[g]),
            ft=ts.ft,
            equivalent=ts.equivalent,
            unrelated=ts.unrelated,
            split_types=tuple(split_types.get(g, ())),
            excluded_val=ts.excluded_val,
            excluded_train=ts.excluded_train,
        )
        for g, ts in zip(layout.partition[name], parsed.sets, strict=True)
    )
    return Subset(
        benchmark=layout.spec.name,
        name=name,
        labels=parsed.labels,
        train=parsed.train,
        val=parsed.val,
        targets=targets,
        fine_groups=fine_groups,
        singletons=tuple(index_of[m[0]] for m in scheme.values() if len(m) == 1),
        findings=parsed.findings,
    )
