"""The scorer's shortcut predictions are the full argmax, bit for bit, in every case."""

from __future__ import annotations

import pytest
import torch

from splitbench.core.shortcut import (
    old_lead,
    shortcut_predictions,
    sum_float64,
    view_sum,
    view_weights,
)
from splitbench.protocol.scoring import SubsetScorer

N, V, D, C = 400, 4, 24, 9


def _scorer(seed: int, scale: float = 1.0, tie: bool = False) -> SubsetScorer:
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(N, V, D, generator=g)
    weight = torch.randn(C, D, generator=g) * scale
    bias = torch.randn(C, generator=g)
    if tie:  # two old classes with identical rows: exact ties the shortcut cannot decide
        weight[5], bias[5] = weight[2], bias[2]
    return SubsetScorer(feats, weight, bias, chunk=128)


def _rows(scorer: SubsetScorer, kind: str, coarse: int, seed: int):
    g = torch.Generator().manual_seed(100 + seed)
    w, b = scorer._w, scorer._b
    if kind == "random":
        return torch.randn(3, D, generator=g), torch.randn(3, generator=g)
    if kind == "near_coarse":  # the usual edit: the coarse row nudged per subclass
        return w[coarse] + 0.3 * torch.randn(4, D, generator=g), b[coarse].repeat(4)
    if kind == "coarse_copies":
        return w[coarse].repeat(3, 1), b[coarse].repeat(3)
    if kind == "old_copy":  # a new row equal to another old row: the old class wins ties
        other = (coarse + 1) % C
        return torch.stack([w[other], w[coarse]]), torch.stack([b[other], b[coarse]])
    if kind == "duplicates":
        r = torch.randn(1, D, generator=g)
        return r.repeat(2, 1), torch.zeros(2)
    if kind == "dominant":  # new logits far ahead: views go to the exact float64 path
        return w[coarse].repeat(2, 1) * 40.0, torch.tensor([90.0, 95.0])
    raise AssertionError(kind)


KINDS = ["random", "near_coarse", "coarse_copies", "old_copy", "duplicates", "dominant"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("seed", "scale", "tie"), [(0, 1.0, False), (1, 30.0, False), (2, 1.0, True)]
)
def test_predictions_equal_full_argmax(kind, seed, scale, tie):
    scorer = _scorer(seed, scale, tie)
    for coarse in (0, 2, C - 1):
        w, b = _rows(scorer, kind, coarse, seed)
        nl = scorer.new_logits(w, b, coarse)
        want = scorer.probabilities(coarse, nl).argmax(1)
        assert torch.equal(scorer.predictions(coarse, nl), want), (kind, coarse)
        assert torch.equal(
            scorer.original_predictions(coarse), scorer.probabilities(coarse).argmax(1)
        )


def test_multi_class_masks_as_in_sessions():
    scorer = _scorer(3)
    masked = (1, 4)
    w, b = _rows(scorer, "near_coarse", 1, 3)
    nl = scorer.new_logits(w, b)
    assert torch.equal(scorer.predictions(masked, nl), scorer.probabilities(masked, nl).argmax(1))


def test_shortcut_decides_most_videos_and_defers_ties():
    scorer = _scorer(0)
    coarse = 2
    w, b = _rows(scorer, "near_coarse", coarse, 0)
    nl = scorer.new_logits(w, b, coarse)
    rest = scorer._masked_sum((coarse,))
    weights, new_b, _, bad = view_weights(rest, scorer._m, nl)
    lead = old_lead(scorer._a, scorer.probabilities(coarse))
    _, unsure = shortcut_predictions(lead, weights, view_sum(new_b, weights), bad, C)
    assert 0 < len(unsure) < N // 2  # the edit touches some videos, not most
    # with two identical old rows, a video led by one of them is decided only when a new
    # row beats both; the others are left to the full sum
    tied = _scorer(2, tie=True)
    rest = tied._masked_sum((0,))
    nl = tied.new_logits(*_rows(tied, "random", 0, 2))
    weights, new_b, _, bad = view_weights(rest, tied._m, nl)
    lead = old_lead(tied._a, tied.probabilities(0))
    pred, unsure = shortcut_predictions(lead, weights, view_sum(new_b, weights), bad, C)
    led_by_pair = torch.isin(lead.index, torch.tensor([2, 5])).nonzero(as_tuple=True)[0]
    decided = sorted(set(led_by_pair.tolist()) - set(unsure.tolist()))
    assert len(led_by_pair) > len(decided)
    assert (pred[decided] >= C).all()  # only where a new row beats both tied classes


@pytest.mark.parametrize("k", range(1, 9))
@pytest.mark.parametrize("shape", [(1, 1), (17, 6), (3000, 6)])
def test_sum_float64_is_torchs_sum(k, shape):
    g = torch.Generator().manual_seed(k)
    x = torch.exp(torch.randn(*shape, k, generator=g) * 8)  # magnitudes far apart: order shows
    assert torch.equal(sum_float64(x), x.sum(-1, dtype=torch.float64))
    xt = x.transpose(0, 1)
    assert torch.equal(sum_float64(xt), xt.sum(-1, dtype=torch.float64))
