"""The extraction loop: decode, sample, encode and write every unfinished chunk of a plan.

Shared by the base-model extraction, the VLM spaces, each rank of a distributed extraction
and the full-model finetuning method. Chunks are written as atomic shards (a killed job
resumes with the first unfinished chunk, and because chunks and batches are fixed, the
resumed store holds exactly what an uninterrupted run writes); missing and undecodable
videos follow ``cfg.missing`` and ``extra.skipped`` lists the skipped ones. They are counted,
listed and never dropped silently; the runner refuses to score a store whose val split lacks
videos (see :meth:`FeatureStore.skipped`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from splitbench.features.extract_config import ExtractConfig
from splitbench.features.extract_plan import ExtractionPlan, RankSlice, schedule
from splitbench.features.store import FeatureStore
from splitbench.features.store_writer import StoreWriter
from splitbench.features.view_loader import Views, view_batches
from splitbench.video.decode import VideoError, VideoFolder


@dataclass
class ExtractReport:
    """What one extraction run did.

    Attributes:
        store: The finished store.
        planned: Split → planned videos.
        chunks_total: Split → chunks in the plan (of this rank, when distributed).
        chunks_run: ``(split, chunk)`` pairs processed by this run (``-1`` = retry pass).
        videos_run: Videos decoded and encoded by this run.
        skipped: Split → video → reason, over all runs.
        wall_s: Seconds spent by this run.
    """

    store: FeatureStore
    planned: dict[str, int] = field(default_factory=dict)
    chunks_total: dict[str, int] = field(default_factory=dict)
    chunks_run: list[tuple[str, int]] = field(default_factory=list)
    videos_run: int = 0
    skipped: dict[str, dict[str, str]] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def videos_per_s(self) -> float:
        """Throughput of this run."""
        return self.videos_run / self.wall_s if self.wall_s > 0 else 0.0


def run_extraction(
    writer: StoreWriter,
    plan: ExtractionPlan,
    folder: VideoFolder,
    protocol: Views,
    encode: Callable[[torch.Tensor], np.ndarray],
    cfg: ExtractConfig,
    device: torch.device,
    *,
    desc: str,
    on_chunk: Callable[[str, int], None] | None = None,
    ranks: RankSlice | None = None,
    done_elsewhere: Mapping[str, set[str]] | None = None,
) -> ExtractReport:
    """Decode, sample, encode and write every unfinished chunk of ``plan`` into ``writer``.

    ``encode`` maps a batch of uint8 views on ``device`` to ``(B, V, D)`` features.

    Args:
        writer: The store written to.
        plan: The plan.
        folder: Where the videos are (named in skip reasons).
        protocol: The views.
        encode: The backbone pass.
        cfg: How to run.
        device: Where ``encode`` runs (pins memory for CUDA).
        desc: Progress-bar label.
        on_chunk: Called with ``(split, chunk)`` after each shard is safely written (tests
            use it to interrupt a run).
        ranks: This process's slice of the chunks (the whole plan by default).
        done_elsewhere: Split → videos another store holds already (a distributed rank skips
            what the sealed store has).

    Raises:
        DataError: for a corrupt video under the ``fail`` policy.
    """
    splits = list(plan.videos)
    old = writer.meta.extra.get("skipped", {})
    skipped: dict[str, dict[str, str]] = {s: dict(old.get(s, {})) for s in splits}
    for split in splits:
        for v in plan.missing[split]:
            skipped[split].setdefault(v, f"missing: no file for {v!r} in {folder.root}")
    writer.update_extra(skipped=skipped)

    report = ExtractReport(store=FeatureStore(writer.path))
    elsewhere = done_elsewhere or {}
    done = {s: writer.done_videos(s) | elsewhere.get(s, set()) for s in splits}
    work = schedule(plan, done, skipped, cfg, ranks or RankSlice())
    report.planned, report.chunks_total = work.planned, work.chunks_total
    bar = tqdm(
        total=len(work.items), desc=desc, unit="video", disable=not cfg.progress, dynamic_ncols=True
    )
    pending_ids: list[str] = []
    pending_feats: list[np.ndarray] = []
    newly_skipped: dict[str, str] = {}
    loader = view_batches(
        work.items,
        [b.indices for b in work.batches],
        protocol,
        workers=cfg.workers,
        decode_threads=cfg.decode_threads,
        pin_memory=device.type == "cuda",
    )
    try:
        for meta, out_batch in zip(work.batches, loader, strict=True):
            failed: dict[str, str] = out_batch["failed"]
            if failed and cfg.missing == "fail":
                raise VideoError(next(iter(failed.values())))
            newly_skipped.update(failed)
            if out_batch["views"] is not None:
                pending_ids.extend(out_batch["ids"])
                pending_feats.append(encode(out_batch["views"].to(device, non_blocking=True)))
            bar.update(len(meta.indices))
            if skipped_total := sum(len(s) for s in skipped.values()) + len(newly_skipped):
                bar.set_postfix(skipped=skipped_total, refresh=False)
            if not meta.last:
                continue
            for v in pending_ids:
                skipped[meta.split].pop(v, None)
            skipped[meta.split].update(newly_skipped)
            writer.meta.extra["skipped"] = skipped
            if pending_ids:
                writer.add_shard(meta.split, pending_ids, np.concatenate(pending_feats))
            else:
                writer.update_extra(skipped=skipped)
            report.videos_run += len(pending_ids) + len(newly_skipped)
            report.chunks_run.append((meta.split, meta.chunk))
            pending_ids, pending_feats, newly_skipped = [], [], {}
            if on_chunk is not None:
                on_chunk(meta.split, meta.chunk)
    finally:
        bar.close()
    report.skipped = skipped
    return report
