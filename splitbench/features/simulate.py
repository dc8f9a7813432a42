"""Simulated feature stores (never extracted from videos; always marked ``simulation``).

* :func:`synthetic_stores` fills the stores of the synthetic benchmark, cached in the user
  cache directory under the config's key.
* :func:`simulate_official_store` makes a store with an official benchmark's real taxonomy,
  video ids and set sizes (e.g. SSv2-Split A: 24,777 val videos × 6 views × 384) for dry runs
  and performance work. Modifier directions are shared by identical modifier phrases, so the
  simulation is compositional in the same sense as the synthetic benchmark.

In both, the base head is a multinomial logistic regression trained on the subset's
mixed-granularity training labels.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from splitbench.benchmarks import taxonomy as tx
from splitbench.benchmarks.model import Benchmark, Subset
from splitbench.benchmarks.synthetic import (
    TEMPORAL_SPLIT_TYPES,
    SimulatedVLM,
    SyntheticConfig,
    SyntheticWorld,
    base_labels_of_classes,
    build_world,
    synthetic_benchmark,
)
from splitbench.errors import DataError
from splitbench.features.store import FeatureStore, StoreMeta, StoreWriter
from splitbench.features.vlm import vlm_dir
from splitbench.locks import folder_lock
from splitbench.paths import cache_dir


def train_linear_head(
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    weight_decay: float = 1e-3,
    max_iter: int = 300,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit a softmax classifier ``(W (C, D), b (C,))`` with L-BFGS and an L2 penalty on W.

    Trained in float64 and returned as float32: float32 L-BFGS ends thousands of ulps
    apart on CPUs with different vector units, enough to flip predictions, so simulated
    stores regenerated from the same seed on another machine would score differently.
    """
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    w = torch.zeros((num_classes, xt.shape[1]), dtype=torch.float64, requires_grad=True)
    b = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ w.T + b, yt) + weight_decay * (w * w).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    return w.detach().float().numpy().copy(), b.detach().float().numpy().copy()


def sample_views(
    centers: np.ndarray,
    views: int,
    video_noise: float,
    view_noise: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Features ``(n, views, D)``: each video = center + video noise; each view adds noise."""
    n, d = centers.shape
    video = centers + rng.normal(0.0, video_noise, size=(n, d)).astype(np.float32)
    out = np.repeat(video[:, None, :], views, axis=1)
    out += rng.normal(0.0, view_noise, size=(n, views, d)).astype(np.float32)
    return out.astype(np.float32)


def _synthetic_meta(world: SyntheticWorld, bench: Benchmark, subset: Subset) -> StoreMeta:
    cfg = world.config
    return StoreMeta(
        benchmark=bench.name,
        benchmark_version=bench.version,
        benchmark_revision=bench.revision,
        subset=subset.name,
        model={"name": "simulated-linear-gaussian", "config": dataclasses.asdict(cfg)},
        view_protocol={
            "kind": "simulated",
            "val_views": cfg.val_views,
            "train_views": cfg.train_views,
        },
        dtype="float16",
        dim=cfg.dim,
        labels=list(subset.labels),
        simulation=True,
    )


def synthetic_stores(config: SyntheticConfig | None = None) -> dict[str, FeatureStore]:
    """Return the synthetic benchmark's stores, generating them into the cache if needed."""
    config = config or SyntheticConfig()
    root = cache_dir() / "synthetic" / config.key()
    if not _cached(root):
        with folder_lock(root):  # a second process waits, then finds the finished cache
            if not _cached(root):
                _generate_synthetic(config, root)
    return {s: FeatureStore(root / s) for s in ("A", "B")}


def _cached(root: Path) -> bool:
    return all((root / s / "store.json").is_file() for s in ("A", "B"))


def _generate_synthetic(config: SyntheticConfig, root: Path) -> None:
    world = build_world(config)
    bench = synthetic_benchmark(config)
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 2]))
    means = world.means.astype(np.float32)
    val = sample_views(
        means[world.val_class], config.val_views, config.video_noise, config.view_noise, rng
    )
    train = sample_views(
        means[world.train_class], config.train_views, config.video_noise, config.view_noise, rng
    )
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}-"))
    try:
        for name, subset in bench.subsets.items():
            writer = StoreWriter(tmp / name, _synthetic_meta(world, bench, subset))
            class_label = base_labels_of_classes(world, name)
            y = class_label[world.train_class]
            x = train.reshape(-1, config.dim)
            w, b = train_linear_head(
                x, np.repeat(y, config.train_views), len(subset.labels), config.head_weight_decay
            )
            writer.write_head(w, b)
            writer.add_shard("val", world.val_ids.tolist(), val)
            writer.add_shard("train", world.train_ids.tolist(), train)
            writer.finish(backbone_passes=0, note="simulated features; no backbone was run")
        _write_simulated_vlms(world, bench, tmp)
        if root.exists():  # another process won the race; keep theirs
            shutil.rmtree(tmp)
            return
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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
    index = [i for i, v in enumerate(cfg.vlms) if v == vlm]
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 4, index[0] if index else 99]))
    t = _unit(np.asarray(label_embeddings, dtype=np.float64))
    signal = np.empty_like(t)
    for fc in world.classes:
        members = [c.index for c in world.classes if c.group == fc.group]
        lam = vlm.indistinguishability
        if fc.concept is not None and tx.CONCEPTS[fc.concept].split_type in TEMPORAL_SPLIT_TYPES:
            lam += vlm.temporal_indistinguishability
        lam = float(np.clip(lam, 0.0, 1.0))
        signal[fc.index] = _unit((1 - lam) * t[fc.index] + lam * t[members].mean(0))
    n, e = len(world.val_class), t.shape[1]
    video = signal[world.val_class] + rng.normal(0.0, vlm.noise, size=(n, e))
    views = video[:, None, :] + rng.normal(0.0, vlm.view_noise, size=(n, cfg.val_views, e))
    return _unit(views).astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12))


