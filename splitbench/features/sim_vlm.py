"""Simulated video-language model (VLM) spaces (a SIMULATION; see :class:`SimulatedVLM`).

Each space of ``config.vlms`` is written as a sub-store of val-view embeddings next to a
simulated store's base features, for the cascade baselines: :func:`write_simulated_vlms` for
the synthetic world, :func:`write_vlm_spaces` for any taxonomy (the simulated official
stores of :mod:`splitbench.features.simulate`), both drawn by :func:`vlm_view_features`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from splitbench.benchmarks import taxonomy as tx
from splitbench.benchmarks.model import Benchmark
from splitbench.benchmarks.synthetic import (
    TEMPORAL_SPLIT_TYPES,
    SimulatedVLM,
    SyntheticConfig,
    SyntheticWorld,
)
from splitbench.features.store import StoreMeta
from splitbench.features.store_writer import StoreWriter
from splitbench.features.vlm import vlm_dir


def simulated_vlm_features(
    world: SyntheticWorld, vlm: SimulatedVLM, label_embeddings: np.ndarray
) -> np.ndarray:
    """Per-view embeddings ``(N_val, views, E)`` of a simulated VLM (see :class:`SimulatedVLM`).

    Args:
        world: The simulated world.
        vlm: The VLM's knobs.
        label_embeddings: ``(n_classes, E)`` text embeddings of the classes' labels.
    """
    cfg = world.config
    group = np.array([fc.group for fc in world.classes])
    temporal = np.array([_is_temporal(fc.concept) for fc in world.classes])
    return vlm_view_features(
        vlm, label_embeddings, group, temporal, world.val_class, cfg.val_views, _vlm_rng(cfg, vlm)
    )


def _is_temporal(concept: str | None) -> bool:
    return concept is not None and tx.CONCEPTS[concept].split_type in TEMPORAL_SPLIT_TYPES


def _vlm_rng(cfg: SyntheticConfig, vlm: SimulatedVLM) -> np.random.Generator:
    index = [i for i, v in enumerate(cfg.vlms) if v == vlm]
    return np.random.default_rng(np.random.SeedSequence([cfg.seed, 4, index[0] if index else 99]))


def vlm_view_features(
    vlm: SimulatedVLM,
    label_embeddings: np.ndarray,
    group_of_class: np.ndarray,
    temporal: np.ndarray,
    val_class: np.ndarray,
    views: int,
    rng: np.random.Generator,
    chunk: int = 4096,
) -> np.ndarray:
    """Per-view embeddings ``(N_val, views, E)`` of a simulated VLM for any taxonomy.

    Args:
        vlm: The VLM's knobs.
        label_embeddings: ``(n_classes, E)`` text embeddings of the classes' labels.
        group_of_class: Coarse-group id of each class (singletons: ids of their own).
        temporal: Whether each class differs from its siblings by a temporal property.
        val_class: Class of each val video.
        views: Views per video.
        rng: Noise generator.
        chunk: Videos drawn at a time (bounds memory on official-size sets).
    """
    t = _unit(np.asarray(label_embeddings, dtype=np.float64))
    signal = np.empty_like(t)
    for c in range(len(t)):
        members = np.flatnonzero(group_of_class == group_of_class[c])
        lam = vlm.indistinguishability + (vlm.temporal_indistinguishability if temporal[c] else 0)
        lam = float(np.clip(lam, 0.0, 1.0))
        signal[c] = _unit((1 - lam) * t[c] + lam * t[members].mean(0))
    signal32 = signal.astype(np.float32)
    n, e = len(val_class), t.shape[1]
    out = np.empty((n, views, e), dtype=np.float32)
    for lo in range(0, n, chunk):
        cls = val_class[lo : lo + chunk]
        m = len(cls)
        video = signal32[cls] + vlm.noise * rng.standard_normal((m, e), dtype=np.float32)
        v = video[:, None, :] + vlm.view_noise * rng.standard_normal((m, views, e), np.float32)
        out[lo : lo + chunk] = _unit(v)
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12))


def write_simulated_vlms(world: SyntheticWorld, bench: Benchmark, root: Path) -> None:
    """Write each simulated VLM space of ``world.config`` into every subset's store."""
    cfg = world.config
    group = np.array([fc.group for fc in world.classes])
    temporal = np.array([_is_temporal(fc.concept) for fc in world.classes])
    write_vlm_spaces(
        cfg,
        bench,
        {name: root / name for name in bench.subsets},
        [fc.label for fc in world.classes],
        group,
        temporal,
        world.val_class,
        world.val_ids.tolist(),
    )


def write_vlm_spaces(
    cfg: SyntheticConfig,
    bench: Benchmark,
    stores: dict[str, Path],
    class_labels: Sequence[str],
    group_of_class: np.ndarray,
    temporal: np.ndarray,
    val_class: np.ndarray,
    val_ids: list[str],
) -> None:
    """Write every VLM space of ``cfg.vlms`` into the stores (subset name → store folder)."""
    from splitbench.models.text import DEFAULT_TEXT_ENCODER, get_text_encoder

    if not cfg.vlms:
        return
    enc = get_text_encoder(DEFAULT_TEXT_ENCODER)
    labels = enc.encode(list(class_labels))
    for vlm in cfg.vlms:
        feats = vlm_view_features(
            vlm, labels, group_of_class, temporal, val_class, cfg.val_views, _vlm_rng(cfg, vlm)
        )
        for name, path in stores.items():
            subset = bench.subset(name)
            meta = StoreMeta(
                benchmark=bench.name,
                benchmark_version=bench.version,
                benchmark_revision=bench.revision,
                subset=subset.name,
                model={
                    "name": "simulated-vlm",
                    "vlm": dataclasses.asdict(vlm),
                    "seed": cfg.seed,
                    "text_encoder": enc.identity,
                },
                view_protocol={"kind": "simulated", "val_views": cfg.val_views},
                dtype="float16",
                dim=int(feats.shape[-1]),
                labels=list(subset.labels),
                simulation=True,
                extra={
                    "vlm": {
                        "name": vlm.name,
                        "spec": f"simulated:{vlm.name}",
                        "family": vlm.name,
                        "text_encoder": DEFAULT_TEXT_ENCODER,
                        "text_identity": enc.identity,
                        "simulation": True,
                        "embedding": "per view, L2-normalised; SIMULATED: aligned with the "
                        f"{DEFAULT_TEXT_ENCODER} text embedding of the video's true fine label",
                    }
                },
            )
            writer = StoreWriter(vlm_dir(path, vlm.name), meta)
            writer.add_shard("val", val_ids, feats)
            writer.finish(backbone_passes=0, note="simulated VLM embeddings; no model was run")
