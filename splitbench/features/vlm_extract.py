"""``splitbench extract --encoder``: add a VLM space to an existing feature store.

The val videos of the subset are decoded and sampled with the VLM's views, embedded per view
(L2-normalised) and written as a feature store of their own under ``<store>/vlm/<name>/``
(see :mod:`splitbench.features.vlm`), with the same chunked, atomic, resumable shards and the
same missing-video policy as the base extraction (:func:`run_extraction`). Then the texts the
baselines embed (the subset's labels and subcategory labels, raw and under every prompt set)
are encoded by the VLM's text tower and stored next to the embeddings.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from splitbench.benchmarks.model import Benchmark, Subset
from splitbench.core.identity import data_identity, data_key
from splitbench.errors import DataError
from splitbench.features.extract import (
    ExtractConfig,
    ExtractReport,
    finish_run,
    plan_extraction,
    resolve_device,
    run_extraction,
    store_meta,
)
from splitbench.features.store import FeatureStore
from splitbench.features.store_writer import StoreWriter
from splitbench.features.vlm import subset_texts, vlm_dir, write_text_table
from splitbench.models.prompts import PROMPT_SETS
from splitbench.models.text import CachedTextEncoder
from splitbench.models.vlm import VideoLanguageModel, VLMTextEncoder, vlm_slug
from splitbench.video.decode import VideoFolder
from splitbench.video.vlm_views import VLMViews


def base_store_for(benchmark: Benchmark, subset: Subset, store_dir: Path) -> FeatureStore:
    """The base feature store a VLM space is added to.

    Raises:
        DataError: when there is none, or it belongs to another benchmark, subset or revision.
    """
    if not (Path(store_dir) / "store.json").is_file():
        raise DataError(
            f"{store_dir}: no feature store here; extract the base model's features of "
            f"{benchmark.name}/{subset.name} first ('splitbench extract --checkpoint FILE ...'), "
            f"then add the VLM space to the same --output"
        )
    store = FeatureStore(store_dir)
    m = store.meta
    if data_identity(m) != data_key(benchmark.name, benchmark.revision, subset.name):
        raise DataError(
            f"{store_dir}: the store is for {m.benchmark}/{m.subset} ({m.benchmark_revision}), "
            f"not {benchmark.name}/{subset.name} ({benchmark.revision})"
        )
    return store


def extract_vlm(
    benchmark: Benchmark,
    subset: Subset,
    vlm: VideoLanguageModel,
    videos: Path,
    store_dir: Path,
    views: VLMViews,
    cfg: ExtractConfig,
    *,
    name: str | None = None,
    prompt_sets: Sequence[str] = tuple(PROMPT_SETS),
    on_chunk: Callable[[str, int], None] | None = None,
) -> ExtractReport:
    """Fill (or resume) VLM space ``name`` (default: a slug of the VLM's spec) of a store.

    Args:
        benchmark: The benchmark.
        subset: The subset whose store ``store_dir`` is.
        vlm: The loaded VLM (on ``cfg.device``).
        videos: The folder holding the videos.
        store_dir: The subset's base feature store.
        views: The VLM's views.
        cfg: How to run (``train`` settings are ignored: only val videos are embedded).
        name: Folder name of the space.
        prompt_sets: Prompt sets whose texts are stored.
        on_chunk: Called after each shard is written.

    Raises:
        ConfigError: for bad settings.
        DataError: without a matching base store, for missing or corrupt videos (policy
            ``fail``), or when the folder holds a space of another VLM or other views.
    """
    cfg.check()
    views.check()
    base_store_for(benchmark, subset, store_dir)
    name = name or vlm_slug(vlm.spec)
    out = vlm_dir(store_dir, name)
    device = resolve_device(cfg)
    compute_dtype = cfg.compute_dtype(device)
    start = time.perf_counter()
    space = {
        "name": name,
        "spec": vlm.spec,
        "family": vlm.family,
        "text_encoder": f"vlm-text:{vlm.spec}",
        "text_identity": vlm.text_identity(),
        "embedding": "per view, L2-normalised",
    }
    meta = store_meta(
        benchmark, subset, vlm.identity(), views, vlm.embed_dim, cfg, compute_dtype, {"vlm": space}
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = StoreWriter(out, meta)
    folder = VideoFolder(videos)
    plan = plan_extraction(subset, folder, cfg, splits=("val",))

    def encode(batch: torch.Tensor) -> np.ndarray:
        out_: np.ndarray = vlm.encode_views(batch, compute_dtype).float().cpu().numpy()
        return out_

    report = run_extraction(
        writer,
        plan,
        folder,
        views,
        encode,
        cfg,
        device,
        desc=f"extract {name} {benchmark.name}/{subset.name}",
        on_chunk=on_chunk,
    )
    texts = subset_texts(subset, prompt_sets)
    emb = CachedTextEncoder(VLMTextEncoder(vlm)).encode(texts)
    write_text_table(out, texts, emb)
    finish_run(
        writer,
        report,
        plan,
        cfg,
        device,
        compute_dtype,
        start,
        text_table={"texts": len(texts), "prompt_sets": list(prompt_sets)},
    )
    report.store = FeatureStore(out)
    return report
