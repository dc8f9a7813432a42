"""What the byte-for-byte leaderboard relies on: exact ties between identical new rows."""

from __future__ import annotations

import numpy as np
import torch

from splitbench.protocol.scoring import SubsetScorer


def test_identical_new_rows_tie_to_the_lowest_index(synthetic, synthetic_stores):
    """k copies of the coarse row: every video won by them goes to the first subcategory.

    Without deduplication a BLAS kernel rounds the fifth copy's logits differently, and
    ties were broken by that noise (and differently on another CPU).
    """
    subset = synthetic.subset("A")
    target = max(subset.targets, key=lambda t: t.k)
    assert target.k >= 5
    store = synthetic_stores["A"]
    w, b = (torch.from_numpy(a) for a in store.head())
    split = store.split("val")
    feats = np.asarray(split.features[split.rows_of(subset.val.videos.tolist())], np.float32)
    scorer = SubsetScorer(torch.from_numpy(feats), w, b)
    c, k = target.coarse_index, target.k
    logits = scorer.new_logits(w[c].repeat(k, 1), b[c].repeat(k))
    assert all(torch.equal(logits[..., 0], logits[..., j]) for j in range(k))
    pred = scorer.predictions(c, logits)
    new = pred[pred >= subset.num_labels] - subset.num_labels
    assert len(new) > 0 and bool((new == 0).all())
    # distinct rows are untouched by the deduplication
    rows = w[c].repeat(k, 1) + 0.01 * torch.arange(k, dtype=torch.float32).unsqueeze(1)
    direct = torch.addmm(b[c].repeat(k), torch.from_numpy(feats).reshape(-1, w.shape[1]), rows.T)
    assert torch.equal(scorer.new_logits(rows, b[c].repeat(k)), direct.reshape(len(feats), -1, k))
