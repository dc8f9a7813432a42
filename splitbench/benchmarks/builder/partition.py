"""A seeded, balanced A/B partition for a group scheme that has none.

Goal: subsets A and B with similar numbers of split targets, subcategories and videos, each
keeping at least ``min_other`` multi-member groups in the other subset (modifier retrieval
and alignment build their dictionaries from the groups the base model keeps fine).

Method: ``restarts`` random half/half assignments drawn from ``numpy.random.default_rng(seed)``,
each improved by swapping one group of A with one of B while that lowers the imbalance; the
best one wins. Imbalance = the sum over targets, subcategories and videos of
``|A - B| / (A + B)``. Same inputs and seed, same partition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from splitbench.errors import DataError


@dataclass(frozen=True)
class Balance:
    """The balance figures of a partition.

    Attributes:
        targets: Split targets per subset.
        subcategories: Fine labels of those targets per subset.
        videos: Train + val videos of those targets per subset.
        imbalance: Sum of ``|A - B| / (A + B)`` over the three (0 = perfectly balanced).
    """

    targets: tuple[int, int]
    subcategories: tuple[int, int]
    videos: tuple[int, int]
    imbalance: float

    def lines(self) -> list[str]:
        """Human-readable figures, one line each."""
        return [
            f"split targets   A {self.targets[0]:>7}   B {self.targets[1]:>7}",
            f"subcategories   A {self.subcategories[0]:>7}   B {self.subcategories[1]:>7}",
            f"videos          A {self.videos[0]:>7}   B {self.videos[1]:>7}",
            f"imbalance {self.imbalance:.4f} (sum of |A-B|/(A+B) over the three; 0 is perfect)",
        ]


def _figures(in_a: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    a = sizes[in_a].sum(axis=0)
    b = sizes[~in_a].sum(axis=0)
    tot = np.maximum(a + b, 1)
    return a, b, float((np.abs(a - b) / tot).sum())


def _descend(in_a: np.ndarray, sizes: np.ndarray) -> float:
    """Swap the A/B pair that lowers the imbalance most, until none does (in place)."""
    tot = np.maximum(sizes.sum(axis=0), 1)
    while True:
        a, b, score = _figures(in_a, sizes)
        ia, ib = np.flatnonzero(in_a), np.flatnonzero(~in_a)
        # Moving group i to B and group j to A changes A - B by 2 * (size_j - size_i).
        diff = (a - b)[None, None, :] + 2 * (sizes[ib][None, :, :] - sizes[ia][:, None, :])
        scores = (np.abs(diff) / tot).sum(axis=2)
        i, j = np.unravel_index(int(np.argmin(scores)), scores.shape)
        if scores[i, j] >= score - 1e-12:
            return score
        in_a[ia[i]], in_a[ib[j]] = False, True


def balance_of(
    partition: Mapping[str, Sequence[str]],
    scheme: Mapping[str, Sequence[str]],
    videos_per_label: Mapping[str, int],
) -> Balance:
    """Balance figures of an existing partition (for example the official one)."""
    figs = []
    for s in ("A", "B"):
        groups = partition[s]
        figs.append(
            (
                len(groups),
                sum(len(scheme[g]) for g in groups),
                sum(videos_per_label.get(m, 0) for g in groups for m in scheme[g]),
            )
        )
    (ta, sa, va), (tb, sb, vb) = figs
    imb = sum(abs(x - y) / max(x + y, 1) for x, y in ((ta, tb), (sa, sb), (va, vb)))
    return Balance((ta, tb), (sa, sb), (va, vb), imb)


def check_partitionable(
    scheme: Mapping[str, Sequence[str]], min_other: int = 2, source: str = "group scheme"
) -> list[str]:
    """The multi-member groups, if there are enough to partition.

    Raises:
        DataError: when there are too few to keep ``min_other`` in each subset.
    """
    groups = [g for g, members in scheme.items() if len(members) > 1]
    if len(groups) < 2 * max(min_other, 1):
        raise DataError(
            f"{source}: {len(groups)} multi-member groups; a partition needs at least "
            f"{2 * max(min_other, 1)} (each subset keeps {max(min_other, 1)} in the other)"
        )
    return groups


def propose_partition(
    scheme: Mapping[str, Sequence[str]],
    videos_per_label: Mapping[str, int],
    *,
    seed: int = 0,
    restarts: int = 200,
    min_other: int = 2,
    source: str = "group scheme",
) -> dict[str, tuple[str, ...]]:
    """A balanced partition of the multi-member groups into A and B (scheme order kept).

    Raises:
        DataError: when there are too few multi-member groups to keep ``min_other`` in each
            subset.
    """
    groups = check_partitionable(scheme, min_other, source)
    sizes = np.array(
        [[1, len(scheme[g]), sum(videos_per_label.get(m, 0) for m in scheme[g])] for g in groups],
        dtype=np.int64,
    )
    rng = np.random.default_rng(seed)
    n = len(groups)
    best: tuple[float, np.ndarray] | None = None
    for _ in range(restarts):
        in_a = np.zeros(n, dtype=bool)
        in_a[rng.permutation(n)[: (n + 1) // 2]] = True
        score = _descend(in_a, sizes)
        if best is None or score < best[0] - 1e-12:
            best = (score, in_a.copy())
    assert best is not None
    chosen = best[1]
    return {
        "A": tuple(g for g, a in zip(groups, chosen, strict=True) if a),
        "B": tuple(g for g, a in zip(groups, chosen, strict=True) if not a),
    }
