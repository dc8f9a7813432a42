"""Shared helpers for the method tests: a tiny hand-made subset and a cheap text encoder."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch

from splitbench.benchmarks.model import (
    Benchmark,
    FineGroup,
    SplitTarget,
    Subset,
    VideoSet,
    VideoTable,
)
from splitbench.protocol.context import SubsetContext


class HashedWordEncoder:
    """Deterministic bag-of-words embeddings: texts sharing words get similar vectors.

    A stand-in for the sentence encoder where a test checks training mechanics, not
    language understanding (the real encoder is exercised by the CLI runs).
    """

    name = "hashed-words"
    identity = "hashed-words:v1"

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little")
                out[i] += np.random.default_rng(seed).normal(size=self.dim).astype(np.float32)
        return out


def tiny_subset() -> Subset:
    """Labels: 0 'Push' (a target: 'Push left'/'Push right'), 1-2 the fine group 'Pull'
    ('Pull left'/'Pull right'), 3 the singleton 'Wave'. Ft counts per subcategory: 3 and 1."""
    labels = ("Push", "Pull left", "Pull right", "Wave")
    n = len(labels)
    train_videos = np.array([f"t{i}" for i in range(8)], dtype=object)
    train_labels = np.array([0, 0, 0, 0, 1, 2, 3, 3], dtype=np.int64)
    val_videos = np.array([f"v{i}" for i in range(6)], dtype=object)
    val_labels = np.array([0, 0, 1, 2, 3, 3], dtype=np.int64)
    target = SplitTarget(
        subset="A",
        name="Push",
        coarse_index=0,
        fine_labels=("Push left", "Push right"),
        fine_indices=(n, n + 1),
        modifiers=("left", "right"),
        ft=VideoSet("ft", "train", np.array([0, 1, 2, 3]), np.array([n, n, n, n + 1])),
        equivalent=VideoSet("equivalent", "val", np.array([0, 1]), np.array([n, n + 1])),
        unrelated=VideoSet("unrelated", "val", np.array([2, 3, 4, 5]), val_labels[2:]),
        split_types=("direction",),
    )
    return Subset(
        benchmark="tiny",
        name="A",
        labels=labels,
        train=VideoTable("train", train_videos, train_labels),
        val=VideoTable("val", val_videos, val_labels),
        targets=(target,),
        fine_groups=(FineGroup("Pull", ("Pull left", "Pull right"), (1, 2), ("left", "right")),),
        singletons=(3,),
    )


def tiny_context(weight: torch.Tensor | None = None) -> SubsetContext:
    """A context over :func:`tiny_subset` with a hand-made 4 × 3 head and no store."""
    subset = tiny_subset()
    bench = Benchmark(
        name="tiny",
        display_name="Tiny",
        version="1",
        subsets={"A": subset},
        group_scheme={"Push": ("Push left", "Push right"), "Pull": subset.fine_groups[0].members},
        partition={"A": ("Push",), "B": ("Pull",)},
        simulation=True,
        source="tests",
        revision="tiny",
        modifier_source="hand-made",
    )
    w = (
        weight
        if weight is not None
        else torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0], [-1.0, -1.0, 0.0]])
    )
    encoder = HashedWordEncoder()
    return SubsetContext(
        benchmark=bench,
        subset=subset,
        _store=None,  # type: ignore[arg-type]
        weight=w,
        bias=torch.tensor([0.5, 0.1, 0.2, 0.3]),
        text_encoder_factory=lambda spec: encoder,
    )
