"""Seeded, recorded sampling of support shots from a target's ft set.

The sample depends only on (benchmark, subset, target, shots, seed, policy), never on the
method, so feature extraction can compute the union of the pools a protocol will use and
extract train views only for those videos, and every low-shot result records its shot ids.

The official code calls ``random.sample(indices, k)`` per class after seeding globally, so
its draws depend on call order; splitbench seeds a NumPy generator per (target, seed)
instead. When a subcategory has fewer ft videos than the shot count, a named policy decides:

* ``available`` (default): take every video it has (possibly 0) and record the shortfall;
* ``whole-ft`` (parity with the released code): use the target's whole ft set;
* ``strict``: raise an error naming the subcategory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from splitbench.benchmarks.model import SplitTarget, Subset
from splitbench.core.hashing import seed_from_text
from splitbench.errors import ConfigError

ShotPolicy = Literal["available", "whole-ft", "strict"]
SHOT_POLICIES: tuple[str, ...] = ("available", "whole-ft", "strict")


@dataclass(frozen=True)
class ShotSample:
    """The support set drawn for one (target, seed).

    Attributes:
        videos: Train video ids, grouped by subcategory in fine-index order.
        labels: Fine index per video.
        shots: Requested shots per subcategory (``None`` = all).
        policy: The shortfall policy in force.
        policy_applied: Whether the shortfall changed the sample (e.g. fell back to whole ft).
        shortfall: Fine index → videos available, for subcategories below the shot count.
    """

    videos: tuple[str, ...]
    labels: tuple[int, ...]
    shots: int | None
    policy: str
    policy_applied: bool = False
    shortfall: dict[int, int] = field(default_factory=dict)

    def record(self) -> dict[str, object]:
        """JSON-ready description stored in unit results."""
        return {
            "shots": "all" if self.shots is None else self.shots,
            "policy": self.policy,
            "policy_applied": self.policy_applied,
            "shortfall": {str(k): v for k, v in self.shortfall.items()},
            "videos": list(self.videos),
            "labels": list(self.labels),
        }


def parse_shots(value: int | str) -> int | None:
    """``"all"`` → None; positive integers pass; anything else is an error."""
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return None
        if not value.strip().isdigit():
            raise ConfigError(f"shots {value!r}: expected a positive integer or 'all'")
        value = int(value)
    if value < 1:
        raise ConfigError(f"shots {value!r}: expected a positive integer or 'all'")
    return value


def _rng(subset: Subset, target: SplitTarget, shots: int | None, seed: int) -> np.random.Generator:
    key = f"{subset.benchmark}|{subset.name}|{target.coarse_index}|{shots}|{seed}"
    return np.random.default_rng(np.random.SeedSequence([seed_from_text(key)]))


def sample_shots(
    subset: Subset,
    target: SplitTarget,
    shots: int | str | None,
    seed: int,
    policy: ShotPolicy = "available",
) -> ShotSample:
    """Draw ``shots`` ft videos per subcategory for ``(target, seed)``.

    Args:
        subset: The target's subset (for the train video ids).
        target: The split target.
        shots: Videos per subcategory, or ``None``/``"all"`` for the whole ft set.
        seed: The unit's seed.
        policy: What to do when a subcategory has fewer videos than ``shots``.

    Raises:
        ConfigError: under ``strict`` for a short subcategory, naming it; or for an unknown
            policy.
    """
    if policy not in SHOT_POLICIES:
        raise ConfigError(f"shot policy {policy!r}: expected one of {', '.join(SHOT_POLICIES)}")
    n_shots = None if shots is None else parse_shots(shots)
    ft_videos = subset.train.videos[target.ft.rows]
    ft_labels = target.ft.labels
    base = target.fine_indices[0]
    if n_shots is None:
        order = np.argsort(ft_labels, kind="stable")
        return ShotSample(
            tuple(str(v) for v in ft_videos[order]),
            tuple(int(x) for x in ft_labels[order]),
            None,
            policy,
        )
    rng = _rng(subset, target, n_shots, seed)
    shortfall: dict[int, int] = {}
    videos: list[str] = []
    labels: list[int] = []
    for j in range(target.k):
        idx = np.flatnonzero(ft_labels == base + j)
        if len(idx) < n_shots:
            shortfall[base + j] = len(idx)
            if policy == "strict":
                raise ConfigError(
                    f"{subset.benchmark}/{subset.name} target {target.coarse_index}: "
                    f"subcategory {base + j} {target.fine_labels[j]!r} has {len(idx)} ft "
                    f"videos, fewer than shots={n_shots} (policy 'strict')"
                )
        take = np.sort(rng.choice(idx, size=min(n_shots, len(idx)), replace=False))
        videos.extend(str(v) for v in ft_videos[take])
        labels.extend([base + j] * len(take))
    if shortfall and policy == "whole-ft":
        whole = sample_shots(subset, target, None, seed, policy)
        return ShotSample(whole.videos, whole.labels, n_shots, policy, True, shortfall)
    return ShotSample(tuple(videos), tuple(labels), n_shots, policy, bool(shortfall), shortfall)


def shot_pool_union(
    subset: Subset,
    shots: Iterable[int | str | None],
    seeds: Sequence[int],
    policy: ShotPolicy = "available",
    targets: Sequence[SplitTarget] | None = None,
) -> set[str]:
    """Every train video that some (target, shots, seed) sample of the protocol would use."""
    out: set[str] = set()
    shot_list = list(shots)
    for t in targets if targets is not None else subset.targets:
        for s in shot_list:
            for seed in seeds:
                out.update(sample_shots(subset, t, s, seed, policy).videos)
    return out
