"""Distributed extraction: one store from N processes (``torchrun``, ``srun torchrun``).

Every rank plans the same videos and takes the chunks ``c`` with ``c % world == rank``
(:class:`~splitbench.features.extract_plan.RankSlice`): disjoint, deterministic slices.
A rank writes its chunks as atomic shards into a store of its own,
``<out>/ranks/rank-<r>-of-<world>/`` (same key as the final store), and resumes from it on
its own when the job is rerun. When every rank is through, rank 0 **seals**: it copies the
rank stores' rows into ``<out>`` chunk by chunk, in plan order, so the sealed store holds
the same shards, rows and metadata as a single-process run (only the log of runs differs),
then removes the rank stores. Sealing only copies finished chunks, so it is also how a run
with another world size picks up what an interrupted run left behind.

Ranks meet at ``torch.distributed`` barriers (gloo on CPU, NCCL on CUDA); the process group
comes from torchrun's environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ...).
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitbench.errors import ConfigError
from splitbench.features.extract_plan import ExtractionPlan, RankSlice
from splitbench.features.extract_run import ExtractReport
from splitbench.features.sharded import ShardedFeatures
from splitbench.features.store import FeatureStore
from splitbench.features.store_writer import StoreWriter

RANKS_DIR = "ranks"
#: How long a rank waits at a barrier for the slowest rank (a whole extraction may pass).
BARRIER_TIMEOUT = _dt.timedelta(days=7)


@dataclass
class ProcessGroup:
    """This process's place in a distributed run.

    Attributes:
        ranks: Rank and world size.
        local_rank: Rank on this node (picks the CUDA device).
        sync: Blocks until every rank has called it (a no-op for one process).
        close: Leaves the process group (a no-op for one process).
    """

    ranks: RankSlice
    local_rank: int
    sync: Callable[[], None]
    close: Callable[[], None] = lambda: None

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0 (which seals the store and prints the summary)."""
        return self.ranks.rank == 0


def single_process() -> ProcessGroup:
    """The group of a plain, one-process run."""
    return ProcessGroup(RankSlice(), 0, lambda: None)


def from_environment(device: str) -> ProcessGroup:
    """Join torchrun's process group when ``WORLD_SIZE`` > 1, else :func:`single_process`.

    Args:
        device: ``cpu`` (gloo) or ``cuda`` (NCCL; each rank takes ``cuda:<LOCAL_RANK>``).

    Raises:
        ConfigError: for an inconsistent torchrun environment.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return single_process()
    try:
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    except (KeyError, ValueError):
        raise ConfigError(
            f"WORLD_SIZE={world} but RANK is not set; start distributed extraction with "
            "torchrun (torchrun --nproc-per-node N -m splitbench extract ...)"
        ) from None
    import torch.distributed as dist

    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.set_device(local)  # NCCL's own buffers go to this rank's GPU
    if not dist.is_initialized():
        dist.init_process_group(
            backend="nccl" if cuda else "gloo", timeout=BARRIER_TIMEOUT, rank=rank, world_size=world
        )

    def sync() -> None:
        if cuda:
            dist.barrier(device_ids=[local])
        else:
            dist.barrier()

    return ProcessGroup(RankSlice(rank, world), local, sync, dist.destroy_process_group)


def rank_dir(out: Path, ranks: RankSlice) -> Path:
    """Where rank ``ranks.rank`` of ``ranks.world`` keeps its shards."""
    return Path(out) / RANKS_DIR / f"rank-{ranks.rank:05d}-of-{ranks.world:05d}"


def rank_stores(out: Path) -> list[Path]:
    """Every rank store under ``out`` (of any world size), in name order."""
    root = Path(out) / RANKS_DIR
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "store.json").is_file())


def seal(
    writer: StoreWriter, plan: ExtractionPlan, chunk_size: int, sources: list[Path]
) -> list[dict[str, Any]]:
    """Copy the finished chunks of the rank stores ``sources`` into ``writer``, in plan order.

    Each chunk becomes one shard holding its videos in plan order (what a single process
    writes); chunks ``writer`` holds already are left alone. Skipped videos are merged.

    Returns:
        The last run record of each source (for the sealed store's log of runs).
    """
    stores = [FeatureStore(p) for p in sources]
    for st in stores:
        if st.meta.identity_key != writer.meta.identity_key:
            raise ConfigError(f"{st.path}: a rank store of another model or view protocol")
    skipped: dict[str, dict[str, str]] = {
        s: dict(v) for s, v in writer.meta.extra.get("skipped", {}).items()
    }
    for split in plan.videos:
        rows: dict[str, tuple[np.ndarray | ShardedFeatures, int]] = {}
        for st in stores:
            if st.has_split(split):
                fs = st.split(split)
                rows.update((str(v), (fs.features, i)) for i, v in enumerate(fs.videos))
            skipped.setdefault(split, {}).update(st.skipped(split))
        done = writer.done_videos(split)
        for chunk in plan.chunks(split, chunk_size):
            ids = [v for v in chunk if v in rows and v not in done]
            if ids:
                feats = np.stack([rows[v][0][rows[v][1]] for v in ids])
                writer.add_shard(split, ids, feats)
        have = done | set(rows)
        skipped[split] = {v: r for v, r in skipped.get(split, {}).items() if v not in have}
    writer.update_extra(skipped=skipped)
    return [st.meta.extra["runs"][-1] for st in stores if st.meta.extra.get("runs")]


def remove_rank_stores(out: Path) -> None:
    """Delete ``<out>/ranks`` once its rows are in the sealed store."""
    shutil.rmtree(Path(out) / RANKS_DIR, ignore_errors=True)


def merged_report(
    store: FeatureStore, runs: list[dict[str, Any]], planned: dict[str, int]
) -> ExtractReport:
    """One report for the ranks' runs (videos summed; wall time the slowest rank's)."""
    report = ExtractReport(store=store, planned=dict(planned))
    report.videos_run = sum(int(r.get("videos_run", 0)) for r in runs)
    report.wall_s = max((float(r.get("wall_s", 0.0)) for r in runs), default=0.0)
    return report


def cuda_device(device: str, group: ProcessGroup) -> str:
    """``cuda:<LOCAL_RANK>`` for a bare ``cuda`` in a multi-process run, else ``device``."""
    if device == "cuda" and group.ranks.world > 1 and torch.cuda.is_available():
        return f"cuda:{group.local_rank}"
    return device
