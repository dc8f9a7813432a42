"""The simulation's feature geometry and its base-head training (shared by every simulated store).

What a simulated feature is, so that it looks like what the MVD ViT-S head receives
(``fc_norm`` over the mean-pooled tokens, D = 384; paper-brief §4 and §13):

* **Class means (pre-norm).** A fine class of coarse group ``g`` with modifier ``m`` and label
  ``l`` has ``μ = verb(g) + sqrt(ρ)·mod(m) + sqrt(1 − ρ)·own(l)``; a singleton class has
  ``verb(g)``. Each part is a Gaussian vector drawn from a generator seeded by its *text*, so
  equal modifier phrases share a direction in every taxonomy (``ρ`` = compositionality).
* **Videos and views (pre-norm).** A val video is ``μ + ε_video``; its eval views follow the
  2 temporal segments × 3 crops protocol: ``z[s, c] = video + ε_segment[s] + ε_crop[s, c]``, so
  crops of one segment share more than views of different segments. A train view (an
  augmented clip: random resized crop, RandAugment, random erasing) is ``video + ε_augment``.
* **LayerNorm.** Every view is ``gain · LN(z)`` (zero bias): per-vector mean 0 and root mean
  square ``gain``, as the output of ``fc_norm`` with unit weight.

The base head is trained on such views the way the base models were fine-tuned (MVD's
``run_class_finetuning.py`` defaults, see
:class:`~splitbench.benchmarks.synthetic.HeadRecipe`): AdamW, cosine schedule with
warm-up, label smoothing, and mixup / cutmix. Only the head is trained here (the features are
given), so mixup and cutmix act on the pre-norm features: a mixed clip's pooled tokens are
approximately the mixture of the two clips' tokens, then LayerNorm is applied.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import numpy as np
import torch

from splitbench.benchmarks.synthetic import HeadRecipe, SyntheticConfig


@dataclass(frozen=True)
class ViewNoise:
    """Standard deviations (per dimension, pre-norm) of the parts of a view.

    Attributes:
        video: A video's deviation from its class mean.
        segment: A temporal segment's deviation from its video (eval views).
        crop: A crop's deviation from its segment (eval views).
        augment: An augmented train clip's deviation from its video.
    """

    video: float
    segment: float
    crop: float
    augment: float


def layer_norm(z: np.ndarray, gain: float, eps: float = 1e-6) -> np.ndarray:
    """``gain · (z − mean) / sqrt(var + eps)`` over the last axis (``fc_norm``, zero bias)."""
    z = z - z.mean(-1, keepdims=True)
    return np.asarray(z * (gain / np.sqrt((z * z).mean(-1, keepdims=True) + eps)))


def eval_views(
    centers: np.ndarray,
    segments: int,
    crops: int,
    noise: ViewNoise,
    gain: float,
    rng: np.random.Generator,
    chunk: int = 4096,
    on_chunk: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Eval views ``(n, segments · crops, D)`` float16, segment-major (view = s · crops + c).

    ``on_chunk`` is called with the number of videos after each chunk (progress display).
    """
    n, d = centers.shape
    out = np.empty((n, segments * crops, d), dtype=np.float16)
    for lo in range(0, n, chunk):
        c = centers[lo : lo + chunk].astype(np.float32)
        m = len(c)
        video = c + noise.video * rng.standard_normal((m, d), dtype=np.float32)
        seg = noise.segment * rng.standard_normal((m, segments, 1, d), dtype=np.float32)
        crop = noise.crop * rng.standard_normal((m, segments, crops, d), dtype=np.float32)
        z = video[:, None, None, :] + seg + crop
        out[lo : lo + chunk] = layer_norm(z.reshape(m, segments * crops, d), gain)
        if on_chunk is not None:
            on_chunk(m)
    return out


def train_views_prenorm(
    centers: np.ndarray, views: int, noise: ViewNoise, rng: np.random.Generator
) -> np.ndarray:
    """Pre-norm augmented train views ``(n, views, D)`` float32 (apply :func:`layer_norm`)."""
    n, d = centers.shape
    video = centers.astype(np.float32) + noise.video * rng.standard_normal((n, d), np.float32)
    aug = noise.augment * rng.standard_normal((n, views, d), dtype=np.float32)
    return np.asarray(video[:, None, :] + aug)


P = ParamSpec("P")
R = TypeVar("R")


