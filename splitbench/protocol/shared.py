"""Per-(subset, store) state built once per process and shared by every method.

Every method of a grid (or of ``leaderboard build``) scores on the same float32 val
features, the same base logits and the same masked original predictions. Building them
costs 0.5–1 s per SSv2-size subset, so they are built once per process and handed to
each runner that asks for the same (store, head, val order); the scorer's per-target caches
live with it, so every method of the process reuses them too.

Only one subset's state is kept: asking for another frees the previous one first, so a
run over subsets A and B never holds both (the whole-protocol memory peak stays that of
one subset). Callers that hold the returned tensors keep them alive themselves, and should
drop them before asking for the next subset. The store's memory-mapped val split is
closed once its float32 copy is made, and the previous store's splits (the train split
that low-shot methods read) when the next subset's state is built, so their pages do not
stay resident (SSv2-Split: 114 MB of val and 60 MB of train pages per subset).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from splitbench.core.hashing import sha256_hex, sha256_parts

if TYPE_CHECKING:
    import torch

    from splitbench.benchmarks.model import Subset
    from splitbench.features.store import FeatureStore
    from splitbench.protocol.scoring import SubsetScorer


@dataclass(eq=False)
class SharedSubsetState:
    """What every method of one (subset, store) shares.

    Attributes:
        key: Cache key (store key, head digest, val-order digest).
        store: The store it was built from.
        features: ``(N_val, V, D)`` float32 val features in the subset's val-table order.
        weight: Base head weight ``(C, D)`` (read-only).
        bias: Base head bias ``(C,)``.
        scorer: The subset's scorer (base logits; masked originals cached per coarse class).
    """

    key: tuple[str, str, str]
    store: FeatureStore
    features: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor
    scorer: SubsetScorer


_current: SharedSubsetState | None = None


def _digest(*arrays: np.ndarray) -> str:
    return sha256_parts((np.ascontiguousarray(a).tobytes() for a in arrays), 16)


def state_key(subset: Subset, store: FeatureStore) -> tuple[str, str, str]:
    """``(store key, head digest, val-order digest)``: equal keys mean identical state."""
    w, b = store.head()
    order = "\n".join(map(str, subset.val.videos.tolist())).encode()
    return (
        f"{store.meta.key}@{store.path}",
        _digest(np.asarray(w), np.asarray(b)),
        sha256_hex(order, 16),
    )


def shared_state(subset: Subset, store: FeatureStore) -> SharedSubsetState:
    """The shared state of ``subset`` on ``store``, built on first use in this process.

    A different (subset, store) than the one cached frees the cached state before the new
    one is built.
    """
    global _current
    import torch

    from splitbench.protocol.context import load_val_features
    from splitbench.protocol.scoring import SubsetScorer

    key = state_key(subset, store)
    if _current is not None and _current.key == key:
        return _current
    clear_shared_state()  # free the previous subset before building the next
    w, b = store.head()
    weight, bias = torch.from_numpy(w), torch.from_numpy(b)
    features = load_val_features(subset, store)
    store.close_split("val")  # its pages, once copied to float32 (a float32 store: views)
    scorer = SubsetScorer(features, weight, bias)
    _current = SharedSubsetState(key, store, features, weight, bias, scorer)
    return _current


def clear_shared_state() -> None:
    """Drop the cached state and close its store's splits (tests; between subsets).

    The freed memory is handed back to the system (:func:`release_freed_memory`).
    """
    global _current
    if _current is not None:
        for split in _current.store.meta.splits:
            _current.store.close_split(split)
        _current = None
        release_freed_memory()


def release_freed_memory() -> None:
    """Ask glibc to return freed heap memory to the system (``malloc_trim``; elsewhere a no-op).

    Scoring an SSv2-size subset frees 12–100 MB transients by the hundred; glibc keeps
    many of them in its heap (its mmap threshold rises after the first large frees), so a
    process's resident memory stays ~0.2–0.4 GB above what it uses once a subset is done.
    Trimming between subsets keeps the whole-protocol peak that of one subset.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl): nothing to ask
        return None
    return trim
