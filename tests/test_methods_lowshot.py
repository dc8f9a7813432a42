"""Low-shot finetuning: the shot sampler on a hand-made head, initialisations, the training
step against torch's AdamW, determinism and the shortfall policies."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from methods_helpers import HashedWordEncoder, tiny_context, tiny_subset
from splitbench_methods._training import ManualAdamW, cosine_lr, scalar
from splitbench_methods.lowshot_finetune import (
    LowShotCoarseConfig,
    LowShotFinetune,
    LowShotFinetuneCoarse,
    LowShotFinetuneConfig,
    LowShotFinetuneRandom,
    LowShotRandomConfig,
    SupportData,
    fit_new_rows,
    holdout_split,
)

from splitbench.errors import ConfigError
from splitbench.protocol import build_config
from splitbench.protocol.context import SplitTask, SubsetContext
from splitbench.protocol.shots import sample_shots

# -- the shot sampler on the hand-made subset (ft counts per subcategory: 3 and 1) ----------


def test_sampler_available_policy_records_shortfall() -> None:
    sub = tiny_subset()
    t = sub.targets[0]
    s = sample_shots(sub, t, 2, seed=0)
    assert s.labels.count(4) == 2 and s.labels.count(5) == 1
    assert s.shortfall == {5: 1} and s.policy_applied
    assert set(s.videos) <= {"t0", "t1", "t2", "t3"}
    assert s.record()["videos"] == list(s.videos)


def test_sampler_whole_ft_policy_is_the_released_fallback() -> None:
    sub = tiny_subset()
    s = sample_shots(sub, sub.targets[0], 2, seed=0, policy="whole-ft")
    assert sorted(s.videos) == ["t0", "t1", "t2", "t3"] and s.policy_applied


def test_sampler_strict_policy_names_the_subcategory() -> None:
    sub = tiny_subset()
    with pytest.raises(ConfigError, match=r"subcategory 5 'Push right' has 1 ft videos"):
        sample_shots(sub, sub.targets[0], 2, seed=0, policy="strict")


def test_sampler_is_seeded_per_target_and_seed() -> None:
    sub = tiny_subset()
    t = sub.targets[0]
    draws = {sample_shots(sub, t, 1, seed=s).videos for s in range(12)}
    assert sample_shots(sub, t, 1, seed=3) == sample_shots(sub, t, 1, seed=3)
    assert len(draws) > 1  # the shot of subcategory 4 varies with the seed
    assert all(v[1] == "t3" for v in draws)  # subcategory 5 has a single video


# -- initialisations -----------------------------------------------------------------------


def _task(ctx: SubsetContext) -> SplitTask:
    return SplitTask(ctx.subset.targets[0], ctx.subset)


def test_random_and_coarse_inits() -> None:
    ctx = tiny_context()
    gen = torch.Generator().manual_seed(0)
    w, b, _ = LowShotFinetuneRandom().initial_rows(_task(ctx), ctx, 0, gen)
    assert w.shape == (2, 3) and torch.equal(b, torch.zeros(2))
    assert 0.0 < float(w.std()) < 0.1
    w, b, _ = LowShotFinetuneCoarse().initial_rows(_task(ctx), ctx, 0, gen)
    torch.testing.assert_close(w, ctx.weight[0].repeat(2, 1))
    torch.testing.assert_close(b, torch.full((2,), 0.5))


@pytest.mark.parametrize("ma_init", ["paper", "released-code"])
def test_modifier_alignment_init(ma_init: str) -> None:
    ctx = tiny_context()
    method = LowShotFinetune(
        LowShotFinetuneConfig(text_encoder="fake", ma_init=ma_init)  # type: ignore[arg-type]
    )
    method.prepare(ctx, 0)
    w, b, info = method.initial_rows(_task(ctx), ctx, 0, torch.Generator().manual_seed(0))
    delta = method._alignment(ctx, 0)(ctx.text_encoder("fake").encode(["left", "right"]))
    assert info["ma_init"] == ma_init and info["modifiers"] == ["left", "right"]
    if ma_init == "paper":
        torch.testing.assert_close(w, ctx.weight[0] + delta)
        torch.testing.assert_close(b, torch.full((2,), 0.5))
    else:  # the released code: trunc_normal(0.02) + Δ, zero bias
        assert float((w - delta).abs().max()) < 0.1
        assert torch.equal(b, torch.zeros(2))


def test_variant_configs_fix_their_init() -> None:
    with pytest.raises(ConfigError, match="expected one of 'coarse'"):
        build_config(LowShotCoarseConfig, {"init": "random"})
    assert build_config(LowShotRandomConfig, {"shots": "5"}).shots == 5
    assert build_config(LowShotFinetuneConfig, {"shots": "all"}).shots == "all"
    with pytest.raises(ConfigError, match="shots 0"):
        build_config(LowShotFinetuneConfig, {"shots": "0"})
    assert LowShotFinetune(LowShotFinetuneConfig(shots="all")).shots is None
    assert LowShotFinetuneCoarse(LowShotCoarseConfig(shots=5)).shots == 5


# -- the training step ---------------------------------------------------------------------


def test_hand_written_step_equals_autograd_and_torch_adamw() -> None:
    torch.manual_seed(0)
    c, k, d = 7, 3, 5
    w_old, b_old = torch.randn(c, d), torch.randn(c)
    w0, b0 = torch.randn(k, d) * 0.1, torch.randn(k) * 0.1
    x = torch.randn(40, d)
    y = torch.randint(c, c + k, (40,))
    cfg = LowShotCoarseConfig(dropout=0.0, max_epochs=12, patience=100, batch_size=16)
    gen = torch.Generator().manual_seed(5)
    w, b, rec = fit_new_rows(SupportData(x, y, None, None, 1), w_old, b_old, w0, b0, cfg, gen)
    # reference: autograd + torch.optim.AdamW + CosineAnnealingLR, same batch order
    wr, br = w0.clone().requires_grad_(), b0.clone().requires_grad_()
    opt = torch.optim.AdamW([wr, br], lr=1e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=12)
    ref_gen = torch.Generator().manual_seed(5)
    for _ in range(12):
        perm = torch.randperm(40, generator=ref_gen)
        for i in range(0, 40, 16):
            idx = perm[i : i + 16]
            logits = torch.cat([x[idx] @ w_old.T + b_old, x[idx] @ wr.T + br], 1)
            loss = torch.nn.functional.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    torch.testing.assert_close(w, wr.detach(), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(b, br.detach(), atol=1e-6, rtol=1e-5)
    assert rec["epochs"] == 12 and rec["kept"] == "last"


def test_training_lowers_the_loss_and_keeps_best_with_validation() -> None:
    torch.manual_seed(1)
    c, k, d = 4, 2, 6
    w_old, b_old = 0.2 * torch.randn(c, d), torch.zeros(c)
    centers = torch.randn(k, d) * 2
    y = torch.arange(c, c + k).repeat(30)
    x = centers[y - c] + 0.3 * torch.randn(len(y), d)
    cfg = LowShotRandomConfig(max_epochs=60, lr=1e-2)
    w, b, rec = fit_new_rows(
        SupportData(x[:40], y[:40], x[40:], y[40:], 1),
        w_old,
        b_old,
        torch.zeros(k, d),
        torch.zeros(k),
        cfg,
        torch.Generator().manual_seed(0),
    )
    assert rec["monitor"] == "ema_val_loss" and rec["kept"] == "best"
    assert rec["val_samples"] == 20

    def val_loss(wn: torch.Tensor, bn: torch.Tensor) -> float:
        logits = torch.cat([x[40:] @ w_old.T + b_old, x[40:] @ wn.T + bn], 1)
        return float(torch.nn.functional.cross_entropy(logits, y[40:]))

    assert val_loss(w, b) < 0.5 * val_loss(torch.zeros(k, d), torch.zeros(k))


def test_holdout_split_is_stratified() -> None:
    labels = np.array([7] * 20 + [8] * 10 + [9])
    tr, va = holdout_split(labels, 0.1, torch.Generator().manual_seed(0))
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(labels)
    assert np.bincount(labels[va] - 7, minlength=3).tolist() == [2, 1, 0]


# -- on the synthetic store ----------------------------------------------------------------


@pytest.fixture(scope="module")
def synth_ctx(synthetic, synthetic_stores) -> SubsetContext:  # type: ignore[no-untyped-def]
    store = synthetic_stores["A"]
    w, b = store.head()
    encoder = HashedWordEncoder()
    return SubsetContext(
        synthetic,
        synthetic.subset("A"),
        store,
        torch.from_numpy(w),
        torch.from_numpy(b),
        text_encoder_factory=lambda spec: encoder,
    )


def test_finetune_is_deterministic_and_records_shots(synth_ctx: SubsetContext) -> None:
    task = SplitTask(synth_ctx.subset.targets[0], synth_ctx.subset)
    m = LowShotFinetune(LowShotFinetuneConfig(text_encoder="fake", max_epochs=15))
    m.prepare(synth_ctx, 0)
    a, b = m.edit(task, synth_ctx, 0), m.edit(task, synth_ctx, 0)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    support = a.info["support"]
    expected = sample_shots(task.subset, task.target, 1, 0)
    assert support["videos"] == list(expected.videos) and support["count"] == task.k
    assert support["policy"] == "available" and a.info["init"] == "modifier_alignment"
    views = synth_ctx._store.meta.splits["train"].views
    assert a.info["training"]["samples"] == task.k * views  # every stored view is a sample
    m.prepare(synth_ctx, 1)
    c = m.edit(task, synth_ctx, 1)
    assert not torch.equal(a.weight, c.weight)


def test_strict_policy_error_names_the_label(synth_ctx: SubsetContext) -> None:
    task = SplitTask(synth_ctx.subset.targets[0], synth_ctx.subset)
    m = LowShotFinetuneCoarse(LowShotCoarseConfig(shots=100000, shot_policy="strict"))
    with pytest.raises(ConfigError, match=repr(task.fine_labels[0])):
        m.edit(task, synth_ctx, 0)


def test_all_shots_uses_a_held_out_split(synth_ctx: SubsetContext) -> None:
    task = SplitTask(synth_ctx.subset.targets[0], synth_ctx.subset)
    m = LowShotFinetuneCoarse(LowShotCoarseConfig(shots="all", max_epochs=3))
    rows = m.edit(task, synth_ctx, 0)
    tr = rows.info["training"]
    assert tr["monitor"] == "ema_val_loss" and tr["kept"] == "best" and tr["val_samples"] > 0
    support = rows.info["support"]
    assert support["shots"] == "all" and support["count"] == len(task.target.ft)
    assert len(support["videos_sha256"]) == 16


@pytest.mark.parametrize("op", ["mul_", "div_", "add_", "lt_"])
def test_float32_scalar_operands_give_the_bits_of_python_floats(op: str) -> None:
    """``_training.scalar`` operands (no per-call cast) compute the same float32 values."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(64, 385, generator=gen) * 10.0 ** torch.randint(-8, 8, (64, 1), generator=gen)
    for value in (0.999999, 1 / 0.75, 1e-8, math.sqrt(1 - 0.999**7), 1 / 12, 0.75, -3e-4):
        a, b = x.clone(), x.clone()
        getattr(a, op)(value)
        getattr(b, op)(scalar(value))
        assert torch.equal(a, b), (op, value)


def test_manual_adamw_equals_its_python_float_formulation_bit_for_bit() -> None:
    """The step with float32 scalar operands is the same as the literal float formulas."""
    gen = torch.Generator().manual_seed(0)
    p = torch.randn(3, 385, generator=gen)
    ref, m, v = p.clone(), torch.zeros_like(p), torch.zeros_like(p)
    opt = ManualAdamW(p, 1e-3)
    for t in range(1, 120):
        g = torch.randn(3, 385, generator=gen) * 0.1
        lr = cosine_lr(1e-3, 0.0, t, 100)
        opt.grad.copy_(g)
        opt.step(lr)
        ref.mul_(1 - lr * 1e-3)
        m.lerp_(g, 1 - 0.9)
        v.mul_(0.999).addcmul_(g, g, value=1 - 0.999)
        denom = torch.sqrt(v).div_(math.sqrt(1 - 0.999**t)).add_(1e-8)
        ref.addcdiv_(m, denom, value=-lr / (1 - 0.9**t))
        assert torch.equal(p, ref), t
