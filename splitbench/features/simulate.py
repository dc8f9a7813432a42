"""Simulated feature stores (never extracted from videos; always marked ``simulation``).

* :func:`synthetic_stores` fills the stores of the synthetic benchmark, cached in the user
  cache directory under the config's key.
* :func:`simulate_official_store` makes a store with an official benchmark's real taxonomy,
  video ids and set sizes (e.g. SSv2-Split A: 24,777 val videos × 6 views × 384) for dry runs
  and performance work.

Both use one generator (:mod:`splitbench.features.sim_geometry`): text-keyed class means,
LayerNorm features with 2 × 3 correlated eval views and augmented train views, and a base
head trained by MVD's recipe on the subset's mixed-granularity labels, with the video noise
calibrated on the real backbone's published accuracy
(:mod:`splitbench.benchmarks.calibration`). Each store records the base model's accuracy
(view and video top-1, masked accuracy on each unrelated set, coarse recall per target) in
``store.json`` under ``extra.base_model``. The simulated VLM spaces written next to the base
features are drawn by :mod:`splitbench.features.sim_vlm`.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from splitbench.atomic import make_temp_dir
from splitbench.benchmarks.calibration import REFERENCE_SOURCE
from splitbench.benchmarks.model import Benchmark, Subset
from splitbench.benchmarks.synthetic import (
    GENERATOR_VERSION,
    TEMPORAL_SPLIT_TYPES,
    SyntheticConfig,
    base_labels_of_classes,
    build_world,
    class_mean,
    synthetic_benchmark,
)
from splitbench.core.hashing import seed_from_text
from splitbench.errors import DataError
from splitbench.features.sim_geometry import (
    base_model_figures,
    eval_views,
    layer_norm,
    train_base_head,
    train_views_prenorm,
    view_noise,
)
from splitbench.features.sim_progress import SimProgress
from splitbench.features.sim_vlm import (
    simulated_vlm_features,
    vlm_view_features,
    write_simulated_vlms,
    write_vlm_spaces,
)
from splitbench.features.store import FeatureStore, StoreMeta
from splitbench.features.store_writer import StoreWriter
from splitbench.locks import folder_lock
from splitbench.paths import cache_dir

# The VLM spaces live in sim_vlm; re-exported for the callers that import them from here.
__all__ = [
    "COMPLETE",
    "cap_per_label",
    "fit_simulated_head",
    "record_base_model",
    "simulate_official_store",
    "simulated_model_identity",
    "simulated_vlm_features",
    "synthetic_stores",
    "vlm_view_features",
    "write_vlm_spaces",
]


def simulated_model_identity(config: SyntheticConfig) -> dict[str, Any]:
    """The ``model`` entry of a simulated store: generator, every knob, the resolved noise."""
    return {
        "name": "simulated-layernorm-gaussian",
        "generator": GENERATOR_VERSION,
        "config": dataclasses.asdict(config),
        "video_noise": config.resolved_video_noise(),
        "calibrated_on": REFERENCE_SOURCE if config.video_noise is None else None,
    }


def _meta(bench: Benchmark, subset: Subset, cfg: SyntheticConfig) -> StoreMeta:
    return StoreMeta(
        benchmark=bench.name,
        benchmark_version=bench.version,
        benchmark_revision=bench.revision,
        subset=subset.name,
        model=simulated_model_identity(cfg),
        view_protocol={
            "kind": "simulated",
            "segments": cfg.segments,
            "crops": cfg.crops,
            "val_views": cfg.val_views,
            "train_views": cfg.train_views,
        },
        dtype="float16",
        dim=cfg.dim,
        labels=list(subset.labels),
        simulation=True,
    )


def cap_per_label(labels: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions keeping at most ``cap`` (randomly chosen) per label value."""
    rows = []
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        if len(idx) > cap:
            idx = rng.choice(idx, size=cap, replace=False)
        rows.append(idx)
    return np.sort(np.concatenate(rows)) if rows else np.zeros(0, dtype=np.int64)


