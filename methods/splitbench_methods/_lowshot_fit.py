"""The training of low-shot finetuning: k new head rows beside the frozen head.

:func:`fit_new_rows` is the loop (cross-entropy over all logits, feature dropout, AdamW with
the cosine schedule, EMA early stopping); :class:`SupportData` holds its samples, built by
:func:`views_as_samples` and, for ``shots=all``, :func:`holdout_split`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from splitbench_methods._training import (
    EmaEarlyStopping,
    ManualAdamW,
    StateKeeper,
    cosine_lr,
    scalar,
)

if TYPE_CHECKING:  # the config is declared with the method, which imports this module
    from splitbench_methods.lowshot_finetune import FinetuneOptions


@dataclass
class SupportData:
    """Training (and, for ``shots=all``, validation) samples of one unit.

    Attributes:
        x: ``(n, D)`` features, one row per stored view.
        y: ``(n,)`` targets in ``[0, |Y| + k)`` (fine indices).
        x_val: Held-out features (None for k-shot).
        y_val: Held-out targets.
        views: Views per video in the store.
    """

    x: torch.Tensor
    y: torch.Tensor
    x_val: torch.Tensor | None
    y_val: torch.Tensor | None
    views: int


def holdout_split(
    labels: np.ndarray, ratio: float, generator: torch.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split of positions ``0..n-1``: ``ratio`` of each label held out.

    A label with fewer than two videos keeps all of them for training.

    Returns:
        ``(train positions, held-out positions)``, each sorted.
    """
    train: list[int] = []
    held: list[int] = []
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        perm = idx[torch.randperm(len(idx), generator=generator).numpy()]
        n_held = min(max(round(len(idx) * ratio), 1), len(idx) - 1)
        held.extend(perm[:n_held].tolist())
        train.extend(perm[n_held:].tolist())
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(held, dtype=np.int64))


def views_as_samples(feats: torch.Tensor, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n, views, D)`` features as ``(n · views, D)`` samples, each video's label repeated."""
    n, v, d = feats.shape
    y = torch.from_numpy(np.repeat(np.asarray(labels, dtype=np.int64), v))
    return feats.reshape(n * v, d).contiguous(), y


def fit_new_rows(
    data: SupportData,
    w_old: torch.Tensor,
    b_old: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    cfg: FinetuneOptions,
    gen: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Train k new rows ``(weight, bias)`` beside the frozen head ``(w_old, b_old)``.

    Cross-entropy over all C + k logits on dropout-perturbed features; AdamW with the
    cosine schedule; EMA early stopping on the training loss (k-shot, last weights kept) or
    on the held-out loss (``data.x_val`` given, best weights restored). The gradient of the
    softmax cross-entropy with respect to the new rows is written out by hand
    (``(softmax − onehot)ᵀ x / B``) and :class:`ManualAdamW` applies torch's AdamW update,
    which keeps a 1-shot step at a few small kernels.

    Returns:
        ``(weight (k, D), bias (k,), training record)``.
    """
    c = w_old.shape[0]
    k, d = weight.shape
    theta = torch.cat([weight.float(), bias.float()[:, None]], 1).contiguous()  # (k, D + 1)
    w_new, b_new = theta[:, :d], theta[:, d]
    opt = ManualAdamW(theta, cfg.weight_decay)
    g_w, g_b = opt.grad[:, :d], opt.grad[:, d]
    x, y = data.x, data.y
    n = len(y)
    onehot = torch.zeros(n, c + k)
    onehot[torch.arange(n), y] = 1.0
    keep = 1.0 - cfg.dropout
    keep_t, inv_keep = scalar(keep), scalar(1.0 / keep)  # see scalar(): same bits, no casts
    inv_len: dict[int, torch.Tensor] = {}
    use_val = data.x_val is not None and data.y_val is not None
    stopper = EmaEarlyStopping(cfg.ema_beta, cfg.patience, cfg.min_delta, "min")
    best = StateKeeper([theta]) if use_val else None
    stop = "max_epochs"
    last_loss = float("nan")
    single_batch = n <= cfg.batch_size
    # the frozen rows' held-out logits are the same every epoch
    val_old = torch.addmm(b_old, data.x_val, w_old.T) if data.x_val is not None else None
    # taken once: the same views every step (w_new follows theta's in-place updates), and
    # a 1-shot step is so small that each view or slice op is a few percent of it
    w_old_t, w_new_t, onehot_new = w_old.T, w_new.T, onehot[:, c:]
    for epoch in range(cfg.max_epochs):
        lr = cosine_lr(cfg.lr, cfg.min_lr, epoch, cfg.max_epochs)
        if single_batch:
            xs, ys = x, onehot
        else:  # one gather per epoch; batches are slices
            perm = torch.randperm(n, generator=gen)
            xs, ys = x[perm], onehot[perm]
        total = torch.zeros(())
        for i in range(0, n, cfg.batch_size):
            if single_batch:
                xb, yb, yb_new = x, onehot, onehot_new
            else:
                xb, yb = xs[i : i + cfg.batch_size], ys[i : i + cfg.batch_size]
                yb_new = yb[:, c:]
            if cfg.dropout > 0:
                mask = torch.rand(xb.shape, generator=gen).lt_(keep_t)
                xb = xb * mask
                xb.mul_(inv_keep)
            logits = torch.cat(
                [torch.addmm(b_old, xb, w_old_t), torch.addmm(b_new, xb, w_new_t)], 1
            )
            logp = torch.log_softmax(logits, 1)
            total -= (logp * yb).sum()
            if len(xb) not in inv_len:
                inv_len[len(xb)] = scalar(1.0 / len(xb))
            grad = logp[:, c:].exp_().sub_(yb_new).mul_(inv_len[len(xb)])  # (B, k)
            torch.mm(grad.t(), xb, out=g_w)
            torch.sum(grad, 0, out=g_b)
            opt.step(lr)
        last_loss = float(total) / n
        if use_val:
            assert data.x_val is not None and data.y_val is not None and val_old is not None
            val_logits = torch.cat([val_old, torch.addmm(b_new, data.x_val, w_new.T)], 1)
            monitored = float(nn.functional.cross_entropy(val_logits, data.y_val))
        else:
            monitored = last_loss
        improved = stopper.update(monitored)
        if best is not None and improved:
            best.save()
        if stopper.should_stop:
            stop = "early_stopping"
            break
    if best is not None:
        best.restore()
    record: dict[str, Any] = {
        "samples": n,
        "views_per_video": data.views,
        "epochs": stopper.epoch,
        "stop": stop,
        "monitor": "ema_val_loss" if use_val else "ema_train_loss",
        "kept": "best" if use_val else "last",
        "best_epoch": stopper.best_epoch,
        "final_train_loss": round(last_loss, 6),
    }
    if use_val and data.y_val is not None:
        record["val_samples"] = len(data.y_val)
        record["best_ema_val_loss"] = round(stopper.best, 6)
    return w_new.clone(), b_new.clone(), record
