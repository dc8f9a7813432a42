"""The autograd-free MLP step equals autograd + torch.optim.AdamW bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from methods_helpers import tiny_context
from splitbench_methods._mlp_fit import MLPRegressionStep, cosine_annealing_lrs
from splitbench_methods.modifier_alignment import (
    ModifierAlignmentConfig,
    TrainingPairs,
    build_training_pairs,
    fit_alignment,
    make_mlp,
)


@pytest.mark.parametrize(
    ("lr", "eta_min", "t_max", "epochs"), [(1e-3, 0.0, 100, 100), (0.3, 0.01, 7, 30)]
)
def test_cosine_lrs_equal_the_scheduler(lr: float, eta_min: float, t_max: int, epochs: int) -> None:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)
    expected = []
    for _ in range(epochs):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert cosine_annealing_lrs(lr, eta_min, t_max, epochs) == expected  # exact floats


def _fit_both(
    cfg: ModifierAlignmentConfig, pairs: TrainingPairs, x: torch.Tensor, seed: int
) -> None:
    ctx = tiny_context()
    y = pairs.targets
    fast = fit_alignment(ctx, seed, cfg, pairs, x, y)
    lib = fit_alignment(ctx, seed, cfg, pairs, x, y, library=True)
    assert fast.summary == lib.summary
    for (name, a), (_, b) in zip(
        fast.mlp.state_dict().items(), lib.mlp.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


@pytest.mark.parametrize(
    "cfg",
    [
        ModifierAlignmentConfig(max_epochs=20),
        ModifierAlignmentConfig(hidden=(), max_epochs=15, batch_size=3),
        ModifierAlignmentConfig(hidden=(16, 8), max_epochs=40, patience=2, min_delta=0.5),
    ],
    ids=["default", "linear", "two-hidden-early-stop"],
)
def test_fast_fit_equals_library_fit_on_tiny_pairs(cfg: ModifierAlignmentConfig) -> None:
    ctx = tiny_context()
    pairs = build_training_pairs(ctx)
    x = torch.from_numpy(np.asarray(ctx.text_encoder().encode(pairs.texts), dtype=np.float32))
    _fit_both(cfg, pairs, x, seed=3)


def test_fast_fit_equals_library_fit_at_the_protocol_size() -> None:
    """226 pairs of 384-d texts and head rows (SSv2-Split-A-like): same kernels' shapes."""
    g = torch.Generator().manual_seed(0)
    n = 226
    pairs = TrainingPairs(
        [f"t{i}" for i in range(n)], ["fine"] * n, torch.randn(n, 384, generator=g)
    )
    x = torch.randn(n, 384, generator=g)
    _fit_both(ModifierAlignmentConfig(max_epochs=4), pairs, x, seed=0)


def test_step_rejects_other_layers() -> None:
    mlp = make_mlp(4, (3,), 2, torch.Generator().manual_seed(0))
    mlp[1] = torch.nn.ReLU()
    with pytest.raises(TypeError, match="GELU"):
        MLPRegressionStep(mlp, 0.01)
