"""The extraction job: videos + base checkpoint → a feature store, once per subset.

What is extracted:

* ``val``: the evaluation views (default 16×2×3) of every val video of the subset;
* ``train``: augmented views of the train videos that the protocol's support samples can
  draw — the union of :func:`~splitbench.benchmarks.shots.sample_shots` over every target,
  shot count and seed asked for — or of every train video with ``all_train``.

The pieces, one job each: :mod:`~splitbench.features.extract_config` (how to run),
:mod:`~splitbench.features.extract_plan` (which videos, which chunks, which rank),
:mod:`~splitbench.features.view_loader` (decoding workers and the backbone pass),
:mod:`~splitbench.features.extract_run` (the chunk loop with atomic shards),
:mod:`~splitbench.features.extract_records` (metadata, run log, sanity figures) and
:mod:`~splitbench.features.distributed` (ranks and sealing). This module puts them together
for one subset, in one process or as one rank of many.
"""

from __future__ import annotations

import copy
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitbench.benchmarks.model import Benchmark, Subset
from splitbench.errors import ConfigError
from splitbench.features.distributed import (
    ProcessGroup,
    merged_report,
    rank_dir,
    rank_stores,
    remove_rank_stores,
    seal,
    single_process,
)
from splitbench.features.extract_config import (
    COMPUTE_DTYPES,
    MISSING_POLICIES,
    SPLITS,
    ExtractConfig,
    MissingPolicy,
    resolve_device,
)
from splitbench.features.extract_plan import ExtractionPlan, RankSlice, plan_extraction
from splitbench.features.extract_records import (
    finish_run,
    run_record,
    sanity_figures,
    store_meta,
    train_selection,
)
from splitbench.features.extract_run import ExtractReport, run_extraction
from splitbench.features.store import FeatureStore
from splitbench.features.store_writer import StoreWriter
from splitbench.features.view_loader import Views, encode_views, view_batches
from splitbench.models.base_model import BaseModel
from splitbench.video.decode import VideoFolder
from splitbench.video.views import ViewProtocol

__all__ = [
    "COMPUTE_DTYPES",
    "MISSING_POLICIES",
    "SPLITS",
    "ExtractConfig",
    "ExtractReport",
    "ExtractionPlan",
    "MissingPolicy",
    "Views",
    "check_protocol",
    "extract_subset",
    "finish_run",
    "plan_extraction",
    "resolve_device",
    "run_extraction",
    "run_record",
    "sanity_figures",
    "store_meta",
    "view_batches",
]


def check_protocol(model: BaseModel, protocol: ViewProtocol) -> None:
    """Check that the views fit the model's input (frames and size).

    Raises:
        ConfigError: naming the mismatch.
    """
    protocol.check()
    c = model.config
    for name, views in (("eval", protocol.eval), ("train", protocol.train)):
        if views.frames != c.num_frames or views.crop_size != c.img_size:
            raise ConfigError(
                f"{name} views are {views.frames} frames of {views.crop_size}² but the model "
                f"takes {c.num_frames} frames of {c.img_size}²"
            )


def sources_record(model: BaseModel, videos: Path, trusted: bool) -> dict[str, Any]:
    """Where the store's inputs are (``extra.sources``), for methods that need them again.

    The full-model finetuning method reads the videos and the checkpoint a store was made
    from; it checks the checkpoint's SHA-256 against the store's identity before use.
    """
    return {
        "videos": str(Path(videos).resolve()),
        "checkpoint": str(model.checkpoint.path.resolve()),
        "trust_checkpoint": trusted,
    }


