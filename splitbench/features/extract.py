"""The extraction job: videos + base checkpoint → a feature store, once per subset.

What is extracted:

* ``val``: the evaluation views (default 16×2×3) of every val video of the subset;
* ``train``: augmented views of the train videos that the protocol's support samples can
  draw — the union of :func:`~splitbench.protocol.shots.sample_shots` over every target,
  shot count and seed asked for — or of every train video with ``all_train``.

How it runs: the planned videos of each split are cut into fixed chunks (in annotation
order). Worker processes decode and sample views (a torch ``DataLoader`` whose batches never
cross a chunk boundary); the main process normalises, runs the backbone on the device under
autocast and writes each finished chunk as one atomic shard. A killed job therefore resumes
with the first unfinished chunk, and because chunks and batches are fixed, the resumed store
holds exactly what an uninterrupted run writes.

Missing or undecodable videos follow a policy: ``fail`` stops with a one-line error naming
the file; ``skip`` records them (``store.json`` → ``extra.skipped``) and carries on. They are
counted, listed and never dropped silently; the runner refuses to score a store whose val
split lacks videos (see :meth:`FeatureStore.skipped`).
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
import torch

from splitbench.benchmarks.model import Benchmark, Subset
from splitbench.errors import ConfigError, DataError
from splitbench.features.store import FeatureStore, StoreMeta, StoreWriter
from splitbench.models.base_model import BaseModel
from splitbench.video.decode import VideoError, VideoFolder, decode_video
from splitbench.video.views import ViewProtocol, to_model_input
from splitbench.video.vlm_views import VLMViews

MissingPolicy = Literal["skip", "fail"]
MISSING_POLICIES = ("skip", "fail")
SPLITS = ("val", "train")
COMPUTE_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class ExtractConfig:
    """How to run an extraction (nothing here changes the features except ``dtype``).

    Attributes:
        device: Torch device for the backbone.
        batch_size: Videos per forward pass (each contributes all its views).
        workers: Decoding processes (0 decodes in the main process).
        dtype: Compute precision: ``auto`` (bfloat16 on CUDA, float32 elsewhere),
            ``float32``, ``bfloat16`` or ``float16``. Part of the store's key.
        store_dtype: Feature dtype on disk (``float16`` or ``float32``).
        chunk_size: Videos per shard (the unit of resumption).
        missing: ``fail`` or ``skip`` for missing or corrupt videos.
        retry_skipped: Retry videos an earlier run skipped (always done under ``fail``).
        all_train: Extract every train video instead of the shot-pool union.
        shots: Shot counts the protocol will sample (``None`` = the whole ft set).
        seeds: Seeds the protocol will sample.
        shot_policy: Shortfall policy of the sampler.
        decode_threads: FFmpeg threads per decoding process.
        progress: Show a progress bar.
    """

    device: str = "cpu"
    batch_size: int = 8
    workers: int = 2
    dtype: str = "auto"
    store_dtype: str = "float16"
    chunk_size: int = 256
    missing: MissingPolicy = "fail"
    retry_skipped: bool = False
    all_train: bool = False
    shots: tuple[int | None, ...] = (1,)
    seeds: tuple[int, ...] = (0, 1, 2)
    shot_policy: str = "available"
    decode_threads: int = 1
    progress: bool = True

    def check(self) -> None:
        """Raise :class:`ConfigError` for unusable settings."""
        if self.batch_size < 1 or self.chunk_size < 1 or self.workers < 0:
            raise ConfigError("--batch-size and --chunk-size must be ≥ 1 and --workers ≥ 0")
        if self.missing not in MISSING_POLICIES:
            raise ConfigError(f"--missing {self.missing!r}: expected skip or fail")
        if self.dtype != "auto" and self.dtype not in COMPUTE_DTYPES:
            raise ConfigError(f"--dtype {self.dtype!r}: expected auto, {', '.join(COMPUTE_DTYPES)}")
        if self.store_dtype not in ("float16", "float32"):
            raise ConfigError(f"--store-dtype {self.store_dtype!r}: expected float16 or float32")
        if not self.seeds:
            raise ConfigError("--seeds: give at least one seed")

    def compute_dtype(self, device: torch.device) -> torch.dtype:
        """The autocast dtype for ``device``."""
        if self.dtype == "auto":
            return torch.bfloat16 if device.type == "cuda" else torch.float32
        return COMPUTE_DTYPES[self.dtype]


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


@dataclass
class ExtractReport:
    """What one extraction run did.

    Attributes:
        store: The finished store.
        planned: Split → planned videos.
        chunks_total: Split → chunks in the plan.
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
    from splitbench.protocol.shots import ShotPolicy, shot_pool_union

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


Views = Union[ViewProtocol, VLMViews]  # noqa: UP007 - used at runtime