def fit_simulated_head(
    cfg: SyntheticConfig,
    prenorm: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    salt: str,
    progress: SimProgress,
) -> tuple[np.ndarray, np.ndarray]:
    """Train the base head on at most ``head_train_per_class`` videos per base label.

    Args:
        cfg: The knobs.
        prenorm: ``(n, train_views, D)`` pre-norm train views.
        labels: ``(n,)`` base labels of those videos.
        num_classes: Head rows.
        salt: Distinguishes the heads of one simulation (e.g. the subset name).
        progress: Advanced by the training steps.
    """
    seed = _seed(cfg.seed, "head:" + salt)
    rows = cap_per_label(labels, cfg.head_train_per_class, np.random.default_rng(seed))
    z = prenorm[rows].reshape(-1, cfg.dim)
    y = np.repeat(labels[rows], cfg.train_views)
    return train_base_head(z, y, num_classes, cfg.head, cfg.ln_gain, seed, progress.advance)


def _seed(seed: int, text: str) -> int:
    return seed_from_text(f"{seed}|{text}", nbytes=4) & 0x7FFFFFFF


def record_base_model(
    writer: StoreWriter, store: FeatureStore, subset: Subset, cfg: SyntheticConfig
) -> dict[str, Any]:
    """Measure the base model on the store's val views and record it in ``store.json``."""
    from splitbench.features.extract import sanity_figures

    w, b = store.head()
    val = store.split("val")
    rows = val.rows_of(subset.val.videos.tolist())
    figures: dict[str, Any] = base_model_figures(val.features[rows], subset.val.labels, w, b)
    figures.update(sanity_figures(subset, store))
    figures["calibration"] = {
        "statistic": "video top-1 of the simulated 174-class SSv2 model",
        "target": cfg.base_accuracy if cfg.video_noise is None else None,
        "video_noise": cfg.resolved_video_noise(),
        "source": REFERENCE_SOURCE,
    }
    writer.update_extra(base_model=figures)
    return figures


def synthetic_stores(
    config: SyntheticConfig | None = None, *, progress: bool | None = None
) -> dict[str, FeatureStore]:
    """Return the synthetic benchmark's stores, generating them into the cache if needed.

    Args:
        config: The knobs (default: the defaults).
        progress: Show a progress bar with ETA while generating (None: only on a terminal).
    """
    config = config or SyntheticConfig()
    root = cache_dir() / "synthetic" / config.key()
    if not _cached(root):
        with folder_lock(root):  # a second process waits, then finds the finished cache
            if not _cached(root):
                _generate_synthetic(config, root, progress)
    return {s: FeatureStore(root / s) for s in ("A", "B")}


# Written last into the finished folder: a folder without it (an older cache, a copy cut
# short, a file deleted by hand) is incomplete and is regenerated under the lock.
COMPLETE = ".complete"


def _cached(root: Path) -> bool:
    return (root / COMPLETE).is_file()