def extract_subset(
    benchmark: Benchmark,
    subset: Subset,
    model: BaseModel,
    videos: Path,
    out: Path,
    protocol: ViewProtocol,
    cfg: ExtractConfig,
    *,
    on_chunk: Callable[[str, int], None] | None = None,
    group: ProcessGroup | None = None,
    trusted: bool = False,
) -> ExtractReport:
    """Fill (or resume) the feature store of one subset at ``out``.

    In a distributed run (``group`` with several ranks) every rank calls this with the same
    arguments: each extracts its slice of chunks into its own rank store, then rank 0 seals
    them into ``out`` (see :mod:`splitbench.features.distributed`); the other ranks return a
    report of their own slice.

    Args:
        benchmark: The benchmark.
        subset: The subset whose base model ``model`` is.
        model: The loaded base classifier (its head must fit the subset's labels).
        videos: The folder holding the videos.
        out: The store directory.
        protocol: The view protocol (frames and size must fit the model).
        cfg: How to run.
        on_chunk: Called with ``(split, chunk)`` after each shard is safely written (tests
            use it to interrupt a run).
        group: This process's place in a distributed run (default: one process).
        trusted: Whether the checkpoint was loaded with ``--trust-checkpoint`` (recorded in
            ``extra.sources`` for methods that reload it).

    Raises:
        ConfigError: for bad settings.
        DataError: for missing videos (policy ``fail``), corrupt videos (``fail``), a store of
            another model at ``out``, or a head that does not fit.
    """
    group = group or single_process()
    cfg.check()
    check_protocol(model, protocol)
    others = {s.name: s.num_labels for s in benchmark.subsets.values() if s.name != subset.name}
    model.check_head(subset.num_labels, f"{benchmark.name}/{subset.name}", others)
    device = resolve_device(cfg)
    compute_dtype = cfg.compute_dtype(device)
    start = time.perf_counter()
    folder = VideoFolder(videos)
    plan = plan_extraction(subset, folder, cfg)
    meta = store_meta(
        benchmark, subset, model.identity(), protocol, model.config.embed_dim, cfg, compute_dtype
    )
    net = model.model.to(device)

    def encode(views: torch.Tensor) -> np.ndarray:
        return encode_views(net, views, protocol, device, compute_dtype)

    desc = f"extract {benchmark.name}/{subset.name}"
    finishing = {
        "train_selection": train_selection(cfg),
        "sources": sources_record(model, videos, trusted),
    }
    if group.ranks.world == 1:
        writer = StoreWriter(out, meta)
        weight, bias = model.head()
        writer.write_head(weight.numpy(), bias.numpy())
        if leftovers := rank_stores(out):  # an interrupted distributed run's finished chunks
            seal(writer, plan, cfg.chunk_size, leftovers)
            remove_rank_stores(out)
        report = run_extraction(
            writer, plan, folder, protocol, encode, cfg, device, desc=desc, on_chunk=on_chunk
        )
        finish_run(writer, report, plan, cfg, device, compute_dtype, start, **finishing)
    else:
        result = _extract_rank(
            out, meta, model, plan, folder, protocol, encode, cfg, device, group, desc, on_chunk
        )
        if result is None:
            return ExtractReport(store=FeatureStore(out))
        writer, report, runs = result
        finish_run(
            writer,
            report,
            plan,
            cfg,
            device,
            compute_dtype,
            start,
            run_extra={
                "world_size": group.ranks.world,
                "chunks_run": sum(int(r.get("chunks_run", 0)) for r in runs),
                "ranks": runs,
            },
            **finishing,
        )
    writer.update_extra(sanity=sanity_figures(subset, FeatureStore(out)))
    report.store = FeatureStore(out)
    if group.ranks.world > 1:
        group.sync()  # the other ranks return once the sealed store is complete
    return report


def _extract_rank(
    out: Path,
    meta: Any,
    model: BaseModel,
    plan: ExtractionPlan,
    folder: VideoFolder,
    protocol: ViewProtocol,
    encode: Callable[[torch.Tensor], np.ndarray],
    cfg: ExtractConfig,
    device: torch.device,
    group: ProcessGroup,
    desc: str,
    on_chunk: Callable[[str, int], None] | None,
) -> tuple[StoreWriter, ExtractReport, list[dict[str, Any]]] | None:
    """One rank's slice, then (rank 0) the seal.

    Returns the final writer, the merged report and the ranks' run records on rank 0, and
    None on the other ranks (after the seal).
    """
    ranks = group.ranks
    mine = rank_dir(out, ranks)
    if group.is_main:
        writer = StoreWriter(out, meta)
        weight, bias = model.head()
        writer.write_head(weight.numpy(), bias.numpy())
        other_worlds = [
            p for p in rank_stores(out) if not p.name.endswith(f"-of-{ranks.world:05d}")
        ]
        if other_worlds:  # finished chunks of an interrupted run with another world size
            seal(writer, plan, cfg.chunk_size, other_worlds)
            for p in other_worlds:
                shutil.rmtree(p)
    group.sync()  # the final store exists and says what is done
    final = FeatureStore(out)
    done = {s: set(final.split(s).videos.tolist()) for s in plan.videos if final.has_split(s)}
    mine.parent.mkdir(parents=True, exist_ok=True)
    rank_writer = StoreWriter(mine, copy.deepcopy(meta))  # its own counts and shards
    if "skipped" not in rank_writer.meta.extra:  # a fresh rank store inherits the skips
        rank_writer.meta.extra["skipped"] = final.meta.extra.get("skipped", {})
    start = time.perf_counter()
    report = run_extraction(
        rank_writer,
        plan,
        folder,
        protocol,
        encode,
        cfg,
        device,
        desc=f"{desc} [rank {ranks.rank}/{ranks.world}]",
        on_chunk=on_chunk,
        ranks=ranks,
        done_elsewhere=done,
    )
    cd = cfg.compute_dtype(device)
    finish_run(rank_writer, report, plan, cfg, device, cd, start, run_extra={"rank": ranks.rank})
    group.sync()  # every rank's slice is in its rank store
    if not group.is_main:
        group.sync()  # wait for the seal
        return None
    sources = [rank_dir(out, RankSlice(r, ranks.world)) for r in range(ranks.world)]
    runs = seal(writer, plan, cfg.chunk_size, sources)
    remove_rank_stores(out)
    merged = merged_report(FeatureStore(out), runs, report.planned)
    merged.skipped = {s: dict(v) for s, v in writer.meta.extra.get("skipped", {}).items()}
    merged.chunks_total = {s: len(plan.chunks(s, cfg.chunk_size)) for s in plan.videos}
    return writer, merged, runs
