"""Which videos an extraction does, in which chunks, and which of them fall to one rank.

* :func:`plan_extraction` chooses the videos of each split (every val video; the union of
  the support pools the protocol can draw, or every train video) and resolves their files.
* :func:`schedule` cuts each split's planned videos into fixed chunks in annotation order,
  keeps the chunks a :class:`RankSlice` owns that are not finished yet, and batches them so
  that no batch crosses a chunk boundary. Chunk ``c`` belongs to rank ``c % world``: the
  slices are disjoint, cover the plan, and depend only on the plan, the chunk size and the
  world size, never on timing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from splitbench.benchmarks.model import Subset
from splitbench.benchmarks.shots import ShotPolicy, shot_pool_union
from splitbench.errors import DataError
from splitbench.features.extract_config import SPLITS, ExtractConfig
from splitbench.video.decode import VideoFolder


@dataclass
class ExtractionPlan:
    """Which videos each split gets, and where their files are.

    Attributes:
        videos: Split → video ids in extraction order.
        paths: Video id → resolved file (absent for missing videos).
        missing: Split → video ids with no file.
    """

    videos: dict[str, list[str]]
    paths: dict[str, Path]
    missing: dict[str, list[str]]

    def chunks(self, split: str, size: int) -> list[list[str]]:
        """The planned videos of ``split`` cut into chunks of ``size``, in order."""
        planned = self.videos[split]
        return [planned[i : i + size] for i in range(0, len(planned), size)]


@dataclass(frozen=True)
class RankSlice:
    """One process's share of a distributed extraction (``rank`` of ``world``).

    Attributes:
        rank: This process's rank (0-based).
        world: Number of processes.
    """

    rank: int = 0
    world: int = 1

    def owns(self, chunk: int) -> bool:
        """Whether chunk ``chunk`` is this rank's."""
        return chunk % self.world == self.rank


@dataclass(frozen=True)
class Batch:
    """One loader batch: rows of the schedule's items, all of one chunk.

    Attributes:
        split: The split.
        chunk: Chunk index (``-1`` = the retry pass over earlier skipped videos).
        indices: Rows of :attr:`Schedule.items`.
        last: Whether the chunk is complete after this batch (its shard is written then).
    """

    split: str
    chunk: int
    indices: list[int]
    last: bool


@dataclass
class Schedule:
    """The work left for one run.

    Attributes:
        items: ``(split, video id, file)`` rows to decode.
        batches: Their batches, in processing order.
        planned: Split → planned videos (whole plan, every rank).
        chunks_total: Split → chunks of the plan owned by this rank.
    """

    items: list[tuple[str, str, Path]] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)
    planned: dict[str, int] = field(default_factory=dict)
    chunks_total: dict[str, int] = field(default_factory=dict)


def plan_extraction(
    subset: Subset, folder: VideoFolder, cfg: ExtractConfig, splits: Sequence[str] = SPLITS
) -> ExtractionPlan:
    """Choose the videos of each split and resolve their files.

    Args:
        subset: The subset.
        folder: Where the videos are.
        cfg: Which train videos (shots, seeds, policy) and the missing-video policy.
        splits: ``val`` and/or ``train`` (VLM spaces take ``val`` only).

    Raises:
        DataError: when the folder holds no file of the subset's CSVs at all, or (policy
            ``fail``) when some are missing.
    """
    val = [str(v) for v in subset.val.videos]
    train: list[str] = []
    if "train" in splits and cfg.all_train:
        train = [str(v) for v in subset.train.videos]
    elif "train" in splits:
        policy: ShotPolicy = cfg.shot_policy  # type: ignore[assignment]
        pool = shot_pool_union(subset, cfg.shots, list(cfg.seeds), policy)
        pos = subset.train.position
        train = sorted(pool, key=lambda v: pos[v])
    videos = {"val": val, "train": train}
    videos = {s: videos[s] for s in SPLITS if s in splits}
    paths: dict[str, Path] = {}
    missing: dict[str, list[str]] = {}
    for split, ids in videos.items():
        gone = []
        for v in ids:
            p = folder.resolve(v)
            if p is None:
                gone.append(v)
            else:
                paths[v] = p
        missing[split] = gone
    planned = sum(len(v) for v in videos.values())
    if planned and not paths:
        example = next(v for ids in videos.values() for v in ids)
        raise DataError(
            f"--videos {folder.root}: holds no file of {subset.benchmark}/{subset.name} "
            f"val.csv or train.csv (looked for e.g. {', '.join(folder.candidates(example))}); "
            f"is this the folder with the dataset's videos?"
        )
    n_missing = sum(len(m) for m in missing.values())
    if n_missing and cfg.missing == "fail":
        first = [v for m in missing.values() for v in m][:3]
        raise DataError(
            f"--videos {folder.root}: {n_missing} of {planned} videos needed for "
            f"{subset.benchmark}/{subset.name} are missing (first: {', '.join(first)}); pass "
            f"--missing skip to extract the rest and list them in the store"
        )
    return ExtractionPlan(videos, paths, missing)


def schedule(
    plan: ExtractionPlan,
    done: Mapping[str, set[str]],
    skipped: Mapping[str, Mapping[str, str]],
    cfg: ExtractConfig,
    ranks: RankSlice | None = None,
) -> Schedule:
    """The videos still to do for ``ranks``, as rows, and their batches.

    Args:
        plan: The plan.
        done: Split → videos already written (by finished shards).
        skipped: Split → videos skipped by earlier runs.
        cfg: Chunk and batch sizes, and whether skipped videos are retried.
        ranks: This process's slice of the chunks.
    """
    out = Schedule()
    ranks = ranks or RankSlice()
    retry = cfg.retry_skipped or cfg.missing == "fail"
    for split in plan.videos:
        out.planned[split] = len(plan.videos[split])
        chunks = plan.chunks(split, cfg.chunk_size)
        mine = [c for c in range(len(chunks)) if ranks.owns(c)]
        out.chunks_total[split] = len(mine)
        finished, passed = done.get(split, set()), skipped.get(split, {})
        work: list[tuple[int, list[str]]] = []
        for c in mine:
            todo = [v for v in chunks[c] if v not in finished and v not in passed]
            if todo:  # a finished chunk has every video done or skipped
                work.append((c, todo))
        if retry:
            chunk_of = {v: c for c, chunk in enumerate(chunks) for v in chunk}
            again = [
                v
                for v in passed
                if v in plan.paths and v not in finished and ranks.owns(chunk_of.get(v, 0))
            ]
            if again:
                work.append((-1, again))
        for c, todo in work:
            idx = list(range(len(out.items), len(out.items) + len(todo)))
            out.items.extend((split, v, plan.paths[v]) for v in todo)
            parts = [idx[i : i + cfg.batch_size] for i in range(0, len(idx), cfg.batch_size)]
            for k, part in enumerate(parts):
                out.batches.append(Batch(split, c, part, k == len(parts) - 1))
    return out
