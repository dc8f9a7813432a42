r"""Scoring, exactly as the paper's code does it (paper-brief §3 and §11).

Per view: softmax over the |Y| old logits and the k new ones; the coarse class's probability
is set to 0 and the rest renormalised (the same as a softmax over Y' = Y \ {c} ∪ S). The
probabilities are averaged over a video's views, then the argmax is taken (ties go to the
lowest index, old classes before new ones).

* Generality = accuracy on the equivalent set against the fine labels, over all of Y'.
* Locality = accuracy of the edited model on the unrelated set divided by the accuracy of
  the original model there, both against ground truth and both with c masked.

:class:`SubsetScorer` computes the base logits once per subset and keeps, per view,
``A = exp(l - max l)``; the masked normaliser is summed once per coarse class, so
one unit costs a (N·V·D × k) matmul plus a weighted sum over views. Views where the coarse
class dominates so much that float32 underflows are recomputed exactly.
:func:`reference_probabilities` is the literal implementation used to test it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from splitbench.core.counts import Counts
from splitbench.core.shortcut import (
    TINY,
    OldLead,
    old_lead,
    shortcut_predictions,
    view_sum,
    view_weights,
)

PROTOCOL_ID = "splitbench.protocol/1"
_MULTI_CACHE = 4  # masked sums kept for multi-class masks (sessions make many)

Masked = int | Sequence[int]
"""The class (one split) or classes (a session of several splits) masked at scoring."""


def masked_classes(coarse: Masked) -> tuple[int, ...]:
    """``coarse`` as a tuple of class indices."""
    return (int(coarse),) if isinstance(coarse, (int, np.integer)) else tuple(map(int, coarse))


class SubsetScorer:
    """Vectorised scorer for all units of one subset.

    Base logits are computed once; per view it keeps ``A = exp(l - max l)`` laid out as
    ``(V, N, C)`` (so the weighted sum over views is V contiguous ``addcmul`` calls); the
    masked normaliser ``Σ_{y≠c} A`` is summed once per coarse class.

    Args:
        features: ``(N, V, D)`` float32 view features of the subset's val videos.
        weight: ``(C, D)`` base head weight.
        bias: ``(C,)`` base head bias.
        chunk: Videos per chunk when computing the base logits.
    """

    def __init__(
        self, features: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, chunk: int = 4096
    ) -> None:
        self.features = features
        self.num_classes = int(weight.shape[0])
        self._w, self._b = weight, bias
        self._chunk = chunk
        n, v, _ = features.shape
        self._a = torch.empty((v, n, self.num_classes), dtype=torch.float32)
        self._m = torch.empty((v, n), dtype=torch.float32)
        for i in range(0, n, chunk):
            logits = self._chunk_logits(i).transpose(0, 1)  # (V, n, C)
            m = logits.amax(-1)
            self._m[:, i : i + chunk] = m
            self._a[:, i : i + chunk] = torch.exp(logits - m.unsqueeze(-1))
        self._rest: dict[tuple[int, ...], torch.Tensor] = {}
        self._exact: dict[tuple[int, ...], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        self._lead: dict[tuple[int, ...], OldLead] = {}

    def _chunk_logits(self, start: int) -> torch.Tensor:
        """Base logits ``(n, V, C)`` of the videos of the chunk starting at ``start``.

        Always the same call with the same shapes, so every use (the cached ``A``, old-row
        copies among the new rows, the float64 recomputation) sees bit-identical logits.
        """
        x = self.features[start : start + self._chunk]
        n, v, d = x.shape
        return torch.addmm(self._b, x.reshape(-1, d), self._w.T).reshape(n, v, -1)

    def _old_logits_at(self, videos: torch.Tensor, views: torch.Tensor) -> torch.Tensor:
        """Base logits ``(len, C)`` of the given (video, view) pairs, chunk by chunk."""
        out = torch.empty((len(videos), self.num_classes), dtype=torch.float32)
        chunk_of = videos // self._chunk
        for ch in torch.unique(chunk_of).tolist():
            sel = (chunk_of == ch).nonzero(as_tuple=True)[0]
            logits = self._chunk_logits(ch * self._chunk)
            out[sel] = logits[videos[sel] - ch * self._chunk, views[sel]]
        return out

    def new_logits(
        self, weight: torch.Tensor, bias: torch.Tensor, coarse: int | None = None
    ) -> torch.Tensor:
        """Logits of new rows for every val view: ``(N, V, k)``.

        Identical rows get bit-identical logits, so their ties go to the lowest index as
        documented. (A BLAS kernel may round output columns differently by position, e.g.
        the fifth of five copies of the coarse row, which would break such ties by noise
        that differs between CPUs.) For the same reason a new row equal to an old head row
        takes that class's base logits, so the old class wins the tie. Pass ``coarse`` to
        skip that for copies of the coarse row, whose column is masked anyway.
        """
        n, v, d = self.features.shape
        rows = torch.cat([weight, bias.unsqueeze(1)], dim=1)
        unique, inverse = torch.unique(rows, dim=0, return_inverse=True)
        x = self.features.reshape(-1, d)
        if len(unique) == len(rows):
            logits = torch.addmm(bias, x, weight.T).reshape(n, v, -1)
        else:
            if len(unique) == 1:
                # one distinct row (e.g. k copies of the coarse row): BLAS takes a
                # matrix-vector path ~2x slower than a two-column product; compute two
                # and use the first (same predictions for the coarse copies of all 96 official
                # targets on their simulated stores, bench/paper_protocol_counts.py)
                unique = unique.repeat(2, 1)
            logits = torch.addmm(unique[:, d], x, unique[:, :d].T)[:, inverse].reshape(n, v, -1)
        old_rows = torch.cat([self._w, self._b.unsqueeze(1)], dim=1)
        same = (rows.unsqueeze(1) == old_rows.unsqueeze(0)).all(-1)  # (k, C)
        if coarse is not None:
            same[:, coarse] = False
        copies = same.any(1).nonzero(as_tuple=True)[0]
        if len(copies):
            cls = same[copies].int().argmax(1)
            for i in range(0, n, self._chunk):
                base = self._chunk_logits(i)
                logits[i : i + len(base), :, copies] = base[..., cls]
        return logits

    def probabilities(
        self,
        coarse: Masked,
        new_logits: torch.Tensor | None = None,
        rows: np.ndarray | None = None,
    ) -> torch.Tensor:
        """View-averaged masked probabilities over Y' for every val video: ``(N, C + k)``.

        Column ``coarse`` is 0 (every column of ``coarse`` when it names several classes, as
        in a multi-target session). ``new_logits`` is ``(N, V, k)``, or None for the original
        model. With ``rows``, only those val videos are scored (``new_logits`` then holds
        their rows only; a mask not cached for all rows is summed over these rows alone).
        Views whose masked normaliser underflows in float32 (the coarse class ahead of every
        other logit by more than ~70 nats) are recomputed exactly in float64.
        """
        masked = masked_classes(coarse)
        a, m = self._a, self._m
        views = a.shape[0]
        if rows is None:
            rest = self._masked_sum(masked)
        else:
            idx = torch.as_tensor(
                rows, dtype=torch.long
            )  # index_select: ~4x faster than a[:, rows]
            a, m = a.index_select(1, idx), m.index_select(1, idx)
            cached = self._rest.get(masked)
            rest = _rest(a, masked) if cached is None else cached.index_select(1, idx)
        w, b, nl, bad = view_weights(rest, m, new_logits)
        p_old = view_sum(a, w)
        p = p_old if b is None else torch.cat([p_old, view_sum(b, w)], dim=1)
        if bad.any():
            self._add_exact(p, bad, masked, nl, views, rows)
        p[:, list(masked)] = 0.0
        return p

    def _masked_sum(self, masked: tuple[int, ...]) -> torch.Tensor:
        """``Σ_{y∉masked} A`` per view as float64, cached per mask.

        Summed directly with the masked columns zeroed (all terms are positive, so float32
        keeps its relative precision); ``Σ A − A_c`` would cancel when c dominates. Masks of
        several classes (sessions) are kept for the last few only.
        """
        if masked not in self._rest:
            if len(masked) > 1:
                _evict(self._rest)
            self._rest[masked] = _rest(self._a, masked)
        return self._rest[masked]

    def _add_exact(
        self,
        p: torch.Tensor,
        bad: torch.Tensor,
        masked: tuple[int, ...],
        nl: torch.Tensor | None,
        views: int,
        rows: np.ndarray | None = None,
    ) -> None:
        vi, ni = bad.nonzero(as_tuple=True)
        # Old logits exactly as the fast path and the new rows have them (float32), then the
        # softmax in float64: equal logits stay equal, so ties still go to the lowest index.
        if rows is None:
            logits = self._exact_old_logits(masked, vi, ni).double()
        else:
            src = torch.as_tensor(rows, dtype=torch.long)[ni]
            logits = self._old_logits_at(src, vi).double()
        if nl is not None:
            logits = torch.cat([logits, nl[vi, ni].double()], dim=1)
        logits[:, list(masked)] = -torch.inf
        probs = torch.softmax(logits, dim=1) / views
        p.index_add_(0, ni, probs.float())

    def _exact_old_logits(
        self, masked: tuple[int, ...], vi: torch.Tensor, ni: torch.Tensor
    ) -> torch.Tensor:
        """Base logits of the views recomputed exactly; the underflowed ones cached per mask."""
        if masked not in self._exact:
            if len(masked) > 1:
                _evict(self._exact)
            uvi, uni = (self._masked_sum(masked) < TINY).nonzero(as_tuple=True)
            self._exact[masked] = (uvi, uni, self._old_logits_at(uni, uvi))
        uvi, uni, cached = self._exact[masked]
        if torch.equal(vi, uvi) and torch.equal(ni, uni):
            return cached
        return self._old_logits_at(ni, vi)

    def unmasked_probabilities(self) -> torch.Tensor:
        """View-averaged probabilities of the unedited model over Y, nothing masked: ``(N, C)``.

        The base classifier as it was trained (extraction's sanity figures use it).
        """
        a = self._a
        p = a[0] / a[0].sum(-1, keepdim=True)
        for v in range(1, a.shape[0]):
            p.add_(a[v] / a[v].sum(-1, keepdim=True))
        return p.div_(a.shape[0])

    def original_predictions(self, coarse: Masked) -> torch.Tensor:
        """Predictions of the unedited model with c masked (cached per mask)."""
        return self._leads(masked_classes(coarse)).index

    def predictions(self, coarse: Masked, new_logits: torch.Tensor) -> torch.Tensor:
        """Argmax predictions over Y' (old indices, then C + j for new row j).

        Bit for bit ``probabilities(coarse, new_logits).argmax(1)``, but the ``(N, C)`` sum
        over views is only formed for the videos where the edit can change which old class
        leads (:func:`~splitbench.core.shortcut.shortcut_predictions` says why that is exact).
        """
        if new_logits.shape[-1] == 0:
            return self.probabilities(coarse, new_logits).argmax(1)
        pred, unsure = self.shortcut(coarse, new_logits)
        if len(unsure):
            rows = unsure.numpy()
            probs = self.probabilities(coarse, new_logits[unsure], rows=rows)
            pred[unsure] = probs.argmax(1)
        return pred

    def shortcut(
        self, coarse: Masked, new_logits: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Shortcut predictions for ``k > 0`` new rows, and the videos it leaves undecided.

        Returns:
            ``(predictions, unsure)``: predictions valid except at the ``unsure`` val rows,
            which :meth:`predictions` scores with the full sum.
        """
        masked = masked_classes(coarse)
        lead = self._leads(masked)
        w, b, _, bad = view_weights(self._masked_sum(masked), self._m, new_logits)
        assert b is not None  # k > 0
        return shortcut_predictions(lead, w, view_sum(b, w), bad, self.num_classes)

    def prepare(self, coarse: Iterable[Masked]) -> None:
        """Build the per-mask caches (masked sums, unedited leads) for these masks now.

        Called before forking ``--jobs`` workers, so they share one copy instead of each
        building its own for every method.
        """
        for c in coarse:
            self._leads(masked_classes(c))

    def _leads(self, masked: tuple[int, ...]) -> OldLead:
        """The unedited model's leading old class per video under ``masked`` (cached)."""
        if masked not in self._lead:
            if len(masked) > 1:
                _evict(self._lead)
            self._lead[masked] = old_lead(self._a, self.probabilities(masked))
        return self._lead[masked]


def _evict(cache: dict[tuple[int, ...], Any]) -> None:
    """Drop the oldest multi-class entries so that at most ``_MULTI_CACHE - 1`` remain."""
    multi = [key for key in cache if len(key) > 1]
    for key in multi[: max(0, len(multi) - _MULTI_CACHE + 1)]:
        del cache[key]


def _rest(a: torch.Tensor, masked: tuple[int, ...]) -> torch.Tensor:
    """``Σ_{y∉masked} a[..., y]`` as float64 for ``a`` laid out ``(V, N, C)``."""
    mask = torch.ones(a.shape[-1], dtype=torch.float32)
    mask[list(masked)] = 0.0
    return (a @ mask).double()


def mask_coarse(probs: torch.Tensor, coarse: int) -> torch.Tensor:
    """A copy of method-supplied probabilities over Y' with the coarse column set to 0."""
    p = probs.clone()
    p[:, coarse] = 0.0
    return p


def predictions_from_probabilities(probs: torch.Tensor, coarse: int) -> torch.Tensor:
    """Argmax over Y' of method-supplied probabilities, with the coarse column zeroed."""
    return mask_coarse(probs, coarse).argmax(1)


def count(
    predictions: torch.Tensor,
    original: torch.Tensor,
    equivalent_rows: np.ndarray,
    equivalent_labels: np.ndarray,
    unrelated_rows: np.ndarray,
    unrelated_labels: np.ndarray,
) -> Counts:
    """Count correct predictions on the equivalent and unrelated sets.

    Args:
        predictions: Edited-model predictions per val video.
        original: Original-model predictions (c masked) per val video.
        equivalent_rows: Val rows of the equivalent set.
        equivalent_labels: Their fine indices.
        unrelated_rows: Val rows of the unrelated set.
        unrelated_labels: Their base labels.
    """
    pred = predictions.numpy()
    orig = original.numpy()
    pe = pred[equivalent_rows]
    pu, ou = pred[unrelated_rows], orig[unrelated_rows]
    return Counts(
        equivalent_correct=int((pe == equivalent_labels).sum()),
        equivalent_total=len(equivalent_rows),
        unrelated_correct_edited=int((pu == unrelated_labels).sum()),
        unrelated_correct_original=int((ou == unrelated_labels).sum()),
        unrelated_changed=int((pu != ou).sum()),
        unrelated_total=len(unrelated_rows),
    )


def reference_probabilities(view_logits: np.ndarray, coarse: int) -> np.ndarray:
    """Literal reference: ``view_logits`` (N, V, C') → masked, view-averaged probabilities.

    Used by the tests to check :class:`SubsetScorer`; written for clarity, not speed.
    """
    x = np.asarray(view_logits, dtype=np.float64)
    x = x - x.max(-1, keepdims=True)
    p = np.exp(x)
    p /= p.sum(-1, keepdims=True)
    p[..., coarse] = 0.0
    p /= p.sum(-1, keepdims=True)
    return np.asarray(p.mean(1))
