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
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from splitbench.benchmarks.model import (
    Benchmark,
    FineGroup,
    SplitTarget,
    Subset,
    VideoSet,
    VideoTable,
)
from splitbench.benchmarks.official import PAPER_CITATION
from splitbench.benchmarks.stats import subset_stats
from splitbench.errors import DataError
from splitbench.hub import cards
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
    write_json(out / MARKER, _metadata(bench))
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
    loaded = {s: _load_subset(folder, configs, name, s, subsets_raw[s], meta_path) for s in wanted}
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
    bench: str,
    name: str,
    raw: Any,
    meta_path: Path,
) -> Subset:
    if not isinstance(raw, dict) or not isinstance(raw.get("findings"), list):
        raise DataError(f"{meta_path}: subsets.{name}.findings must be a list")
    files = {
        (cfg, split): config_files(folder, configs, cfg, split)
        for cfg, splits in config_layout(name).items()
        for split in splits
    }
    labels_paths = files[(f"{name}-labels", "labels")]
    lab = read_parquet(labels_paths, LABEL_COLUMNS).to_pandas()
    labels, fine_groups, singletons = _label_space(lab, labels_paths[0])
    n = len(labels)
    tables: dict[str, VideoTable] = {}
    for tname in ("train", "val"):
        paths = files[(name, tname)]
        t = read_parquet(paths, VIDEO_COLUMNS)
        videos = np.asarray(t.column("video").to_pylist(), dtype=object)
        labs = t.column("label").to_numpy().astype(np.int64)
        _check_range(paths[0], labs, 0, n, "a base label index")
        tables[tname] = VideoTable(tname, videos, labs)
    train, val = tables["train"], tables["val"]
    targets_path = files[(f"{name}-targets", "targets")]
    tt = read_parquet(targets_path, TARGET_COLUMNS).to_pylist()
    sets_path = files[(f"{name}-sets", "sets")]
    sets = read_parquet(sets_path, SET_COLUMNS).to_pandas()
    unknown = set(sets["set"].unique()) - set(STORED_SETS)
    if unknown:
        raise DataError(
            f"{sets_path[0]}: unknown set {sorted(unknown)[0]!r} (expected one of "
            f"{', '.join(STORED_SETS)})"
        )
    train_pos = pd.Index(train.videos)
    val_pos = pd.Index(val.videos)
    by_target = {int(c): g for c, g in sets.groupby("coarse_index", sort=False)}
    targets = []
    for row in tt:
        c, k = int(row["coarse_index"]), int(row["k"])
        if not 0 <= c < n:
            raise DataError(f"{targets_path[0]}: coarse_index {c} is not a base label index")
        if len(row["fine_labels"]) != k or list(row["fine_indices"]) != list(range(n, n + k)):
            raise DataError(
                f"{targets_path[0]}: target {c}: expected {k} fine labels with indices "
                f"{n}..{n + k - 1}"
            )
        group = by_target.pop(c, sets.iloc[0:0])
        vs: dict[str, VideoSet] = {}
        for set_name, table, index in (
            ("ft", train, train_pos),
            ("equivalent", val, val_pos),
            ("excluded_val", val, val_pos),
        ):
            part = group[group["set"] == set_name]
            rows = index.get_indexer(part["video"].to_numpy())
            if (rows < 0).any():
                v = part["video"].to_numpy()[int(np.flatnonzero(rows < 0)[0])]
                raise DataError(
                    f"{sets_path[0]}: target {c} {set_name}: video {v!r} is not in {table.name}"
                )
            labs = part["label"].to_numpy().astype(np.int64)
            if set_name == "excluded_val":
                _check_range(sets_path[0], labs, c, c + 1, f"coarse index {c} (target {c})")
            else:
                _check_range(sets_path[0], labs, n, n + k, f"a fine index of target {c}")
            vs[set_name] = VideoSet(set_name, table.name, rows.astype(np.int64), labs)
        excluded_val = vs.pop("excluded_val").rows
        keep = np.ones(len(val), dtype=bool)
        keep[vs["equivalent"].rows] = False
        keep[excluded_val] = False
        un_rows = np.flatnonzero(keep).astype(np.int64)
        in_ft = np.zeros(len(train), dtype=bool)
        in_ft[vs["ft"].rows] = True
        target = SplitTarget(
            subset=name,
            name=str(row["coarse_label"]),
            coarse_index=c,
            fine_labels=tuple(row["fine_labels"]),
            fine_indices=tuple(range(n, n + k)),
            modifiers=tuple(row["modifiers"]),
            ft=vs["ft"],
            equivalent=vs["equivalent"],
            unrelated=VideoSet("unrelated", "val", un_rows, val.labels[un_rows]),
            split_types=tuple(row["split_types"]),
            excluded_val=excluded_val,
            excluded_train=np.flatnonzero((train.labels == c) & ~in_ft).astype(np.int64),
        )
        _check_counts(targets_path[0], target, row)
        targets.append(target)
    if by_target:
        c = next(iter(by_target))
        raise DataError(f"{sets_path[0]}: rows for coarse index {c}, which is not a target")
    return Subset(
        benchmark=bench,
        name=name,
        labels=labels,
        train=train,
        val=val,
        targets=tuple(targets),
        fine_groups=fine_groups,
        singletons=singletons,
        findings=tuple(str(f) for f in raw["findings"]),
    )


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


def _check_range(path: Path, labels: np.ndarray, lo: int, hi: int, what: str) -> None:
    bad = (labels < lo) | (labels >= hi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: row {i + 1}: label {labels[i]} is not {what} [{lo}, {hi})")


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
