"""A benchmark as a Hub dataset: writer and loader.

Folder (one dataset repository)::

    README.md                    dataset card; YAML ``configs:`` index every file below
    splitbench-benchmark.json    identity, group scheme, partition, findings
    <S>/train.parquet, val.parquet   config ``<S>``: the base model's video lists
    <S>/targets.parquet          config ``<S>-targets``: one row per split target
    <S>/sets.parquet             config ``<S>-sets``: ft, equivalent and excluded-val rows
    <S>/labels.parquet           config ``<S>-labels``: the label space and each label's role

The unrelated set of a target is not stored: it is every val video that is neither in the
target's equivalent set nor among its excluded val videos (val videos labelled with the
coarse index that the official files put in no set, e.g. FineGym-Split A target 134), in val
order, with val labels. This is exactly how the official reader defines it, so loading gives
the official reader's data model back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from splitbench.benchmarks import checks
from splitbench.benchmarks.checks import Rows
from splitbench.benchmarks.model import Benchmark, FineGroup, SplitTarget, Subset, VideoSet
from splitbench.benchmarks.official import PAPER_CITATION
from splitbench.benchmarks.official_rules import cross_check
from splitbench.benchmarks.stats import subset_stats
from splitbench.errors import DataError
from splitbench.hub import cards
from splitbench.hub.digests import digest_checker, record_digests
from splitbench.hub.folder import (
    WrittenFolder,
    config_files,
    configs_card_field,
    features_of,
    prepare_out,
    read_card_configs,
    read_json,
    read_parquet,
    require,
    write_json,
    write_parquet,
    written,
)
from splitbench.hub.source import resolve_folder

if TYPE_CHECKING:
    import pandas as pd

FORMAT = "splitbench.hub.benchmark/1"
MARKER = "splitbench-benchmark.json"
ROLES = ("split target", "fine", "singleton", "base")

_STR, _INT = pa.string(), pa.int64()
VIDEO_COLUMNS = {"video": _STR, "label": _INT}
TARGET_COLUMNS = {
    "coarse_index": _INT,
    "coarse_label": _STR,
    "key": _STR,
    "k": _INT,
    "fine_labels": pa.list_(_STR),
    "fine_indices": pa.list_(_INT),
    "modifiers": pa.list_(_STR),
    "split_types": pa.list_(_STR),
    "n_ft": _INT,
    "n_equivalent": _INT,
    "n_unrelated": _INT,
    "n_excluded_val": _INT,
    "n_excluded_train": _INT,
}
SET_COLUMNS = {"coarse_index": _INT, "set": _STR, "video": _STR, "label": _INT}
LABEL_COLUMNS = {"index": _INT, "label": _STR, "role": _STR, "group": _STR, "modifier": _STR}
STORED_SETS = ("ft", "equivalent", "excluded_val")


def config_layout(subset: str) -> dict[str, dict[str, list[str]]]:
    """Config → split → files of one subset."""
    return {
        subset: {"train": [f"{subset}/train.parquet"], "val": [f"{subset}/val.parquet"]},
        f"{subset}-targets": {"targets": [f"{subset}/targets.parquet"]},
        f"{subset}-sets": {"sets": [f"{subset}/sets.parquet"]},
        f"{subset}-labels": {"labels": [f"{subset}/labels.parquet"]},
    }


# -- writing ------------------------------------------------------------------------------


def write_benchmark_folder(bench: Benchmark, out: Path, repo_id: str) -> WrittenFolder:
    """Write ``bench`` as a hub dataset folder (overwriting what ``out`` holds).

    Args:
        bench: The benchmark (from the official reader, or loaded from the hub).
        out: Folder to write; created, and emptied of a previous benchmark folder.
        repo_id: ``ORG/NAME`` the card's snippets refer to.

    Raises:
        DataError: when ``out`` holds files that are not a benchmark folder.
    """
    from datasets import ClassLabel, Features, Value

    prepare_out(out, MARKER)
    layout: dict[str, dict[str, list[str]]] = {}
    for name, s in bench.subsets.items():
        layout.update(config_layout(name))
        label_feature = ClassLabel(names=list(s.labels))
        vfeat = Features({"video": Value("string"), "label": label_feature})
        for table in (s.train, s.val):
            write_parquet(
                out / name / f"{table.name}.parquet",
                pa.table({"video": pa.array(table.videos.tolist(), _STR), "label": table.labels}),
                vfeat,
            )
        write_parquet(
            out / name / "targets.parquet", _targets_table(s), features_of(TARGET_COLUMNS)
        )
        write_parquet(out / name / "sets.parquet", _sets_table(s), features_of(SET_COLUMNS))
        write_parquet(
            out / name / "labels.parquet", _labels_table(s, bench), features_of(LABEL_COLUMNS)
        )
    meta = _metadata(bench)
    meta["digests"] = record_digests(
        out, [f for splits in layout.values() for files in splits.values() for f in files]
    )
    write_json(out / MARKER, meta)
    card = benchmark_card(bench, repo_id, layout)
    card.save(out / "README.md")
    return written(out)


def _targets_table(s: Subset) -> pa.Table:
    rows: dict[str, list[Any]] = {k: [] for k in TARGET_COLUMNS}
    for t in s.targets:
        for key, value in (
            ("coarse_index", t.coarse_index),
            ("coarse_label", t.name),
            ("key", t.key),
            ("k", t.k),
            ("fine_labels", list(t.fine_labels)),
            ("fine_indices", list(t.fine_indices)),
            ("modifiers", list(t.modifiers)),
            ("split_types", list(t.split_types)),
            ("n_ft", len(t.ft)),
            ("n_equivalent", len(t.equivalent)),
            ("n_unrelated", len(t.unrelated)),
            ("n_excluded_val", len(t.excluded_val)),
            ("n_excluded_train", len(t.excluded_train)),
        ):
            rows[key].append(value)
    return pa.table({k: pa.array(v, TARGET_COLUMNS[k]) for k, v in rows.items()})


def _sets_table(s: Subset) -> pa.Table:
    import pandas as pd

    parts: list[pd.DataFrame] = []
    for t in s.targets:
        excluded = VideoSet(
            "excluded_val", "val", t.excluded_val, s.val.labels[t.excluded_val].astype(np.int64)
        )
        for vs in (t.ft, t.equivalent, excluded):
            table = s.train if vs.table == "train" else s.val
            parts.append(
                pd.DataFrame(
                    {
                        "coarse_index": np.full(len(vs), t.coarse_index, dtype=np.int64),
                        "set": vs.name,
                        "video": table.videos[vs.rows].astype(str),
                        "label": vs.labels.astype(np.int64),
                    }
                )
            )
    if not parts:
        return pa.table({n: pa.array([], t) for n, t in SET_COLUMNS.items()})
    frame = pd.concat(parts, ignore_index=True)
    return pa.Table.from_pandas(frame, preserve_index=False)


def _labels_table(s: Subset, bench: Benchmark) -> pa.Table:
    singleton_group = {m[0]: g for g, m in bench.group_scheme.items() if len(m) == 1}
    rows: list[tuple[int, str, str, str, str]] = []
    for t in s.targets:
        rows.append((t.coarse_index, t.name, "split target", t.name, ""))
    for fg in s.fine_groups:
        for text, idx, mod in zip(fg.members, fg.indices, fg.modifiers, strict=True):
            rows.append((idx, text, "fine", fg.name, mod))
    for idx in s.singletons:
        text = s.labels[idx]
        rows.append((idx, text, "singleton", singleton_group.get(text, text), ""))
    covered = {r[0] for r in rows}
    rows.extend((i, text, "base", "", "") for i, text in enumerate(s.labels) if i not in covered)
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(LABEL_COLUMNS)
    return pa.table(
        {
            name: pa.array(list(col), LABEL_COLUMNS[name])
            for name, col in zip(LABEL_COLUMNS, cols, strict=True)
        }
    )


def _upstream(bench: Benchmark) -> str:
    facts = cards.facts_for(bench.name, bench.simulation)
    if facts.upstream:
        return facts.upstream
    return Path(bench.source).name if Path(bench.source).is_absolute() else bench.source


def _metadata(bench: Benchmark) -> dict[str, Any]:
    out = {
        "format": FORMAT,
        "name": bench.name,
        "display_name": bench.display_name,
        "version": bench.version,
        "simulation": bench.simulation,
        "modifier_source": bench.modifier_source,
        "citation": bench.citation,
        "upstream": {"source": _upstream(bench), "revision": bench.revision},
        "group_scheme": {g: list(m) for g, m in bench.group_scheme.items()},
        "partition": {s: list(g) for s, g in bench.partition.items()},
        "subsets": {n: {"findings": list(s.findings)} for n, s in bench.subsets.items()},
    }
    if bench.video_size is not None:  # the videos' preprocessing travels with the benchmark
        out["video_size"] = list(bench.video_size)
    return out


def benchmark_card(
    bench: Benchmark, repo_id: str, layout: Mapping[str, Mapping[str, Sequence[str]]]
) -> Any:
    """Render the benchmark's dataset card (a ``huggingface_hub.DatasetCard``)."""
    facts = cards.facts_for(bench.name, bench.simulation)
    stats = []
    targets = []
    rows = 0
    for name, s in bench.subsets.items():
        st = subset_stats(s)
        rows = max(rows, st.base_videos + st.val_videos)
        stats.append({"subset": name, **st.__dict__})
        targets.append(
            {
                "subset": name,
                "rows": [
                    {
                        "index": t.coarse_index,
                        "name": t.name,
                        "k": t.k,
                        "ft": len(t.ft),
                        "equivalent": len(t.equivalent),
                        "unrelated": len(t.unrelated),
                        "excluded": len(t.excluded_val),
                    }
                    for t in s.targets
                ],
            }
        )
    data = cards.card_data(
        pretty_name=bench.display_name,
        license=facts.license,
        license_name=facts.license_name,
        license_link=facts.license_link,
        language=["en"],
        task_categories=["video-classification"],
        size_categories=[cards.size_category(rows)],
        source_datasets=list(facts.source_datasets),
        tags=["category-splitting", "model-editing", "fine-grained", "splitbench"]
        + (["simulation"] if bench.simulation else []),
        configs=configs_card_field(layout),
    )
    return cards.render_card(
        "benchmark.md",
        data,
        bench=bench,
        repo_id=repo_id,
        facts=facts,
        upstream=_upstream(bench),
        upstream_url=cards.UPSTREAM_URL,
        upstream_repo=cards.UPSTREAM_REPO,
        upstream_checked_commit=cards.UPSTREAM_CHECKED_COMMIT,
        stats=stats,
        targets=targets,
        findings={n: list(s.findings) for n, s in bench.subsets.items()},
        subsets=list(bench.subsets),
        citation=bench.citation or PAPER_CITATION,
        format=FORMAT,
    )


