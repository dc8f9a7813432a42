"""Per-video evidence: the predictions behind one unit result, as a parquet file.

``splitbench run --log-samples`` writes ``seed<S>.samples.parquet`` next to ``seed<S>.json``:
one row per video of the target's equivalent and unrelated sets, with the edited model's and
the original model's prediction and top-k probabilities. "Original" is the unedited head
with the coarse class masked, exactly as the protocol scores it (paper-brief §3), so every
count of the unit result can be recomputed from the file (:func:`counts_from_samples`).

Columns:

=====================  ==========================================================
``set``                ``equivalent`` or ``unrelated``
``row``                row of the video in the subset's val table
``video``              video id
``label``              ground truth (fine index N + j for equivalent, base label otherwise)
``pred``               edited-model prediction (the argmax the scorer took)
``pred_original``      original-model prediction (coarse class masked)
``topk``               edited-model top-k indices over Y' (|Y| old classes, then k new)
``topk_prob``          their probabilities
``topk_original``      original-model top-k indices
``topk_original_prob`` their probabilities
=====================  ==========================================================

The file's key-value metadata (``splitbench``) holds the schema id, the coarse index, k, |Y|
and the texts of all |Y| + k labels, so the evidence reads without the benchmark.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from splitbench.errors import DataError
from splitbench.results.io import atomic_path
from splitbench.results.schema import UnitCounts

if TYPE_CHECKING:  # pandas only for the reader's return type: the runner never needs it
    import pandas as pd

SAMPLES_SCHEMA = "splitbench.samples/1"
DEFAULT_TOP_K = 5
_META_KEY = b"splitbench"


def samples_path(result_path: Path) -> Path:
    """Path of the per-video log that goes with a unit result path."""
    return result_path.with_name(result_path.stem + ".samples.parquet")


@dataclass(frozen=True)
class SamplesMeta:
    """What a samples file says about itself.

    Attributes:
        coarse_index: The split target's coarse class c.
        k: Number of subcategories.
        num_classes: Size of the base label space |Y|.
        labels: Texts of the |Y| base labels followed by the k subcategories.
        top_k: How many classes each top-k column holds.
        schema: Schema id.
    """

    coarse_index: int
    k: int
    num_classes: int
    labels: tuple[str, ...]
    top_k: int
    schema: str = SAMPLES_SCHEMA

    def label(self, index: int) -> str:
        """Text of label ``index`` of the edited label space."""
        return self.labels[index]


def build_samples(
    *,
    equivalent_rows: np.ndarray,
    equivalent_labels: np.ndarray,
    unrelated_rows: np.ndarray,
    unrelated_labels: np.ndarray,
    videos: np.ndarray,
    probs: np.ndarray,
    probs_original: np.ndarray,
    pred: np.ndarray,
    pred_original: np.ndarray,
    meta: SamplesMeta,
) -> pa.Table:
    """Build the per-video table of one unit.

    Args:
        equivalent_rows: Val rows of the equivalent set.
        equivalent_labels: Their fine indices.
        unrelated_rows: Val rows of the unrelated set.
        unrelated_labels: Their base labels.
        videos: Video id of every val row.
        probs: ``(N, |Y| + k)`` probabilities the edited prediction was taken from.
        probs_original: ``(N, |Y|)`` original-model probabilities (coarse class masked).
        pred: Edited prediction of every val row.
        pred_original: Original prediction of every val row.
        meta: Identity of the file (written into its metadata).
    """
    rows = np.concatenate([equivalent_rows, unrelated_rows]).astype(np.int64)
    kind = ["equivalent"] * len(equivalent_rows) + ["unrelated"] * len(unrelated_rows)
    top_e, prob_e = _top_k(probs[rows], meta.top_k)
    top_o, prob_o = _top_k(probs_original[rows], meta.top_k)
    table = pa.table(
        {
            "set": pa.array(kind, pa.string()).dictionary_encode(),
            "row": pa.array(rows, pa.int32()),
            "video": pa.array([str(v) for v in videos[rows]], pa.string()),
            "label": pa.array(
                np.concatenate([equivalent_labels, unrelated_labels]).astype(np.int32)
            ),
            "pred": pa.array(pred[rows].astype(np.int32)),
            "pred_original": pa.array(pred_original[rows].astype(np.int32)),
            "topk": _list_column(top_e, pa.int32()),
            "topk_prob": _list_column(prob_e, pa.float32()),
            "topk_original": _list_column(top_o, pa.int32()),
            "topk_original_prob": _list_column(prob_o, pa.float32()),
        }
    )
    blob = json.dumps(
        {
            "schema": meta.schema,
            "coarse_index": meta.coarse_index,
            "k": meta.k,
            "num_classes": meta.num_classes,
            "top_k": meta.top_k,
            "labels": list(meta.labels),
        }
    )
    return table.replace_schema_metadata({_META_KEY: blob.encode()})


def _top_k(p: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k indices and probabilities per row, highest first.

    The order among exactly equal probabilities is unspecified; ``pred`` is the scorer's
    own argmax and is what every count is recomputed from.
    """
    import torch

    values, indices = torch.topk(torch.from_numpy(p), min(k, p.shape[1]), dim=1)
    return indices.numpy(), values.numpy()


