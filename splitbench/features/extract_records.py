"""What an extraction records: the store's metadata, the log of runs, and sanity figures.

* :func:`store_meta`: the identity of a store (benchmark, subset, encoder, views, dtypes).
* :func:`finish_run`: the run's record appended to ``extra.runs``, the counts and the
  backbone passes (one per stored video view, whichever process made it).
* :func:`sanity_figures`: the base classifier's accuracy from the stored features, computed
  by the harness's own scorer (:class:`~splitbench.core.scoring.SubsetScorer`), so the
  figure is what an unedited model scores under the benchmark's rules.
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Any

import numpy as np
import torch

from splitbench.benchmarks.model import Benchmark, Subset
from splitbench.core.provenance import library_versions
from splitbench.core.scoring import SubsetScorer
from splitbench.features.extract_config import ExtractConfig
from splitbench.features.extract_plan import ExtractionPlan
from splitbench.features.extract_run import ExtractReport
from splitbench.features.store import FeatureStore, StoreMeta
from splitbench.features.store_writer import StoreWriter
from splitbench.features.view_loader import Views


def store_meta(
    benchmark: Benchmark,
    subset: Subset,
    identity: dict[str, Any],
    views: Views,
    dim: int,
    cfg: ExtractConfig,
    compute_dtype: torch.dtype,
    extra: dict[str, Any] | None = None,
) -> StoreMeta:
    """The metadata of an extracted store (base model or VLM space) of ``subset``.

    Args:
        benchmark: The benchmark.
        subset: The subset.
        identity: The encoder's identity; the compute dtype is added to it.
        views: The view protocol or VLM views (their record is stored).
        dim: Feature dimension.
        cfg: How the run is configured (its store dtype).
        compute_dtype: The autocast dtype.
        extra: Initial free-form provenance.
    """
    return StoreMeta(
        benchmark=benchmark.name,
        benchmark_version=benchmark.version,
        benchmark_revision=benchmark.revision,
        subset=subset.name,
        model={**identity, "compute_dtype": str(compute_dtype).removeprefix("torch.")},
        view_protocol=views.record(),
        dtype=cfg.store_dtype,
        dim=dim,
        labels=list(subset.labels),
        simulation=False,
        extra=extra or {},
    )


def finish_run(
    writer: StoreWriter,
    report: ExtractReport,
    plan: ExtractionPlan,
    cfg: ExtractConfig,
    device: torch.device,
    compute_dtype: torch.dtype,
    start: float,
    *,
    run_extra: dict[str, Any] | None = None,
    **extra: Any,
) -> FeatureStore:
    """Time the run, append its record to ``extra.runs`` and finish the store.

    Args:
        writer: The store being written.
        report: The run's report (its ``wall_s`` is set here).
        plan: The run's plan (its planned counts are recorded).
        cfg: How the run was configured.
        device: The torch device used.
        compute_dtype: The autocast dtype used.
        start: ``time.perf_counter()`` when the run began.
        run_extra: Added to this run's record (e.g. the ranks of a distributed run).
        **extra: Further provenance, recorded after the skipped and planned videos.
    """
    report.wall_s = time.perf_counter() - start
    runs = list(writer.meta.extra.get("runs", []))
    runs.append({**run_record(report, cfg, device, compute_dtype), **(run_extra or {})})
    return writer.finish(
        backbone_passes=sum(sm.count * sm.views for sm in writer.meta.splits.values()),
        skipped=report.skipped,
        skipped_counts={s: len(v) for s, v in report.skipped.items()},
        planned={s: len(v) for s, v in plan.videos.items()},
        **extra,
        runs=runs,
    )


def train_selection(cfg: ExtractConfig) -> dict[str, Any]:
    """Which train videos the run was asked for (recorded as ``extra.train_selection``)."""
    if cfg.all_train:
        return {"all_train": True}
    return {
        "all_train": False,
        "shots": ["all" if s is None else s for s in cfg.shots],
        "seeds": list(cfg.seeds),
        "shot_policy": cfg.shot_policy,
    }


def run_record(
    report: ExtractReport, cfg: ExtractConfig, device: torch.device, dtype: torch.dtype
) -> dict[str, Any]:
    """What one run did and with which software (appended to ``extra.runs``)."""
    import av  # local, as in video.decode: PyAV loads FFmpeg's libraries on import

    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "device": str(device),
        "compute_dtype": str(dtype).removeprefix("torch."),
        "workers": cfg.workers,
        "batch_size": cfg.batch_size,
        "chunks_run": len(report.chunks_run),
        "videos_run": report.videos_run,
        "wall_s": round(report.wall_s, 3),
        "videos_per_s": round(report.videos_per_s, 3),
        "pyav": av.__version__,
        "ffmpeg": ".".join(str(x) for x in av.library_versions.get("libavcodec", ())),
        "libraries": library_versions(),
    }


def sanity_figures(subset: Subset, store: FeatureStore) -> dict[str, Any]:
    """The base model's val accuracy from the store, with and without the coarse mask.

    * ``accuracy``: top-1 over every extracted val video (view-averaged softmax, no mask);
    * per target: accuracy on its unrelated set without and with the coarse class masked
      (the latter is the original-model accuracy that locality divides by), and the coarse
      recall on its equivalent set (how often the base model predicts the coarse class);
    * ``*_mean``: those averaged over targets.

    Videos absent from the store are left out and counted in ``val_videos_missing``.
    """
    if not store.has_split("val"):  # every val video was skipped
        return {"val_videos_scored": 0, "val_videos_missing": len(subset.val)}
    split = store.split("val")
    pos = split.position
    table_rows = [r for r, v in enumerate(subset.val.videos) if str(v) in pos]
    where = np.full(len(subset.val), -1, dtype=np.int64)
    where[table_rows] = np.arange(len(table_rows))
    if not table_rows:
        return {"val_videos_scored": 0, "val_videos_missing": len(subset.val)}
    feats = torch.from_numpy(
        np.asarray(split.features[[pos[str(subset.val.videos[r])] for r in table_rows]], np.float32)
    )
    w, b = (torch.from_numpy(a) for a in store.head())
    labels = torch.from_numpy(subset.val.labels[table_rows])
    scorer = SubsetScorer(feats, w, b)
    pred = scorer.unmasked_probabilities().argmax(1)
    per_target: dict[str, dict[str, float | int | None]] = {}
    for t in subset.targets:
        un = where[t.unrelated.rows]
        keep = un >= 0
        un_rows = torch.from_numpy(un[keep])
        un_labels = torch.from_numpy(t.unrelated.labels[keep])
        masked = scorer.original_predictions(t.coarse_index)
        eq = where[t.equivalent.rows]
        eq_rows = torch.from_numpy(eq[eq >= 0])
        per_target[t.key] = {
            "coarse_index": t.coarse_index,
            "unrelated_videos": len(un_rows),
            "unrelated_accuracy": _mean_eq(pred[un_rows], un_labels),
            "unrelated_accuracy_masked": _mean_eq(masked[un_rows], un_labels),
            "coarse_recall": _mean_eq(pred[eq_rows], torch.full_like(eq_rows, t.coarse_index)),
        }

    def avg(key: str) -> float | None:
        vals = [float(v[key]) for v in per_target.values() if v[key] is not None]  # type: ignore[arg-type]
        return round(float(np.mean(vals)), 6) if vals else None

    return {
        "val_videos_scored": len(table_rows),
        "val_videos_missing": len(subset.val) - len(table_rows),
        "accuracy": _mean_eq(pred, labels),
        "unrelated_accuracy_mean": avg("unrelated_accuracy"),
        "unrelated_accuracy_masked_mean": avg("unrelated_accuracy_masked"),
        "coarse_recall_mean": avg("coarse_recall"),
        "per_target": per_target,
        "note": "base model from the stored features: view-averaged softmax, top-1 "
        "(the harness scorer)",
    }


def _mean_eq(a: torch.Tensor, b: torch.Tensor) -> float | None:
    if len(a) == 0:
        return None
    return round(float((a == b).double().mean()), 6)
