"""An official benchmark's taxonomy as simulation input: fine classes and every video's class.

The simulation needs a *fine* identity for every video, whatever its base label: videos of a
split target get their subcategory (from the ft and equivalent sets), all others their base
label, which is already fine. A fine class is keyed by (coarse group, modifier, label), so
identical modifier phrases share a direction and the simulation is compositional in the same
sense as the synthetic benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splitbench.benchmarks.model import Benchmark, Subset

ClassKey = tuple[str, str | None, str]  # (group, modifier key or None for a singleton, label)


@dataclass(frozen=True)
class SimTaxonomy:
    """Fine classes of an official subset and the class of each val and train video.

    Attributes:
        keys: ``(group, modifier, label)`` per fine class.
        val_class: Fine class of each val video (``subset.val`` order).
        train_class: Fine class of each train video (``subset.train`` order).
        group_of_class: Coarse-group id of each fine class.
    """

    keys: tuple[ClassKey, ...]
    val_class: np.ndarray
    train_class: np.ndarray
    group_of_class: np.ndarray

    @property
    def labels(self) -> list[str]:
        """Label text of each fine class."""
        return [k[2] for k in self.keys]


def fine_identities(subset: Subset, table_name: str) -> np.ndarray:
    """Fine label text of every video of ``subset``'s ``train`` or ``val`` table."""
    table = subset.train if table_name == "train" else subset.val
    ident = np.array([subset.labels[i] for i in table.labels], dtype=object)
    for t in subset.targets:
        s = t.ft if table_name == "train" else t.equivalent
        ident[s.rows] = [t.fine_labels[j - t.fine_indices[0]] for j in s.labels]
    return ident


def official_taxonomy(benchmark: Benchmark, subset: Subset) -> SimTaxonomy:
    """The simulation input for one subset of an official benchmark."""
    group_of: dict[str, str] = {}
    for group, members in benchmark.group_scheme.items():
        for m in members:
            group_of[m] = group
    modifier_of: dict[str, str] = {}
    for t in subset.targets:
        modifier_of.update(zip(t.fine_labels, t.modifiers, strict=True))
    for fg in subset.fine_groups:
        modifier_of.update(zip(fg.members, fg.modifiers, strict=True))
    val_ident = fine_identities(subset, "val")
    train_ident = fine_identities(subset, "train")
    texts = sorted(set(val_ident.tolist()) | set(train_ident.tolist()))
    index = {t: i for i, t in enumerate(texts)}
    keys: list[ClassKey] = []
    for text in texts:
        group = group_of.get(text, text)
        multi = len(benchmark.group_scheme.get(group, ())) > 1
        keys.append((group, modifier_of.get(text, text) if multi else None, text))
    groups = {g: i for i, g in enumerate(sorted({k[0] for k in keys}))}
    return SimTaxonomy(
        keys=tuple(keys),
        val_class=np.array([index[t] for t in val_ident], dtype=np.int64),
        train_class=np.array([index[t] for t in train_ident], dtype=np.int64),
        group_of_class=np.array([groups[k[0]] for k in keys], dtype=np.int64),
    )
