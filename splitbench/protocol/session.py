r"""Multi-target sessions: several splits in one model, at once or one after another.

Protocol ``splitbench.session/1`` (its results never share a cell with single-split ones).
A *session* on a subset splits m of its targets, in a seeded order t_1 … t_m:

* ``batch`` — every target's k rows come from the base model (as in a single split) and are
  appended together;
* ``sequential`` — target t_j is edited on the model left by t_1 … t_{j-1}: the method's
  context holds the base head plus the earlier targets' rows (frozen), and the target's fine
  indices are those of its columns in that head (|Y| + k_1 + … + k_{j-1} + position).

The edited label space is Y plus every session row; all m coarse classes are masked at
scoring (per view: softmax, masked classes set to 0, renormalised, view mean, argmax — the
single-split rule with a larger mask). With K = k_1 + … + k_m:

* **generality** of t_j: accuracy on its equivalent set against its fine columns, over the
  whole edited label space; the session's generality is the mean over its targets;
* **locality**: edited over original accuracy on the val videos outside all m equivalent
  sets (the intersection of the m unrelated sets), the same m classes masked for both;
* **retention** (sequential): per target, correct equivalent videos at the end of the
  session over those right after its own edit (the model with rows t_1 … t_j); the
  session's retention is the mean over targets where it is defined.

New-row logits are computed once for all K rows; the model after edit j uses their first
k_1 + … + k_j columns, so "right after" and "at the end" are scored on the same numbers.
With m = 1 every count equals the single-split unit's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from splitbench.benchmarks.model import SplitTarget, VideoSet
from splitbench.errors import ConfigError, MethodError
from splitbench.protocol.api import Method, NewRows, SessionSupport, Track
from splitbench.protocol.context import SplitTask, SubsetContext
from splitbench.protocol.scoring import SubsetScorer
from splitbench.results.session_schema import SessionLocalityCounts, SessionTargetCounts

SESSION_PROTOCOL_ID = "splitbench.session/1"
TRACKS: tuple[Track, ...] = ("batch", "sequential")
__all__ = ["SESSION_PROTOCOL_ID", "TRACKS", "SessionSupport", "Track"]


def parse_sizes(spec: str, n_targets: int) -> list[int]:
    """Session sizes from ``1,3,9,all`` (``all`` = every target), sorted and unique.

    Raises:
        ConfigError: for an empty item, a non-integer, a size < 1, or more than ``n_targets``.
    """
    sizes: set[int] = set()
    for item in spec.split(","):
        item = item.strip()
        if not item:
            raise ConfigError(f"--session-sizes {spec!r}: empty item; expected e.g. 1,3,all")
        if item == "all":
            sizes.add(n_targets)
            continue
        if not item.isascii() or not item.isdigit():
            raise ConfigError(f"--session-sizes: {item!r} is not a whole number or 'all'")
        size = int(item)
        if not 1 <= size <= n_targets:
            raise ConfigError(
                f"--session-sizes: {size} is outside 1..{n_targets} (the subset's targets)"
            )
        sizes.add(size)
    return sorted(sizes)


def session_order(targets: Sequence[SplitTarget], order: int) -> list[SplitTarget]:
    """The ``order``-th seeded permutation of ``targets`` (independent of method and seed).

    A session of size m splits the first m targets of its order, so sessions of one order
    are nested.
    """
    rng = np.random.default_rng([0x5E55, order])
    return [targets[i] for i in rng.permutation(len(targets))]


def shift_target(target: SplitTarget, offset: int) -> SplitTarget:
    """``target`` with its fine indices moved ``offset`` columns right (its session columns)."""
    if offset == 0:
        return target

    def moved(s: VideoSet) -> VideoSet:
        return dataclasses.replace(s, labels=s.labels + offset)

    return dataclasses.replace(
        target,
        fine_indices=tuple(i + offset for i in target.fine_indices),
        ft=moved(target.ft),
        equivalent=moved(target.equivalent),
    )


@dataclass(frozen=True)
class SessionCounts:
    """Raw counts of one session; every metric is recomputed from them.

    Attributes:
        targets: Per target, in session order.
        outside: On the val videos outside every equivalent set (locality).
    """

    targets: tuple[SessionTargetCounts, ...]
    outside: SessionLocalityCounts

    @property
    def generality(self) -> float | None:
        """Mean over targets of their generality (targets without videos left out)."""
        return _mean([t.generality for t in self.targets])

    @property
    def locality(self) -> float | None:
        """Edited over original accuracy outside all equivalent sets."""
        return self.outside.locality

    @property
    def retention(self) -> float | None:
        """Mean over targets of their retention (None for batch sessions)."""
        return _mean([t.retention for t in self.targets])


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


@dataclass(frozen=True)
class SessionEdit:
    """The rows of one session and what the method said about each target."""

    weight: torch.Tensor
    bias: torch.Tensor
    targets: tuple[SplitTarget, ...]
    info: tuple[dict[str, object], ...]


def edit_session(
    method: Method,
    ctx: SubsetContext,
    order: Sequence[SplitTarget],
    track: Track,
    seed: int,
    run: Callable[[Callable[[], object]], object] = lambda edit: edit(),
) -> SessionEdit:
    """Ask ``method`` for every target's rows, in order; return them stacked.

    The targets are returned shifted to their session columns. ``prepare`` must have run
    on ``ctx`` for ``seed``. ``run`` makes each edit call (the runner passes its plugin
    containment, :func:`splitbench.protocol.guard.contained`); the context a call sees is
    built inside it, after the guard has handed out a fresh head.

    Raises:
        MethodError: for rows of the wrong shape, non-finite rows, or output that is not
            :class:`NewRows`.
    """
    from splitbench.protocol.unit import seed_everything

    weights: list[torch.Tensor] = []
    biases: list[torch.Tensor] = []
    shifted: list[SplitTarget] = []
    infos: list[dict[str, object]] = []
    offset = 0
    for target in order:
        task = SplitTask(shift_target(target, offset), ctx.subset)

        def edit() -> object:
            view = ctx
            if track == "sequential" and weights:
                view = dataclasses.replace(
                    ctx,
                    weight=torch.cat([ctx.weight, *weights]),
                    bias=torch.cat([ctx.bias, *biases]),
                )
            return method.edit(task, view, seed)  # noqa: B023 - called at once

        seed_everything(seed)
        out = run(edit)
        if not isinstance(out, NewRows):
            raise MethodError(
                f"{method.name} returned {type(out).__name__} for target {target.key}; a "
                f"session appends head rows, so it needs NewRows"
            )
        w, b = out.weight.detach().float().cpu(), out.bias.detach().float().cpu()
        if tuple(w.shape) != (target.k, ctx.dim) or tuple(b.shape) != (target.k,):
            raise MethodError(
                f"{method.name} returned rows of shape {tuple(w.shape)} and bias "
                f"{tuple(b.shape)}; target {target.key} needs ({target.k}, {ctx.dim}) and "
                f"({target.k},)"
            )
        if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
            raise MethodError(f"{method.name} returned non-finite head rows for {target.key}")
        weights.append(w)
        biases.append(b)
        shifted.append(task.target)
        infos.append(dict(out.info))
        offset += target.k
    if not weights:
        raise ConfigError("a session needs at least one target")
    return SessionEdit(torch.cat(weights), torch.cat(biases), tuple(shifted), tuple(infos))


def score_session(
    scorer: SubsetScorer, edit: SessionEdit, track: Track
) -> tuple[SessionCounts, torch.Tensor, torch.Tensor]:
    """Score a session's rows; return its counts and the edited and original predictions.

    ``edit.targets`` are in session order with their session columns.
    """
    targets = edit.targets
    masked = tuple(t.coarse_index for t in targets)
    new_logits = scorer.new_logits(edit.weight, edit.bias)  # (N, V, K), once for all steps
    preds = scorer.predictions(masked, new_logits)
    original = scorer.original_predictions(masked)
    per_target = []
    columns = 0
    for j, t in enumerate(targets):
        columns += t.k
        rows, labels = t.equivalent.rows, t.equivalent.labels
        correct = int((preds.numpy()[rows] == labels).sum())
        after: int | None = None
        if track == "sequential":
            if j == len(targets) - 1:
                after = correct  # right after the last edit is the end of the session
            elif len(rows):
                step = scorer.probabilities(
                    masked[: j + 1], new_logits[rows, :, :columns], rows=rows
                ).argmax(1)
                after = int((step.numpy() == labels).sum())
            else:
                after = 0
        per_target.append(
            SessionTargetCounts(
                key=t.key,
                coarse_index=t.coarse_index,
                k=t.k,
                column=t.fine_indices[0],
                equivalent_correct=correct,
                equivalent_total=len(rows),
                correct_after_edit=after,
            )
        )
    rows, labels = _outside_all(targets)
    pu, ou = preds.numpy()[rows], original.numpy()[rows]
    outside = SessionLocalityCounts(
        unrelated_correct_edited=int((pu == labels).sum()),
        unrelated_correct_original=int((ou == labels).sum()),
        unrelated_changed=int((pu != ou).sum()),
        unrelated_total=len(rows),
    )
    counts = SessionCounts(targets=tuple(per_target), outside=outside)
    return counts, preds, original


def _outside_all(targets: Sequence[SplitTarget]) -> tuple[np.ndarray, np.ndarray]:
    """Val rows (and base labels) in every target's unrelated set, in the first's order."""
    first = targets[0].unrelated
    keep = np.ones(len(first.rows), dtype=bool)
    for t in targets[1:]:
        keep &= np.isin(first.rows, t.unrelated.rows)
    return first.rows[keep], first.labels[keep]