def _write_simulated_vlms(world: SyntheticWorld, bench: Benchmark, root: Path) -> None:
    """Write each simulated VLM space of ``world.config`` into every subset's store."""
    from splitbench.models.text import DEFAULT_TEXT_ENCODER, get_text_encoder

    cfg = world.config
    if not cfg.vlms:
        return
    enc = get_text_encoder(DEFAULT_TEXT_ENCODER)
    labels = enc.encode([fc.label for fc in world.classes])
    for vlm in cfg.vlms:
        feats = simulated_vlm_features(world, vlm, labels)
        for name, subset in bench.subsets.items():
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
            writer = StoreWriter(vlm_dir(root / name, vlm.name), meta)
            writer.add_shard("val", world.val_ids.tolist(), feats)
            writer.finish(backbone_passes=0, note="simulated VLM embeddings; no model was run")


def _text_rng(seed: int, text: str) -> np.random.Generator:
    h = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(np.random.SeedSequence([seed, h]))


def simulate_official_store(
    benchmark: Benchmark,
    subset_name: str,
    out: Path,
    config: SyntheticConfig | None = None,
) -> FeatureStore:
    """Write a simulated store for an official benchmark subset to ``out``.

    Every val video gets ``config.val_views`` views; every ft video of every target gets
    ``config.train_views`` views. The head is trained on at most ``config.train_per_class``
    train videos per base label.

    Raises:
        DataError: if ``out`` already holds a store.
    """
    cfg = config or SyntheticConfig(dim=384, train_views=1)
    subset = benchmark.subset(subset_name)
    if (Path(out) / "store.json").exists():
        raise DataError(f"{out}: a feature store already exists here; choose an empty folder")
    # A fine identity (label text) for every video: targets' videos via their fine labels.
    fine_of_group: dict[str, str] = {}
    for group, members in benchmark.group_scheme.items():
        for m in members:
            fine_of_group[m] = group
    modifier_of: dict[str, str] = {}
    for t in subset.targets:
        modifier_of.update(zip(t.fine_labels, t.modifiers, strict=True))
    for fg in subset.fine_groups:
        modifier_of.update(zip(fg.members, fg.modifiers, strict=True))

    def identities(table_name: str) -> np.ndarray:
        table = subset.train if table_name == "train" else subset.val
        ident = np.array([subset.labels[i] for i in table.labels], dtype=object)
        for t in subset.targets:
            s = t.ft if table_name == "train" else t.equivalent
            ident[s.rows] = [t.fine_labels[j - t.fine_indices[0]] for j in s.labels]
        return ident

    rho = float(np.clip(cfg.compositionality, 0.0, 1.0))
    mean_cache: dict[str, np.ndarray] = {}

    def mean_of(text: str) -> np.ndarray:
        if text not in mean_cache:
            group = fine_of_group.get(text, text)
            verb = _text_rng(cfg.seed, "group:" + group).normal(0.0, cfg.verb_scale, cfg.dim)
            if len(benchmark.group_scheme.get(group, ())) > 1:
                mod = modifier_of.get(text, text)
                shared = _text_rng(cfg.seed, "modifier:" + mod).normal(
                    0.0, cfg.modifier_scale, cfg.dim
                )
                own = _text_rng(cfg.seed, "label:" + text).normal(0.0, cfg.modifier_scale, cfg.dim)
                verb = verb + np.sqrt(rho) * shared + np.sqrt(1 - rho) * own
            mean_cache[text] = verb.astype(np.float32)
        return mean_cache[text]

    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 3]))
    val_ident = identities("val")
    val_centers = np.stack([mean_of(t) for t in val_ident])
    val = sample_views(val_centers, cfg.val_views, cfg.video_noise, cfg.view_noise, rng)
    train_ident = identities("train")
    ft_rows = np.unique(np.concatenate([t.ft.rows for t in subset.targets]))
    head_rows = _cap_per_label(subset.train.labels, cfg.train_per_class, rng)
    rows = np.union1d(ft_rows, head_rows)
    centers = np.stack([mean_of(t) for t in train_ident[rows]])
    train = sample_views(centers, cfg.train_views, cfg.video_noise, cfg.view_noise, rng)
    pos = {int(r): i for i, r in enumerate(rows)}
    hx = train[[pos[int(r)] for r in head_rows]].reshape(-1, cfg.dim)
    hy = np.repeat(subset.train.labels[head_rows], cfg.train_views)
    w, b = train_linear_head(hx, hy, len(subset.labels), cfg.head_weight_decay)
    meta = StoreMeta(
        benchmark=benchmark.name,
        benchmark_version=benchmark.version,
        benchmark_revision=benchmark.revision,
        subset=subset.name,
        model={"name": "simulated-linear-gaussian", "config": dataclasses.asdict(cfg)},
        view_protocol={
            "kind": "simulated",
            "val_views": cfg.val_views,
            "train_views": cfg.train_views,
        },
        dtype="float16",
        dim=cfg.dim,
        labels=list(subset.labels),
        simulation=True,
    )
    writer = StoreWriter(Path(out), meta)
    writer.write_head(w, b)
    writer.add_shard("val", subset.val.videos.tolist(), val)
    ft_pos = np.array([pos[int(r)] for r in ft_rows], dtype=np.int64)
    writer.add_shard("train", subset.train.videos[ft_rows].tolist(), train[ft_pos])
    return writer.finish(backbone_passes=0, note="simulated features; no backbone was run")


