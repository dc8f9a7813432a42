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
:class:`SyntheticWorld` into feature stores with a trained base head. The knobs
(:class:`SyntheticConfig` and its text form) are in :mod:`splitbench.benchmarks.synthetic_config`.
"""

from __future__ import annotations

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
from splitbench.benchmarks.synthetic_config import (
    DEFAULT_VLMS,
    GENERATOR_VERSION,
    TEMPORAL_SPLIT_TYPES,
    HeadRecipe,
    SimulatedVLM,
    SyntheticConfig,
    config_from_spec,
)
from splitbench.core.hashing import seed_from_text

# The knobs live in synthetic_config; re-exported here, where their users import them from.
__all__ = [
    "DEFAULT_VLMS",
    "GENERATOR_VERSION",
    "TEMPORAL_SPLIT_TYPES",
    "FineClass",
    "HeadRecipe",
    "SimulatedVLM",
    "SyntheticConfig",
    "SyntheticWorld",
    "base_labels_of_classes",
    "build_world",
    "class_mean",
    "config_from_spec",
    "subset_label_space",
    "synthetic_benchmark",
    "text_rng",
]


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


def text_rng(seed: int, text: str) -> np.random.Generator:
    """A generator seeded by ``seed`` and a text (the same text gives the same draws)."""
    return np.random.default_rng(np.random.SeedSequence([seed, seed_from_text(text)]))


def class_mean(config: SyntheticConfig, group: str, modifier: str | None, label: str) -> np.ndarray:
    """Pre-norm mean feature of one fine class.

    ``verb(group) + sqrt(ρ) · mod(modifier) + sqrt(1 − ρ) · own(label)``, or ``verb(group)``
    for a singleton class (``modifier=None``). Each part is drawn from a generator seeded by
    its text, so equal keys share a direction in every taxonomy.
    """
    d, scale = config.dim, config.resolved_modifier_scale()
    mean = text_rng(config.seed, "group:" + group).normal(0.0, config.verb_scale, d)
    if modifier is not None:
        rho = float(np.clip(config.compositionality, 0.0, 1.0))
        shared = text_rng(config.seed, "modifier:" + modifier).normal(0.0, scale, d)
        own = text_rng(config.seed, "label:" + label).normal(0.0, scale, d)
        mean = mean + np.sqrt(rho) * shared + np.sqrt(1.0 - rho) * own
    return np.asarray(mean)


def build_world(config: SyntheticConfig) -> SyntheticWorld:
    """Draw the simulated world (cheap: means and video-to-class assignment, no features).

    A modifier direction is keyed by the *concept*, so paraphrases of one concept in
    different groups share it (matching meaning, not strings, is what a method must do).
    """
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 1]))
    classes: list[FineClass] = []
    means: list[np.ndarray] = []
    for gi, group in enumerate(tx.GROUPS):
        for concept, variant in group.members:
            label = tx.fine_label(group.verb, concept, variant)
            means.append(class_mean(config, group.verb, "concept:" + concept, label))
            classes.append(
                FineClass(len(classes), gi, concept, label, tx.modifier(concept, variant))
            )
    for si, name in enumerate(tx.SINGLETONS):
        means.append(class_mean(config, name, None, name))
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
