"""The synthetic benchmark: a seeded, feature-level **simulation** of category splitting.

It exists so that ``splitbench run`` works anywhere in seconds and so that method behaviour
can be studied under known ground truth. Its numbers are never SSv2 or FineGym numbers and
are labelled as simulated wherever they appear.

The class structure follows the paper's hypothesis. A fine class's mean feature is

    μ(g, m) = u_g + sqrt(ρ) · r_m + sqrt(1 − ρ) · e_(g,m)

with a verb (coarse group) direction ``u_g``, a modifier-concept direction ``r_m`` shared by
every verb that uses the concept, and an idiosyncratic part ``e``; ``ρ`` is the
``compositionality`` knob. A video's features are its class mean plus video noise, and each
view adds view noise. Train and val videos are shared by subsets A and B (only the labels
differ, as in the official files). :mod:`splitbench.features.simulate` turns a
:class:`SyntheticWorld` into feature stores with a trained base head.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from splitbench.benchmarks import taxonomy as tx
from splitbench.benchmarks.model import (
    Benchmark,
    FineGroup,
    SplitTarget,
    Subset,
    VideoSet,
    VideoTable,
)

# 2: the base head is trained in float64 (portable across CPUs); 3: simulated VLM spaces.
# Bump on any change of output.
GENERATOR_VERSION = "3"
TEMPORAL_SPLIT_TYPES = ("direction", "manner or speed")


@dataclass(frozen=True)
class SimulatedVLM:
    """A simulated video-language model (VLM) space of the synthetic benchmark.

    A SIMULATION, for the cascade baselines: the text side is the default ``minilm``
    sentence encoder, and each val video's embedding follows the text embedding of its true
    fine label. Per view it is ``normalise(s_f + video noise + view noise)`` with

        s_f = normalise((1 − λ_f) · t_f + λ_f · t̄_g)

    where ``t_f`` is the unit text embedding of the fine label, ``t̄_g`` the mean of its
    coarse group's members' embeddings, and ``λ_f`` the *visual indistinguishability* of the
    class: ``indistinguishability``, plus ``temporal_indistinguishability`` when the class
    differs from its siblings by a temporal property (split types ``direction`` and
    ``manner or speed``), clipped to [0, 1]. λ = 1 makes a group's members look identical
    to the VLM. A frame-averaging image model (CLIP) cannot tell a motion from its reverse,
    a video model (ViCLIP) partly can; the defaults say so.

    Attributes:
        name: The space's name in the store (``clip``, ``viclip``).
        noise: Per-dimension std of a video's deviation (the unit text vectors are 384-d).
        view_noise: Per-dimension std of a view's deviation from its video.
        indistinguishability: λ for every class.
        temporal_indistinguishability: Extra λ for temporal split types.
    """

    name: str
    noise: float = 0.3
    view_noise: float = 0.03
    indistinguishability: float = 0.6
    temporal_indistinguishability: float = 0.0


# Chosen so that, as in the paper's SSv2 numbers, the simulated CLIP cascade lands well below
# modifier retrieval and ViCLIP between them: a modelling choice, not a finding.
DEFAULT_VLMS: tuple[SimulatedVLM, ...] = (
    SimulatedVLM("clip", noise=0.35, indistinguishability=0.7, temporal_indistinguishability=0.3),
    SimulatedVLM("viclip", noise=0.3, indistinguishability=0.65, temporal_indistinguishability=0.1),
)
# The paper's other VLM baselines have no statistics of their own to calibrate on, so each takes
# the knobs of the space of its kind: frame-pooled image encoders (FG-CLIP, a merged CLIP) get
# CLIP's, the space-time video encoder (VideoPrism) gets ViCLIP's. Only the noise draws differ.
DEFAULT_VLMS += tuple(
    dataclasses.replace(DEFAULT_VLMS[kind], name=name)
    for name, kind in (("fgclip", 0), ("videoprism", 1), ("merged-clip", 0))
)


@dataclass(frozen=True)
class SyntheticConfig:
    """Knobs of the simulation (all part of the cache key).

    Attributes:
        seed: Generator seed.
        dim: Feature dimension D.
        val_views: Views per val video (6 = 2 segments × 3 crops, as in the paper).
        train_views: Augmented views per train video.
        train_per_class: Mean train videos per fine class (counts vary ±50 %).
        val_per_class: Mean val videos per fine class (counts vary ±50 %).
        compositionality: ρ in [0, 1]: the share of a fine class's offset that is the
            shared modifier direction (1 = perfectly compositional).
        verb_scale: Per-dimension std of verb directions.
        modifier_scale: Per-dimension std of modifier and idiosyncratic offsets.
        video_noise: Per-dimension std of a video's deviation from its class mean.
        view_noise: Per-dimension std of a view's deviation from its video.
        head_weight_decay: L2 penalty when training the base head.
        vlms: Simulated VLM spaces written next to the base features (see
            :class:`SimulatedVLM`).
    """

    seed: int = 0
    dim: int = 64
    val_views: int = 6
    train_views: int = 2
    train_per_class: int = 40
    val_per_class: int = 16
    compositionality: float = 0.8
    verb_scale: float = 0.5
    modifier_scale: float = 0.25
    video_noise: float = 1.0
    view_noise: float = 0.5
    head_weight_decay: float = 1e-3
    vlms: tuple[SimulatedVLM, ...] = DEFAULT_VLMS

    def key(self) -> str:
        """Hash of the config and the generator version (16 hex digits)."""
        blob = json.dumps(
            {"generator": GENERATOR_VERSION, **dataclasses.asdict(self)}, sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class FineClass:
    """A ground-truth fine class of the simulated world."""

    index: int
    group: int  # index into taxonomy.GROUPS, or -1 - i for singleton i
    concept: str | None
    label: str
    modifier: str


@dataclass(frozen=True, eq=False)
class SyntheticWorld:
    """Ground truth of one simulation: classes, their means, and every video's class.

    Attributes:
        config: The knobs.
        classes: Fine classes (groups' members, then singletons).
        means: ``(n_classes, D)`` class means.
        train_class: Fine class of each train video.
        val_class: Fine class of each val video.
        train_ids: Train video ids.
        val_ids: Val video ids.
    """

    config: SyntheticConfig
    classes: tuple[FineClass, ...]
    means: np.ndarray
    train_class: np.ndarray
    val_class: np.ndarray
    train_ids: np.ndarray
    val_ids: np.ndarray


def build_world(config: SyntheticConfig) -> SyntheticWorld:
    """Draw the simulated world (cheap: means and video-to-class assignment, no features)."""
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 1]))
    d = config.dim
    n_groups = len(tx.GROUPS) + len(tx.SINGLETONS)
    verbs = rng.normal(0.0, config.verb_scale, size=(n_groups, d))
    concept_names = sorted(tx.CONCEPTS)
    concept_dirs = dict(
        zip(
            concept_names,
            rng.normal(0.0, config.modifier_scale, size=(len(concept_names), d)),
            strict=True,
        )
    )
    rho = float(np.clip(config.compositionality, 0.0, 1.0))
    classes: list[FineClass] = []
    means: list[np.ndarray] = []
    for gi, group in enumerate(tx.GROUPS):
        for concept, variant in group.members:
            own = rng.normal(0.0, config.modifier_scale, size=d)
            means.append(verbs[gi] + np.sqrt(rho) * concept_dirs[concept] + np.sqrt(1 - rho) * own)
            classes.append(
                FineClass(
                    len(classes),
                    gi,
                    concept,
                    tx.fine_label(group.verb, concept, variant),
                    tx.modifier(concept, variant),
                )
            )
    for si, name in enumerate(tx.SINGLETONS):
        means.append(verbs[len(tx.GROUPS) + si])
        classes.append(FineClass(len(classes), -1 - si, None, name, name))

    def draw_counts(mean: int) -> np.ndarray:
        return rng.integers(max(1, mean // 2), mean * 3 // 2 + 1, size=len(classes))

    train_class = np.repeat(np.arange(len(classes)), draw_counts(config.train_per_class))
    val_class = np.repeat(np.arange(len(classes)), draw_counts(config.val_per_class))
    rng.shuffle(train_class)
    rng.shuffle(val_class)
    return SyntheticWorld(
        config=config,
        classes=tuple(classes),
        means=np.asarray(means),
        train_class=train_class,
        val_class=val_class,
        train_ids=np.array([f"syn-train-{i:05d}" for i in range(len(train_class))], dtype=object),
        val_ids=np.array([f"syn-val-{i:05d}" for i in range(len(val_class))], dtype=object),
    )


@lru_cache(maxsize=8)
def synthetic_benchmark(config: SyntheticConfig | None = None) -> Benchmark:
    """Build the synthetic benchmark's data model (no features) for ``config``."""
    config = config or SyntheticConfig()
    world = build_world(config)
    scheme = {g.verb: tuple(tx.fine_label(g.verb, c, v) for c, v in g.members) for g in tx.GROUPS}
    scheme.update({s: (s,) for s in tx.SINGLETONS})
    partition = {name: tuple(g.verb for g in tx.GROUPS if g.subset == name) for name in ("A", "B")}
    subsets = {name: _subset(world, name) for name in ("A", "B")}
    return Benchmark(
        name="synthetic",
        display_name="Synthetic (simulation)",
        version=GENERATOR_VERSION,
        subsets=subsets,
        group_scheme=scheme,
        partition=partition,
        simulation=True,
        source=f"splitbench synthetic generator v{GENERATOR_VERSION}",
        revision=f"synthetic:{config.key()}",
        modifier_source="synthetic taxonomy (written by splitbench)",
    )


def subset_label_space(name: str) -> list[str]:
    """Base labels of subset ``name``, sorted alphabetically (as SSv2's labels.json is).

    They are its targets' coarse names, the other subset's fine labels and the singletons.
    """
    labels: list[str] = []
    for g in tx.GROUPS:
        if g.subset == name:
            labels.append(g.verb)
        else:
            labels.extend(tx.fine_label(g.verb, c, v) for c, v in g.members)
    labels.extend(tx.SINGLETONS)
    return sorted(labels)


def base_labels_of_classes(world: SyntheticWorld, name: str) -> np.ndarray:
    """Base-model label index of every fine class in subset ``name``."""
    labels = subset_label_space(name)
    index = {text: i for i, text in enumerate(labels)}
    out = []
    for fc in world.classes:
        if fc.group >= 0 and tx.GROUPS[fc.group].subset == name:
            out.append(index[tx.GROUPS[fc.group].verb])
        else:
            out.append(index[fc.label])
    return np.asarray(out, dtype=np.int64)


def _subset(world: SyntheticWorld, name: str) -> Subset:
    labels = subset_label_space(name)
    index = {text: i for i, text in enumerate(labels)}
    n = len(labels)
    class_label = base_labels_of_classes(world, name)
    train = VideoTable("train", world.train_ids, class_label[world.train_class])
    val = VideoTable("val", world.val_ids, class_label[world.val_class])
    targets: list[SplitTarget] = []
    fine_groups: list[FineGroup] = []
    for gi, g in enumerate(tx.GROUPS):
        members = [fc for fc in world.classes if fc.group == gi]
        texts = tuple(fc.label for fc in members)
        mods = tuple(fc.modifier for fc in members)
        if g.subset != name:
            fine_groups.append(FineGroup(g.verb, texts, tuple(index[t] for t in texts), mods))
            continue
        local = {fc.index: j for j, fc in enumerate(members)}

        def vset(
            kind: str, table: str, classes: np.ndarray, local: dict[int, int] = local
        ) -> VideoSet:
            rows = np.flatnonzero(np.isin(classes, list(local)))
            fine = np.array([n + local[int(c)] for c in classes[rows]], dtype=np.int64)
            return VideoSet(kind, table, rows.astype(np.int64), fine)

        eq = vset("equivalent", "val", world.val_class)
        in_eq = np.zeros(len(val), dtype=bool)
        in_eq[eq.rows] = True
        un_rows = np.flatnonzero(~in_eq).astype(np.int64)
        targets.append(
            SplitTarget(
                subset=name,
                name=g.verb,
                coarse_index=index[g.verb],
                fine_labels=texts,
                fine_indices=tuple(range(n, n + len(texts))),
                modifiers=mods,
                ft=vset("ft", "train", world.train_class),
                equivalent=eq,
                unrelated=VideoSet("unrelated", "val", un_rows, val.labels[un_rows]),
                split_types=tx.split_types(g),
            )
        )
    return Subset(
        benchmark="synthetic",
        name=name,
        labels=tuple(labels),
        train=train,
        val=val,
        targets=tuple(targets),
        fine_groups=tuple(fine_groups),
        singletons=tuple(index[s] for s in tx.SINGLETONS),
    )
