"""Scoring: data-driven edge cases (paper-brief §3/§11) and equivalence with the reference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from splitbench.protocol.scoring import (
    Counts,
    SubsetScorer,
    count,
    predictions_from_probabilities,
    reference_probabilities,
)

CASES = json.loads((Path(__file__).parent / "data" / "scoring_cases.json").read_text())["cases"]


def _scorer_for(logits: np.ndarray, c: int) -> tuple[SubsetScorer, torch.Tensor, torch.Tensor]:
    """Features = the logits themselves; old head and new rows are identity rows."""
    feats = torch.tensor(logits, dtype=torch.float32)
    d = feats.shape[-1]
    eye = torch.eye(d)
    scorer = SubsetScorer(feats, eye[:c], torch.zeros(c))
    return scorer, eye[c:], torch.zeros(d - c)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_scoring_cases(case):
    logits = np.array(case["logits"], dtype=np.float64)
    scorer, new_w, new_b = _scorer_for(logits, case["C"])
    coarse = case["coarse"]
    pred = scorer.predictions(coarse, scorer.new_logits(new_w, new_b))
    orig = scorer.original_predictions(coarse)
    assert pred.tolist() == case["expected_predictions"]
    assert orig.tolist() == case["expected_original"]
    eq, un = case["equivalent"], case["unrelated"]
    counts = count(
        pred,
        orig,
        np.array(eq["rows"], dtype=np.int64),
        np.array(eq["labels"]),
        np.array(un["rows"], dtype=np.int64),
        np.array(un["labels"]),
    )
    assert [
        counts.equivalent_correct,
        counts.equivalent_total,
        counts.unrelated_correct_edited,
        counts.unrelated_correct_original,
        counts.unrelated_changed,
        counts.unrelated_total,
    ] == case["expected_counts"]
    for metric, want in case["expected_metrics"].items():
        got = getattr(counts, metric)
        assert (got is None) if want is None else got == pytest.approx(want)
    # the literal reference agrees
    ref = reference_probabilities(logits, coarse).argmax(1)
    assert ref.tolist() == case["expected_predictions"]


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_matches_reference(seed):
    rng = np.random.default_rng(seed)
    n, v, c, k = 50, 6, 11, 1 + seed % 4
    coarse = int(rng.integers(c))
    scale = [1.0, 5.0, 30.0][seed % 3]  # include very peaked softmaxes
    logits = rng.normal(0, scale, size=(n, v, c + k))
    logits[: n // 4, :, coarse] += 4 * scale  # views the coarse class dominates
    scorer, new_w, new_b = _scorer_for(logits, c)
    probs = scorer.probabilities(coarse, scorer.new_logits(new_w, new_b)).double().numpy()
    ref = reference_probabilities(logits, coarse)
    np.testing.assert_allclose(probs, ref, atol=2e-6)
    assert probs[:, coarse].max() == 0.0
    orig = scorer.probabilities(coarse).double().numpy()
    np.testing.assert_allclose(orig, reference_probabilities(logits[..., :c], coarse), atol=2e-6)


def test_probabilities_from_methods_are_masked():
    probs = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]])
    assert predictions_from_probabilities(probs, coarse=0).tolist() == [1, 1]
    assert probs[0, 0] == 0.6  # the caller's tensor is not modified


def test_counts_mean_is_arithmetic():
    c = Counts(
        equivalent_correct=3,
        equivalent_total=4,
        unrelated_correct_edited=9,
        unrelated_correct_original=10,
        unrelated_changed=1,
        unrelated_total=12,
    )
    assert c.generality == 0.75 and c.locality == 0.9
    assert c.mean == pytest.approx((0.75 + 0.9) / 2)
