"""Loading a benchmark from a Hub dataset folder, checked like the official files.

The rows go through :mod:`splitbench.benchmarks.checks`, the official reader's checks
(labels, sets, fine indices, val membership) and, with both subsets, its A/B cross-check;
every file is first verified against the digest recorded at push (folders from before
digests: one note, structure still checked).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from splitbench.benchmarks import checks
from splitbench.benchmarks.checks import Rows
from splitbench.benchmarks.model import Benchmark, FineGroup, SplitTarget, Subset
from splitbench.benchmarks.official_rules import cross_check
from splitbench.errors import DataError
from splitbench.hub.benchmark_format import (
    FORMAT,
    LABEL_COLUMNS,
    MARKER,
    ROLES,
    SET_COLUMNS,
    STORED_SETS,
    TARGET_COLUMNS,
    VIDEO_COLUMNS,
    config_layout,
)
from splitbench.hub.digests import digest_checker
from splitbench.hub.folder import config_files, read_parquet
from splitbench.hub.marker import OpenedFolder, open_folder
from splitbench.hub.marker_models import BenchmarkMarker, validate_marker

if TYPE_CHECKING:
    import pandas as pd


def load_hub_benchmark(spec: str | Path, subsets: Sequence[str] | None = None) -> Benchmark:
    """Load a benchmark from ``hf://ORG/NAME[@REVISION]`` or a local hub folder.

    Args:
        spec: Hub reference or folder.
        subsets: Subsets to load (default all in the folder).

    Returns:
        The same data model the official reader gives, with ``source`` and ``revision``
        naming the hub commit (or the folder and its content hash).

    Raises:
        DataError: one line naming the missing or malformed part.
    """
    opened = open_folder(spec, MARKER, FORMAT, "benchmark")
    marker = validate_marker(BenchmarkMarker, opened.meta, opened.meta_path)
    named = {s.lower(): s for s in opened.subsets}  # subset names are case-insensitive
    wanted = [named.get(s.lower(), s) for s in subsets] if subsets else list(opened.subsets)
    for name in wanted:
        if name not in opened.subsets:
            raise DataError(
                f"{opened.meta_path}: no subset {name!r} (has {', '.join(opened.subsets)})"
            )
    loaded = {s: _load_subset(opened, marker, s) for s in wanted}
    if len(loaded) == 2:  # fine indices against the other subset's base labels, as read_official
        cross_check(loaded)
    return Benchmark(
        name=marker.name,
        display_name=marker.display_name,
        version=marker.version,
        subsets=loaded,
        group_scheme={g: tuple(m) for g, m in marker.group_scheme.items()},
        partition={s: tuple(g) for s, g in marker.partition.items()},
        simulation=marker.simulation,
        source=opened.where.source,
        revision=opened.where.revision,
        modifier_source=marker.modifier_source,
        citation=marker.citation,
        video_size=marker.video_size,
    )


def _load_subset(opened: OpenedFolder, marker: BenchmarkMarker, name: str) -> Subset:
    folder, configs, meta, meta_path = opened.path, opened.configs, opened.meta, opened.meta_path
    verify = digest_checker(folder, meta.get("digests"), str(meta_path), "hub benchmark")
    files = {
        (cfg, split): config_files(folder, configs, cfg, split)
        for cfg, splits in config_layout(name).items()
        for split in splits
    }

    def table(cfg: str, split: str, columns: Mapping[str, pa.DataType]) -> tuple[Path, pa.Table]:
        paths = files[(cfg, split)]
        for p in paths:
            verify(p)
        return paths[0], read_parquet(paths, columns)

    labels_path, lab = table(f"{name}-labels", "labels", LABEL_COLUMNS)
    labels, fine_groups, singletons = _label_space(lab.to_pandas(), labels_path)
    n = len(labels)
    train, val = (
        checks.check_table(t, path.name, _rows(str(path), tab), n)
        for t in ("train", "val")
        for path, tab in [table(name, t, VIDEO_COLUMNS)]
    )
    targets_path, tt = table(f"{name}-targets", "targets", TARGET_COLUMNS)
    sets_path, sets = table(f"{name}-sets", "sets", SET_COLUMNS)
    kinds = np.asarray(sets.column("set").to_pylist(), dtype=object)
    unknown = set(kinds.tolist()) - set(STORED_SETS)
    if unknown:
        raise DataError(
            f"{sets_path}: unknown set {sorted(unknown)[0]!r} (expected one of "
            f"{', '.join(STORED_SETS)})"
        )
    coarse_of = sets.column("coarse_index").to_numpy()
    scheme = marker.group_scheme
    targets = []
    for i, row in enumerate(tt.to_pylist()):
        c, k = _target_row(targets_path, i, row, labels, scheme, marker.partition.get(name, ()))

        def part(kind: str, c: int = c) -> Rows:
            at = np.flatnonzero((coarse_of == c) & (kinds == kind))
            return _rows(f"{sets_path} (target {c}, set {kind})", sets.take(at), line=at + 1)

        # the unrelated set is not stored: every val video neither equivalent nor excluded
        equivalent, excluded = checks.locate(val, [part("equivalent"), part("excluded_val")])
        for rows in (equivalent, excluded):
            checks.check_unique(rows)
            checks.positions(val, rows)
        checks.check_range(excluded, c, c + 1, f"coarse index {c}")
        assert equivalent.pos is not None and excluded.pos is not None
        un = checks.rest_rows(len(val.ids), equivalent.pos, excluded.pos)
        unrelated = checks.Rows(
            f"{sets_path} (target {c}, unrelated = val minus equivalent and excluded_val)",
            val.ids.take(un),
            val.table.labels[un],
            pos=un,
        )
        ts = checks.target_sets(
            f"{sets_path} (target {c})", c, k, n, train, val, part("ft"), equivalent, unrelated
        )
        target = SplitTarget(
            subset=name,
            name=str(row["coarse_label"]),
            coarse_index=c,
            fine_labels=tuple(row["fine_labels"]),
            fine_indices=tuple(range(n, n + k)),
            modifiers=tuple(row["modifiers"]),
            ft=ts.ft,
            equivalent=ts.equivalent,
            unrelated=ts.unrelated,
            split_types=tuple(row["split_types"]),
            excluded_val=ts.excluded_val,
            excluded_train=ts.excluded_train,
        )
        _check_counts(targets_path, target, row)
        targets.append(target)
    stray = set(coarse_of.tolist()) - {t.coarse_index for t in targets}
    if stray:
        raise DataError(f"{sets_path}: rows for coarse index {min(stray)}, which is not a target")
    return Subset(
        benchmark=marker.name,
        name=name,
        labels=labels,
        train=train.table,
        val=val.table,
        targets=tuple(targets),
        fine_groups=fine_groups,
        singletons=singletons,
        findings=tuple(str(f) for f in marker.subsets[name].findings),
    )


def _rows(where: str, table: pa.Table, line: np.ndarray | None = None) -> Rows:
    videos = table.column("video").combine_chunks()
    return Rows(where, videos, table.column("label").to_numpy().astype(np.int64), line)


def _target_row(
    path: Path,
    i: int,
    row: Mapping[str, Any],
    labels: Sequence[str],
    scheme: Mapping[str, Sequence[str]],
    partition: Sequence[str],
) -> tuple[int, int]:
    """Check a ``targets.parquet`` row against the label space and the group scheme."""
    c, k, text = int(row["coarse_index"]), int(row["k"]), row["coarse_label"]
    at = f"{path}: row {i + 1}: target {c}"
    if not 0 <= c < len(labels):
        raise DataError(f"{at}: coarse_index {c} is not a base label index")
    if text != labels[c] or text not in partition:
        raise DataError(
            f"{at}: field 'coarse_label' is {text!r}; expected label {c} of labels.parquet "
            f"({labels[c]!r}), a group of this subset in {MARKER}"
        )
    fine, group = list(row["fine_labels"]), list(scheme.get(text, ()))
    if fine != group or len(fine) != k:
        raise DataError(
            f"{at}: field 'fine_labels' is {fine!r}; expected the group's labels in {MARKER} "
            f"({group!r}), k = {k} of them"
        )
    n = len(labels)
    if list(row["fine_indices"]) != list(range(n, n + k)) or len(row["modifiers"]) != k:
        raise DataError(
            f"{at}: expected fine_indices {n}..{n + k - 1} and {k} modifiers (field "
            f"'fine_indices' is {list(row['fine_indices'])!r})"
        )
    return c, k


def _label_space(
    lab: pd.DataFrame, path: Path
) -> tuple[tuple[str, ...], tuple[FineGroup, ...], tuple[int, ...]]:
    bad = set(lab["role"]) - set(ROLES)
    if bad:
        raise DataError(f"{path}: unknown role {sorted(bad)[0]!r} (expected {', '.join(ROLES)})")
    text_of: dict[int, str] = {}
    for idx, text in zip(lab["index"].tolist(), lab["label"].tolist(), strict=True):
        if text_of.setdefault(int(idx), str(text)) != text:
            raise DataError(f"{path}: index {idx} has two labels ({text_of[idx]!r}, {text!r})")
    n = len(text_of)
    if sorted(text_of) != list(range(n)):
        raise DataError(f"{path}: label indices must be exactly 0..{n - 1}")
    groups: dict[str, list[tuple[str, int, str]]] = {}
    fine = lab[lab["role"] == "fine"]
    for g, text, idx, mod in zip(
        fine["group"], fine["label"], fine["index"], fine["modifier"], strict=True
    ):
        groups.setdefault(str(g), []).append((str(text), int(idx), str(mod)))
    fine_groups = tuple(
        FineGroup(
            g,
            tuple(m[0] for m in members),
            tuple(m[1] for m in members),
            tuple(m[2] for m in members),
        )
        for g, members in groups.items()
    )
    singletons = tuple(int(i) for i in lab.loc[lab["role"] == "singleton", "index"])
    return tuple(text_of[i] for i in range(n)), fine_groups, singletons


def _check_counts(path: Path, t: SplitTarget, row: Mapping[str, Any]) -> None:
    for col, got in (
        ("n_ft", len(t.ft)),
        ("n_equivalent", len(t.equivalent)),
        ("n_unrelated", len(t.unrelated)),
        ("n_excluded_val", len(t.excluded_val)),
        ("n_excluded_train", len(t.excluded_train)),
    ):
        if int(row[col]) != got:
            raise DataError(
                f"{path}: target {t.coarse_index}: {col} is {row[col]} but the sets give {got} "
                f"(the folder is incomplete or corrupted)"
            )
