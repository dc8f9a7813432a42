"""The layout of a benchmark as a Hub dataset: file names, columns, configs.

Folder (one dataset repository)::

    README.md                    dataset card; YAML ``configs:`` index every file below
    splitbench-benchmark.json    identity, group scheme, partition, findings, file digests
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

import pyarrow as pa

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
