"""A benchmark as a Hub dataset: the writer and its card (layout in :mod:`.benchmark_format`).

:func:`load_hub_benchmark` (in :mod:`.benchmark_load`) reads a folder back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from splitbench.benchmarks.model import Benchmark, Subset, VideoSet
from splitbench.benchmarks.official import PAPER_CITATION
from splitbench.benchmarks.stats import subset_stats
from splitbench.hub import cards
from splitbench.hub.benchmark_format import (
    FORMAT,
    LABEL_COLUMNS,
    MARKER,
    SET_COLUMNS,
    TARGET_COLUMNS,
    config_layout,
)
from splitbench.hub.benchmark_load import load_hub_benchmark
from splitbench.hub.digests import record_digests
from splitbench.hub.folder import (
    WrittenFolder,
    features_of,
    prepare_out,
    write_parquet,
)
from splitbench.hub.marker import finish_folder, folder_card

if TYPE_CHECKING:
    import pandas as pd


__all__ = ["MARKER", "benchmark_card", "load_hub_benchmark", "write_benchmark_folder"]


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
                pa.table(
                    {"video": pa.array(table.videos.tolist(), pa.string()), "label": table.labels}
                ),
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
    return finish_folder(out, MARKER, meta, benchmark_card(bench, repo_id, layout))


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
    return folder_card(
        "benchmark.md",
        layout,
        rows=rows,
        tags=["category-splitting", "model-editing", "fine-grained", "splitbench"],
        simulation=bench.simulation,
        fields={
            "pretty_name": bench.display_name,
            "license": facts.license,
            "license_name": facts.license_name,
            "license_link": facts.license_link,
            "language": ["en"],
            "source_datasets": list(facts.source_datasets),
        },
        context={
            "bench": bench,
            "repo_id": repo_id,
            "facts": facts,
            "upstream": _upstream(bench),
            "upstream_url": cards.UPSTREAM_URL,
            "upstream_repo": cards.UPSTREAM_REPO,
            "upstream_checked_commit": cards.UPSTREAM_CHECKED_COMMIT,
            "stats": stats,
            "targets": targets,
            "findings": {n: list(s.findings) for n, s in bench.subsets.items()},
            "subsets": list(bench.subsets),
            "citation": bench.citation or PAPER_CITATION,
            "format": FORMAT,
        },
    )
