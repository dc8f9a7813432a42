"""Small helpers shared by the methods that train (modifier alignment, low-shot finetuning)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import torch

from splitbench.core.hashing import seed_from_text, sha256_parts


def seeded_generator(*parts: object) -> torch.Generator:
    """A CPU generator seeded from a hash of ``parts`` (independent of global RNG state)."""
    seed = seed_from_text("|".join(map(str, parts)))
    return torch.Generator().manual_seed(seed & ((1 << 63) - 1))


def head_digest(weight: torch.Tensor, bias: torch.Tensor) -> str:
    """Short content hash of a base head (keys per-head caches such as a trained MA map)."""
    arrays = (t.detach().cpu().float().numpy().tobytes() for t in (weight, bias))
    return sha256_parts(arrays, 16)


@contextmanager
def single_thread() -> Iterator[None]:
    """Run tiny-tensor training loops on one intra-op thread, then restore the setting.

    Steps on (10 × 384) batches are dominated by dispatch and thread synchronisation; on a
    shared 2-core machine a second OpenMP thread makes them slower and far noisier.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class EmaEarlyStopping:
    """Early stopping on an exponential moving average of a per-epoch value.

    The EMA starts at the first value; an epoch counts as an improvement when the EMA beats
    the best so far by more than ``min_delta`` (upwards for ``mode="max"``, downwards for
    ``"min"``). Training stops after ``patience`` epochs without one.

    Attributes:
        beta: EMA smoothing (0.95 in the paper's code).
        patience: Epochs without improvement before stopping.
        min_delta: Smallest improvement that counts.
        mode: ``"max"`` (e.g. cosine similarity) or ``"min"`` (e.g. loss).
    """

    beta: float = 0.95
    patience: int = 5
    min_delta: float = 1e-3
    mode: Literal["max", "min"] = "max"
    ema: float | None = None
    best: float = math.nan
    best_epoch: int = 0
    wait: int = 0
    epoch: int = 0

    def update(self, value: float) -> bool:
        """Record one epoch's value; return True when it is the new best."""
        self.epoch += 1
        self.ema = value if self.ema is None else self.beta * self.ema + (1 - self.beta) * value
        sign = 1.0 if self.mode == "max" else -1.0
        if math.isnan(self.best) or sign * (self.ema - self.best) > self.min_delta:
            self.best, self.best_epoch, self.wait = self.ema, self.epoch, 0
            return True
        self.wait += 1
        return False

    @property
    def should_stop(self) -> bool:
        """Whether ``patience`` epochs passed without improvement."""
        return self.wait >= self.patience


class StateKeeper:
    """Keeps a copy of some tensors' values (the best state) without reallocating."""

    def __init__(self, tensors: Sequence[torch.Tensor]) -> None:
        self._live = list(tensors)
        self._saved = [t.detach().clone() for t in self._live]

    def save(self) -> None:
        """Copy the live values into the saved buffers."""
        with torch.no_grad():
            for s, t in zip(self._saved, self._live, strict=True):
                s.copy_(t)

    def restore(self) -> None:
        """Copy the saved values back into the live tensors."""
        with torch.no_grad():
            for s, t in zip(self._saved, self._live, strict=True):
                t.copy_(s)


#: ``torch.optim.AdamW``'s default (β1, β2) and ε.
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


def cosine_lr(base: float, eta_min: float, epoch: int, t_max: int) -> float:
    """Learning rate of ``CosineAnnealingLR`` after ``epoch`` scheduler steps (closed form)."""
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * epoch / t_max)) / 2


def scalar(value: float) -> torch.Tensor:
    """``value`` as a float32 0-dim tensor, to pass to in-place ops instead of a Python float.

    The op then skips casting a wrapped float64 scalar to float32 on every call; the kernel
    computes with the same float32 value, so the results are the same bits.
    """
    return torch.tensor(value, dtype=torch.float32)


class ManualAdamW:
    """AdamW on one tensor with the exact update of ``torch.optim.AdamW`` (no autograd).

    For tiny parameters (a k × (D + 1) head block) the optimiser object's per-step
    bookkeeping costs more than the arithmetic; this does the same update in six in-place
    ops. ``grad`` is a preallocated buffer the caller fills before :meth:`step`.

    Measured (issue 19, 2-core machine, loaded; 1-shot unit, k = 3, 100 epochs, one
    thread): this plus the closed-form gradient 25.6 ms per unit (min of 30);
    ``torch.optim.AdamW`` + autograd + ``CosineAnnealingLR`` 137–204 ms (fused, foreach or
    for-loop AdamW); torch's AdamW on the closed-form gradient 153 ms. With 864 low-shot
    units in the paper protocol the library path alone would cost ≈ 2 CPU-minutes against
    the 20 s target, so the update stays hand-written.

    Args:
        param: The tensor to update in place.
        weight_decay: Decoupled weight decay.
        betas: Adam's (β1, β2).
        eps: Adam's ε.
    """

    def __init__(
        self,
        param: torch.Tensor,
        weight_decay: float,
        betas: tuple[float, float] = ADAM_BETAS,
        eps: float = ADAM_EPS,
    ) -> None:
        self.param = param
        self.grad = torch.zeros_like(param)
        self.weight_decay = weight_decay
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.t = 0
        self._m = torch.zeros_like(param)
        self._v = torch.zeros_like(param)
        self._denom = torch.empty_like(param)
        # The scalar operands as float32 0-dim tensors. A Python float is wrapped in a
        # float64 tensor and cast to float32 on every call (aten::to, ~4 µs of a ~120 µs
        # 1-shot step, five times a step); the kernels see the same float32 value either way
        # (same bits, tests/test_methods_lowshot.py).
        self._decay = scalar(0.0)
        self._beta2 = scalar(self.beta2)
        self._bc2_sqrt = scalar(1.0)
        self._eps = scalar(eps)

    def step(self, lr: float) -> None:
        """One update with learning rate ``lr`` using the current :attr:`grad`."""
        self.t += 1
        p, g = self.param, self.grad
        p.mul_(self._decay.fill_(1 - lr * self.weight_decay))
        self._m.lerp_(g, 1 - self.beta1)
        self._v.mul_(self._beta2).addcmul_(g, g, value=1 - self.beta2)
        bc1 = 1 - self.beta1**self.t
        self._bc2_sqrt.fill_(math.sqrt(1 - self.beta2**self.t))
        torch.sqrt(self._v, out=self._denom).div_(self._bc2_sqrt).add_(self._eps)
        p.addcdiv_(self._m, self._denom, value=-lr / bc1)