class _ViewDataset(torch.utils.data.Dataset[tuple[str, "np.ndarray | None", "str | None"]]):
    """Decodes one video per item and samples its views (runs in worker processes).

    ``val`` items get the evaluation views (a :class:`ViewProtocol`'s ``eval`` or a
    :class:`VLMViews`), other items the protocol's augmented training views.
    """

    def __init__(
        self, items: Sequence[tuple[str, str, Path]], protocol: Views, threads: int
    ) -> None:
        self.items = list(items)
        self.protocol = protocol
        self.threads = threads

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[str, np.ndarray | None, str | None]:
        split, vid, path = self.items[i]
        try:
            video = decode_video(path, threads=self.threads)
            if isinstance(self.protocol, VLMViews):
                if split != "val":
                    raise DataError(f"VLM views are for val videos only, not {split!r}")
                return vid, self.protocol.sample(video), None
            if split == "val":
                return vid, self.protocol.eval.sample(video), None
            return vid, self.protocol.train.sample(video, vid), None
        except VideoError as exc:
            return vid, None, str(exc)


def _collate(items: list[tuple[str, np.ndarray | None, str | None]]) -> dict[str, Any]:
    ok = [(v, x) for v, x, err in items if err is None and x is not None]
    views = None
    if ok:
        views = torch.empty((len(ok), *ok[0][1].shape), dtype=torch.uint8)
        if torch.utils.data.get_worker_info() is not None:
            # filled in place, then handed to the main process without another copy
            views.share_memory_()  # type: ignore[no-untyped-call]
        for k, (_, x) in enumerate(ok):
            views[k] = torch.from_numpy(x)
    failed = {v: err for v, _, err in items if err is not None}
    return {"ids": [v for v, _ in ok], "views": views, "failed": failed}