# -- loading ------------------------------------------------------------------------------


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
    where = resolve_folder(spec, MARKER, "benchmark")
    folder = where.path
    meta_path = folder / MARKER
    raw = read_json(meta_path, FORMAT)
    scheme_raw = require(raw, "group_scheme", dict, meta_path)
    partition_raw = require(raw, "partition", dict, meta_path)
    subsets_raw = require(raw, "subsets", dict, meta_path)
    wanted = list(subsets) if subsets else list(subsets_raw)
    for name in wanted:
        if name not in subsets_raw:
            raise DataError(f"{meta_path}: no subset {name!r} (has {', '.join(subsets_raw)})")
    configs = read_card_configs(folder)
    name = require(raw, "name", str, meta_path)
    loaded = {s: _load_subset(folder, configs, raw, s, meta_path) for s in wanted}
    if len(loaded) == 2:  # fine indices against the other subset's base labels, as read_official
        cross_check(loaded)
    return Benchmark(
        name=name,
        display_name=require(raw, "display_name", str, meta_path),
        version=require(raw, "version", str, meta_path),
        subsets=loaded,
        group_scheme={g: tuple(m) for g, m in scheme_raw.items()},
        partition={s: tuple(g) for s, g in partition_raw.items()},
        simulation=require(raw, "simulation", bool, meta_path),
        source=where.source,
        revision=where.revision,
        modifier_source=require(raw, "modifier_source", str, meta_path),
        citation=require(raw, "citation", str, meta_path),
        video_size=_video_size(raw.get("video_size"), meta_path),
    )