def _list_column(values: np.ndarray, dtype: pa.DataType) -> pa.FixedSizeListArray:
    flat = pa.array(values.reshape(-1).astype(dtype.to_pandas_dtype()), dtype)
    return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])


def write_samples(path: Path, table: pa.Table) -> None:
    """Write ``table`` to ``path`` atomically (temp file in the same folder, then rename)."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def _meta_from(raw_meta: dict[bytes, bytes], path: Path) -> SamplesMeta:
    raw: Any = None
    try:
        raw = json.loads(raw_meta[_META_KEY])
        if raw.get("schema") != SAMPLES_SCHEMA:
            raise DataError(
                f"{path}: samples schema {raw.get('schema')!r}, this splitbench reads "
                f"{SAMPLES_SCHEMA!r}"
            )
        return SamplesMeta(
            coarse_index=int(raw["coarse_index"]),
            k=int(raw["k"]),
            num_classes=int(raw["num_classes"]),
            labels=tuple(str(x) for x in raw["labels"]),
            top_k=int(raw["top_k"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise DataError(f"{path}: not a splitbench samples file (no valid metadata)") from None


def read_samples(path: Path) -> tuple[pd.DataFrame, SamplesMeta]:
    """Read a samples file as a DataFrame (``set`` as plain strings) and its metadata.

    Raises:
        DataError: if the file is unreadable, of another schema or lacks columns.
    """
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: unreadable samples file ({exc})") from None
    meta = _meta_from(table.schema.metadata or {}, path)
    needed = {"set", "row", "video", "label", "pred", "pred_original"}
    missing = needed - set(table.column_names)
    if missing:
        raise DataError(f"{path}: samples file lacks column(s) {', '.join(sorted(missing))}")
    df = table.to_pandas()
    df["set"] = df["set"].astype(str)
    return df, meta


def counts_from_samples(df: pd.DataFrame) -> UnitCounts:
    """Recompute a unit's raw counts from its per-video predictions.

    The same definitions as :func:`splitbench.protocol.scoring.count`.
    """
    eq = df[df["set"] == "equivalent"]
    un = df[df["set"] == "unrelated"]
    pred_u, orig_u, lab_u = (un[c].to_numpy() for c in ("pred", "pred_original", "label"))
    return UnitCounts(
        equivalent_correct=int((eq["pred"].to_numpy() == eq["label"].to_numpy()).sum()),
        equivalent_total=len(eq),
        unrelated_correct_edited=int((pred_u == lab_u).sum()),
        unrelated_correct_original=int((orig_u == lab_u).sum()),
        unrelated_changed=int((pred_u != orig_u).sum()),
        unrelated_total=len(un),
    )