@dataclass(frozen=True)
class _Batch:
    split: str
    chunk: int
    indices: list[int]
    last: bool


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
        **extra: Further provenance, recorded after the skipped and planned videos.
    """
    report.wall_s = time.perf_counter() - start
    runs = list(writer.meta.extra.get("runs", []))
    runs.append(run_record(report, cfg, device, compute_dtype))
    return writer.finish(
        backbone_passes=sum(sm.count * sm.views for sm in writer.meta.splits.values()),
        skipped=report.skipped,
        skipped_counts={s: len(v) for s, v in report.skipped.items()},
        planned={s: len(v) for s, v in plan.videos.items()},
        **extra,
        runs=runs,
    )


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
) -> ExtractReport:
    """Fill (or resume) the feature store of one subset at ``out``.

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

    Raises:
        ConfigError: for bad settings.
        DataError: for missing videos (policy ``fail``), corrupt videos (``fail``), a store of
            another model at ``out``, or a head that does not fit.
    """
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
    writer = StoreWriter(out, meta)
    weight, bias = model.head()
    writer.write_head(weight.numpy(), bias.numpy())
    net = model.model.to(device)

    def encode(views: torch.Tensor) -> np.ndarray:
        return _encode(net, views, protocol, device, compute_dtype)

    report = run_extraction(
        writer,
        plan,
        folder,
        protocol,
        encode,
        cfg,
        device,
        desc=f"extract {benchmark.name}/{subset.name}",
        on_chunk=on_chunk,
    )
    store = finish_run(
        writer,
        report,
        plan,
        cfg,
        device,
        compute_dtype,
        start,
        train_selection=_train_selection(cfg),
    )
    sanity = sanity_figures(subset, store)
    writer.update_extra(sanity=sanity)
    report.store = FeatureStore(out)
    return report


def resolve_device(cfg: ExtractConfig) -> torch.device:
    """The torch device of ``cfg``.

    Raises:
        ConfigError: for a CUDA device on a machine without CUDA.
    """
    device = torch.device(cfg.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {cfg.device}: no CUDA device is available here")
    return device


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
) -> ExtractReport:
    """Decode, sample, encode and write every unfinished chunk of ``plan`` into ``writer``.

    Shared by the base-model extraction and the VLM spaces: chunks are written as atomic
    shards, missing and undecodable videos follow ``cfg.missing``, and ``extra.skipped``
    lists the skipped ones. ``encode`` maps a batch of uint8 views on ``device`` to
    ``(B, V, D)`` features.

    Raises:
        DataError: for a corrupt video under the ``fail`` policy.
    """
    from tqdm.auto import tqdm

    splits = list(plan.videos)
    old = writer.meta.extra.get("skipped", {})
    skipped: dict[str, dict[str, str]] = {s: dict(old.get(s, {})) for s in splits}
    for split in splits:
        for v in plan.missing[split]:
            skipped[split].setdefault(v, f"missing: no file for {v!r} in {folder.root}")
    writer.update_extra(skipped=skipped)

    report = ExtractReport(store=FeatureStore(writer.path))
    items, batches = _schedule(plan, writer, skipped, cfg, report)
    bar = tqdm(
        total=len(items), desc=desc, unit="video", disable=not cfg.progress, dynamic_ncols=True
    )
    pending_ids: list[str] = []
    pending_feats: list[np.ndarray] = []
    newly_skipped: dict[str, str] = {}
    loader = view_batches(
        items,
        [b.indices for b in batches],
        protocol,
        workers=cfg.workers,
        decode_threads=cfg.decode_threads,
        pin_memory=device.type == "cuda",
    )
    try:
        for meta, out_batch in zip(batches, loader, strict=True):
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


def _schedule(
    plan: ExtractionPlan,
    writer: StoreWriter,
    skipped: dict[str, dict[str, str]],
    cfg: ExtractConfig,
    report: ExtractReport,
) -> tuple[list[tuple[str, str, Path]], list[_Batch]]:
    """The videos still to do, as rows, and their batches (never crossing a chunk)."""
    items: list[tuple[str, str, Path]] = []
    batches: list[_Batch] = []
    retry = cfg.retry_skipped or cfg.missing == "fail"
    for split in plan.videos:
        planned = plan.videos[split]
        report.planned[split] = len(planned)
        done = writer.done_videos(split)
        chunks = [planned[i : i + cfg.chunk_size] for i in range(0, len(planned), cfg.chunk_size)]
        report.chunks_total[split] = len(chunks)
        work: list[tuple[int, list[str]]] = []
        for c, chunk in enumerate(chunks):
            todo = [v for v in chunk if v not in done and v not in skipped[split]]
            if todo:  # a finished chunk has every video done or skipped
                work.append((c, todo))
        if retry:
            again = [v for v in skipped[split] if v in plan.paths and v not in done]
            if again:
                work.append((-1, again))
        for c, todo in work:
            idx = list(range(len(items), len(items) + len(todo)))
            items.extend((split, v, plan.paths[v]) for v in todo)
            parts = [idx[i : i + cfg.batch_size] for i in range(0, len(idx), cfg.batch_size)]
            for k, part in enumerate(parts):
                batches.append(_Batch(split, c, part, k == len(parts) - 1))
    return items, batches


def view_batches(
    items: Sequence[tuple[str, str, Path]],
    batches: Sequence[Sequence[int]],
    protocol: Views,
    *,
    workers: int,
    decode_threads: int = 1,
    pin_memory: bool = False,
) -> Iterator[dict[str, Any]]:
    """Decode and sample views in worker processes, one batch of ``items`` rows at a time.

    Args:
        items: ``(split, video id, file)``; ``val`` rows get evaluation views, others
            training views.
        batches: Row indices of each batch, yielded in this order.
        protocol: The view protocol, or a VLM's views (val rows only).
        workers: Worker processes (0 = in this process).
        decode_threads: FFmpeg threads per worker.
        pin_memory: Pin the view tensors (for fast copies to CUDA).

    Yields:
        ``{"ids": [...], "views": uint8 (B, V, T, S, S, 3) or None, "failed": {id: error}}``.
    """
    if not batches:
        return iter(())
    loader = torch.utils.data.DataLoader(
        _ViewDataset(items, protocol, decode_threads),
        batch_sampler=[list(b) for b in batches],
        num_workers=workers,
        collate_fn=_collate,
        pin_memory=pin_memory,
        prefetch_factor=2 if workers > 0 else None,
    )
    return iter(loader)


def _encode(
    net: torch.nn.Module,
    views: torch.Tensor,
    protocol: ViewProtocol,
    device: torch.device,
    dtype: torch.dtype,
) -> np.ndarray:
    b, v = views.shape[:2]
    x = to_model_input(views, protocol.mean, protocol.std)
    with (
        torch.inference_mode(),
        torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype != torch.float32),
    ):
        feats = net.forward_features(x)  # type: ignore[operator]
    out: np.ndarray = feats.float().cpu().numpy().reshape(b, v, -1)
    return out


def _train_selection(cfg: ExtractConfig) -> dict[str, Any]:
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
    import av

    from splitbench.results.provenance import library_versions

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
    from splitbench.protocol.scoring import SubsetScorer

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
    probs = torch.softmax(feats @ w.T + b, dim=-1).mean(1)
    pred = probs.argmax(1)
    scorer = SubsetScorer(feats, w, b)
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
        "note": "base model from the stored features: view-averaged softmax, top-1",
    }


def _mean_eq(a: torch.Tensor, b: torch.Tensor) -> float | None:
    if len(a) == 0:
        return None
    return round(float((a == b).double().mean()), 6)
