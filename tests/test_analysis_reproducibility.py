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
    logits = scorer.new_logits(w[c].repeat(k, 1), b[c].repeat(k), c)
    assert all(torch.equal(logits[..., 0], logits[..., j]) for j in range(k))
    pred = scorer.predictions(c, logits)
    new = pred[pred >= subset.num_labels] - subset.num_labels
    assert len(new) > 0 and bool((new == 0).all())
    # distinct rows are untouched by the deduplication
    rows = w[c].repeat(k, 1) + 0.01 * torch.arange(k, dtype=torch.float32).unsqueeze(1)
    direct = torch.addmm(b[c].repeat(k), torch.from_numpy(feats).reshape(-1, w.shape[1]), rows.T)
    got = scorer.new_logits(rows, b[c].repeat(k), c)
    assert torch.equal(got, direct.reshape(len(feats), -1, k))


def test_new_row_equal_to_an_old_class_loses_every_tie(synthetic, synthetic_stores):
    """Issue 10's case: row 0 leads the coarse views, rows 1.. copy old classes exactly.

    A copy can only ever tie its old class, so no video may be predicted as a copy. With
    the copies' logits from another matmul (or old and new sides scaled differently) some
    hundreds of videos of the default benchmark went to a copy.
    """
    won_by_copy = videos = 0
    for name, subset in synthetic.subsets.items():
        store = synthetic_stores[name]
        w, b = (torch.from_numpy(a) for a in store.head())
        split = store.split("val")
        feats = np.asarray(split.features[split.rows_of(subset.val.videos.tolist())], np.float32)
        scorer = SubsetScorer(torch.from_numpy(feats), w, b)
        n_old = w.shape[0]
        for t in subset.targets:
            c = t.coarse_index
            copied = [(c + j) % n_old for j in range(1, t.k)]
            rows = torch.cat([1.5 * w[c : c + 1], w[copied]])
            bias = torch.cat([1.5 * b[c : c + 1], b[copied]])
            pred = scorer.predictions(c, scorer.new_logits(rows, bias, c))
            videos += len(pred)
            won_by_copy += int((pred > n_old).sum())
    assert videos > 10_000
    assert won_by_copy == 0