def _single_threaded(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` with one torch thread: (384 × 384) steps, a second thread only adds sync cost."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return run


@_single_threaded
def train_base_head(
    z: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    recipe: HeadRecipe,
    gain: float,
    seed: int,
    on_step: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Train a linear head ``(W (C, D), b (C,))`` on pre-norm train views by ``recipe``.

    Each step draws a batch, mixes it with its reversed self (timm's ``Mixup`` in ``batch``
    mode: one λ per batch, mixup or cutmix), applies LayerNorm, and minimises the soft-target
    cross-entropy against the mixed, label-smoothed targets with AdamW. Seeded; float32,
    because float64 made a subset's head several times slower (measured on the 2-core
    machine), so a store regenerated on a CPU with other vector units may differ in the last
    bits of the head.

    Args:
        z: ``(n, D)`` pre-norm views.
        y: ``(n,)`` base-label indices.
        num_classes: C.
        recipe: Optimiser and regularisation settings.
        gain: LayerNorm gain of the features.
        seed: Seed of the batch order and the mixing draws.
        on_step: Called every 10 steps with the number of steps done (progress display).
    """
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    xt = torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    n, d = xt.shape
    w = torch.zeros((num_classes, d), requires_grad=True)
    b = torch.zeros(num_classes, requires_grad=True)
    opt = torch.optim.AdamW([w, b], lr=recipe.lr, weight_decay=recipe.weight_decay)
    warm = max(1, round(recipe.warmup_share * recipe.steps))
    eps = recipe.label_smoothing
    off, on = eps / num_classes, 1.0 - eps + eps / num_classes
    order = torch.randperm(n, generator=gen)
    pos = 0
    for step in range(recipe.steps):
        if pos + recipe.batch_size > n:  # next epoch (drop_last, as MVD's loader)
            order, pos = torch.randperm(n, generator=gen), 0
        idx = order[pos : pos + recipe.batch_size]
        pos += recipe.batch_size
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, recipe.steps, warm, recipe)
        cutmix = rng.random() < recipe.switch_prob
        alpha = recipe.cutmix_alpha if cutmix else recipe.mixup_alpha
        lam = float(rng.beta(alpha, alpha)) if alpha > 0 else 1.0
        xb = xt[idx]
        target = torch.full((len(idx), num_classes), off)
        target[torch.arange(len(idx)), yt[idx]] = on
        xb = lam * xb + (1.0 - lam) * xb.flip(0)
        target = lam * target + (1.0 - lam) * target.flip(0)
        xb = torch.nn.functional.layer_norm(xb, (d,), eps=1e-6) * gain
        loss = -(target * torch.log_softmax(xb @ w.T + b, dim=-1)).sum(-1).mean()
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        if on_step is not None and (step + 1) % 10 == 0:
            on_step(10)
    return w.detach().numpy().copy(), b.detach().numpy().copy()


def _lr_at(step: int, total: int, warm: int, recipe: HeadRecipe) -> float:
    if step < warm:
        return recipe.lr * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return recipe.min_lr + 0.5 * (recipe.lr - recipe.min_lr) * (1.0 + math.cos(math.pi * t))


def base_model_figures(
    feats: np.ndarray, labels: np.ndarray, weight: np.ndarray, bias: np.ndarray
) -> dict[str, float]:
    """Top-1 per view and per video (view-averaged softmax), and top-5 per video."""
    x = torch.from_numpy(np.asarray(feats, dtype=np.float32))
    logits = x @ torch.from_numpy(weight).T + torch.from_numpy(bias)
    lab = torch.tensor(np.asarray(labels), dtype=torch.int64)  # a copy: cached labels are read-only
    view_acc = (logits.argmax(-1) == lab[:, None]).double().mean()
    probs = torch.softmax(logits, -1).mean(1)
    video_acc = (probs.argmax(-1) == lab).double().mean()
    top5 = probs.topk(min(5, probs.shape[-1]), dim=-1).indices
    video_top5 = (top5 == lab[:, None]).any(-1).double().mean()
    return {
        "view_top1": round(float(view_acc), 6),
        "video_top1": round(float(video_acc), 6),
        "video_top5": round(float(video_top5), 6),
    }


def view_noise(config: SyntheticConfig) -> ViewNoise:
    """Absolute view-noise levels of ``config`` (the relative knobs times the video noise)."""
    v = config.resolved_video_noise()
    return ViewNoise(
        video=v,
        segment=config.segment_noise * v,
        crop=config.crop_noise * v,
        augment=config.augment_noise * v,
    )