def _video_size(raw: Any, where: Path) -> tuple[int, int] | None:
    if raw is None:
        return None
    if not (isinstance(raw, list) and len(raw) == 2 and all(isinstance(x, int) for x in raw)):
        raise DataError(f"{where}: video_size must be [width, height] integers, got {raw!r}")
    return int(raw[0]), int(raw[1])


def _load_subset(
    folder: Path,
    configs: Mapping[str, Mapping[str, Sequence[str]]],
    meta: Mapping[str, Any],
    name: str,
    meta_path: Path,
) -> Subset:
    raw = meta["subsets"][name]
    if not isinstance(raw, dict) or not isinstance(raw.get("findings"), list):
        raise DataError(f"{meta_path}: subsets.{name}.findings must be a list")
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
    scheme = meta["group_scheme"]
    targets = []
    for i, row in enumerate(tt.to_pylist()):
        c, k = _target_row(targets_path, i, row, labels, scheme, meta["partition"].get(name, ()))

        def part(kind: str, c: int = c) -> Rows:
            at = np.flatnonzero((coarse_of == c) & (kinds == kind))
            return _rows(f"{sets_path} (target {c}, set {kind})", sets.take(at), line=at + 1)

        # the unrelated set is not stored: every val video neither equivalent nor excluded
        equivalent, excluded = checks.locate(val, [part("equivalent"), part("excluded_val")])
        for rows in (equivalent, excluded):
            checks.check_unique(rows)
            checks.positions(val, rows)
        checks.check_range(excluded.where, excluded.labels, c, c + 1, f"coarse index {c}", excluded)
        keep = np.ones(len(val.ids), dtype=bool)
        keep[equivalent.pos] = False
        keep[excluded.pos] = False
        un = np.flatnonzero(keep).astype(np.int64)
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
        benchmark=str(meta["name"]),
        name=name,
        labels=labels,
        train=train.table,
        val=val.table,
        targets=tuple(targets),
        fine_groups=fine_groups,
        singletons=singletons,
        findings=tuple(str(f) for f in raw["findings"]),
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