def _cap_per_label(labels: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    rows = []
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        if len(idx) > cap:
            idx = rng.choice(idx, size=cap, replace=False)
        rows.append(idx)
    return np.sort(np.concatenate(rows))


def synthetic_oracle(config: SyntheticConfig | None = None) -> dict[str, float]:
    """An upper bound on generality for the synthetic benchmark, from its ground truth.

    For each target, every equivalent video is assigned to the nearest *true* class mean
    among the target's k subcategories, using its view-averaged features. With isotropic
    Gaussian noise and no prior information this is the Bayes-optimal decision among the k
    subcategories, so no method (head edit or not) can expect higher generality. Returns the
    mean over targets per subset.
    """
    config = config or SyntheticConfig()
    world = build_world(config)
    bench = synthetic_benchmark(config)
    stores = synthetic_stores(config)
    out: dict[str, float] = {}
    for name, subset in bench.subsets.items():
        feats = stores[name].split("val").features.astype(np.float32).mean(1)
        accs = []
        for t in subset.targets:
            members = [fc.index for fc in world.classes if fc.label in t.fine_labels]
            means = world.means[members].astype(np.float32)
            x = feats[t.equivalent.rows]
            dist = ((x[:, None, :] - means[None]) ** 2).sum(-1)
            pred = dist.argmin(1) + t.fine_indices[0]
            accs.append(float((pred == t.equivalent.labels).mean()))
        out[name] = float(np.mean(accs))
    return out