def _generate_synthetic(config: SyntheticConfig, root: Path, progress: bool | None) -> None:
    world = build_world(config)
    bench = synthetic_benchmark(config)
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 2]))
    noise = view_noise(config)
    n_val, n_train = len(world.val_class), len(world.train_class)
    bar = SimProgress.for_simulation(
        "synthetic benchmark (first run; cached)", config, n_val, n_train, heads=2, enabled=progress
    )
    val = eval_views(
        world.means[world.val_class],
        config.segments,
        config.crops,
        noise,
        config.ln_gain,
        rng,
        on_chunk=bar.features,
    )
    pre = train_views_prenorm(world.means[world.train_class], config.train_views, noise, rng)
    train = layer_norm(pre, config.ln_gain).astype(np.float16)
    bar.features(n_train)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(root.parent, prefix=f".{root.name}-")
    try:
        for name, subset in bench.subsets.items():
            writer = StoreWriter(tmp / name, _meta(bench, subset, config))
            labels = base_labels_of_classes(world, name)[world.train_class]
            w, b = fit_simulated_head(config, pre, labels, len(subset.labels), name, bar)
            writer.write_head(w, b)
            writer.add_shard("val", world.val_ids.tolist(), val)
            writer.add_shard("train", world.train_ids.tolist(), train)
            store = writer.finish(backbone_passes=0, note="simulated features; no backbone was run")
            record_base_model(writer, store, subset, config)
        write_simulated_vlms(world, bench, tmp)
        (tmp / COMPLETE).write_text(config.key() + "\n")
        bar.close()
        if _cached(root):  # another process won the race (no fcntl lock); keep theirs
            shutil.rmtree(tmp)
            return
        if root.exists():  # incomplete: replaced (we hold the lock)
            shutil.rmtree(root)
        os.replace(tmp, root)
    except BaseException:
        bar.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def simulate_official_store(
    benchmark: Benchmark,
    subset_name: str,
    out: Path,
    config: SyntheticConfig | None = None,
    *,
    progress: bool | None = None,
) -> FeatureStore:
    """Write a simulated store for an official benchmark subset to ``out``.

    Every val video gets ``segments × crops`` views; every ft video of every target gets
    ``train_views`` augmented views. The head is trained on at most ``head_train_per_class``
    train videos per base label. The simulated VLM spaces of ``config.vlms`` are written too.

    Raises:
        DataError: if ``out`` already holds a store.
    """
    from splitbench.features.sim_taxonomy import official_taxonomy

    cfg = config or SyntheticConfig()
    subset = benchmark.subset(subset_name)
    if (Path(out) / "store.json").exists():
        raise DataError(f"{out}: a feature store already exists here; choose an empty folder")
    tax = official_taxonomy(benchmark, subset)
    means = np.stack([class_mean(cfg, *k) for k in tax.keys]).astype(np.float32)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 3]))
    noise = view_noise(cfg)
    head_rows = cap_per_label(subset.train.labels, cfg.head_train_per_class, rng)
    ft_rows = np.unique(np.concatenate([t.ft.rows for t in subset.targets]))
    rows = np.union1d(ft_rows, head_rows)
    bar = SimProgress.for_simulation(
        f"{benchmark.name}/{subset_name} (simulation)",
        cfg,
        len(subset.val),
        len(rows),
        heads=1,
        enabled=progress,
    )
    val = eval_views(
        means[tax.val_class],
        cfg.segments,
        cfg.crops,
        noise,
        cfg.ln_gain,
        rng,
        on_chunk=bar.features,
    )
    pre = train_views_prenorm(means[tax.train_class[rows]], cfg.train_views, noise, rng)
    bar.features(len(rows))
    pos = np.searchsorted(rows, head_rows)
    w, b = fit_simulated_head(
        cfg, pre[pos], subset.train.labels[head_rows], len(subset.labels), subset_name, bar
    )
    writer = StoreWriter(Path(out), _meta(benchmark, subset, cfg))
    writer.write_head(w, b)
    writer.add_shard("val", subset.val.videos.tolist(), val)
    ft_pos = np.searchsorted(rows, ft_rows)
    ft_views = layer_norm(pre[ft_pos], cfg.ln_gain).astype(np.float16)
    writer.add_shard("train", subset.train.videos[ft_rows].tolist(), ft_views)
    store = writer.finish(backbone_passes=0, note="simulated features; no backbone was run")
    temporal_groups = {
        t.name for t in subset.targets if set(t.split_types) & set(TEMPORAL_SPLIT_TYPES)
    }
    temporal = np.array([k[0] in temporal_groups for k in tax.keys])
    write_vlm_spaces(
        cfg,
        benchmark,
        {subset_name: Path(out)},
        tax.labels,
        tax.group_of_class,
        temporal,
        tax.val_class,
        subset.val.videos.tolist(),
    )
    record_base_model(writer, store, subset, cfg)
    bar.close()
    return FeatureStore(Path(out))
