"""MSE regression of a ``Linear → GELU → … → Linear`` MLP with AdamW, without autograd.

Modifier alignment trains a small MLP for ~2,300 steps of 10 pairs per (subset, seed);
most of a step's wall time went to the Python side of ``nn.Module``, the autograd engine,
``torch.optim.AdamW.step`` and ``CosineAnnealingLR``, not to the six small matmuls.
:class:`MLPRegressionStep` calls the same ATen kernels that autograd and
``torch.optim.AdamW(fused=True)`` call (``addmm``, ``gelu``, ``mse_loss_backward``,
``mm`` with the layouts autograd uses, ``gelu_backward``, ``_fused_adamw_``), so every
parameter comes out **bit for bit** the same as with the library loop
(``tests/test_methods_mlp_fit.py`` checks it against that loop), only without the
per-step Python machinery. ``bench/bench_ma_map.py`` measures both.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn

from splitbench_methods._training import ADAM_BETAS, ADAM_EPS

_ATEN = torch.ops.aten
_MEAN = 1  # at::Reduction::Mean


def cosine_annealing_lrs(base: float, eta_min: float, t_max: int, epochs: int) -> list[float]:
    """The learning rate of each epoch under ``torch.optim.lr_scheduler.CosineAnnealingLR``.

    The scheduler's own recursive update (not the closed form, which rounds differently),
    in the same float operations, so the values equal ``group["lr"]`` epoch by epoch
    without building an optimiser and a scheduler per training run.
    """
    out, lr = [], base
    for epoch in range(1, epochs + 1):
        out.append(lr)
        if (epoch - 1 - t_max) % (2 * t_max) == 0:
            lr = lr + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
        else:
            lr = (1 + math.cos(math.pi * epoch / t_max)) / (
                1 + math.cos(math.pi * (epoch - 1) / t_max)
            ) * (lr - eta_min) + eta_min
    return out


class MLPRegressionStep:
    """AdamW steps of ``mse_loss(mlp(x), y)`` on the MLP's parameters, in place.

    Equivalent to ``opt = torch.optim.AdamW(mlp.parameters(), lr, weight_decay=wd,
    fused=True)`` and, per batch, ``opt.zero_grad(); mse_loss(mlp(x), y).backward();
    opt.step()`` with the learning rate of the current epoch.

    Args:
        mlp: ``Linear`` layers with a ``GELU`` (exact, not tanh) between consecutive ones.
        weight_decay: AdamW's decoupled weight decay (β and ε are torch's defaults).

    Raises:
        TypeError: for any other layer sequence.
    """

    def __init__(self, mlp: nn.Sequential, weight_decay: float) -> None:
        layers = list(mlp)
        linears = [m for m in layers[0::2] if isinstance(m, nn.Linear) and m.bias is not None]
        gelus = [m for m in layers[1::2] if isinstance(m, nn.GELU) and m.approximate == "none"]
        if len(linears) != (len(layers) + 1) // 2 or len(gelus) != len(layers) // 2:
            raise TypeError("expected Linear (with bias) layers with an exact GELU between them")
        self._w = [m.weight.detach() for m in linears]
        self._b = [m.bias.detach() for m in linears]
        self._params = [t for pair in zip(self._w, self._b, strict=True) for t in pair]
        self._m = [torch.zeros_like(p) for p in self._params]
        self._v = [torch.zeros_like(p) for p in self._params]
        # one step counter for every parameter (they always step together), incremented by
        # a 0-dim tensor: one add instead of a foreach over per-parameter counters plus the
        # cast of a Python 1 (~20 µs of a ~550 µs step); the counts are the same integers
        self._step = torch.zeros((), dtype=torch.float32)
        self._steps = [self._step] * len(self._params)
        self._one = torch.ones(())
        beta1, beta2 = ADAM_BETAS
        self._adamw = functools.partial(
            torch._fused_adamw_,
            beta1=beta1,
            beta2=beta2,
            eps=ADAM_EPS,
            amsgrad=False,
            maximize=False,
        )
        self._wd = weight_decay

    @property
    def params(self) -> list[torch.Tensor]:
        """The parameters updated in place (weight, bias of each layer)."""
        return list(self._params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``mlp(x)`` (same kernels as the module's forward)."""
        return self._forward(x)[0]

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        inputs, a = [x], x
        last = len(self._w) - 1
        for i, (w, b) in enumerate(zip(self._w, self._b, strict=True)):
            a = torch.addmm(b, a, w.t())  # what nn.Linear runs for 2-D input
            if i < last:
                inputs.append(a)  # pre-activation, for gelu_backward
                a = nn.functional.gelu(a)
                inputs.append(a)
        return a, inputs

    @torch.no_grad()
    def step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> None:
        """One AdamW step on the batch ``(x, y)`` with learning rate ``lr``."""
        out, inputs = self._forward(x)
        g = _ATEN.mse_loss_backward(self._one, out, y, _MEAN)
        grads: list[torch.Tensor] = [g] * len(self._params)
        for i in range(len(self._w) - 1, -1, -1):
            a = inputs[2 * i]  # this layer's input
            # the layouts AddmmBackward uses for ``addmm(b, a, w.t())``: grad of w.t() as
            # (g.t() @ a).t(), bias grad summed over the batch, input grad g @ w
            grads[2 * i] = torch.mm(g.t(), a)
            grads[2 * i + 1] = g.sum(0)
            if i > 0:
                g = _ATEN.gelu_backward(torch.mm(g, self._w[i]), inputs[2 * i - 1])
        self._step.add_(self._one)
        self._adamw(
            self._params, grads, self._m, self._v, [], self._steps, lr=lr, weight_decay=self._wd
        )


class LibraryRegressionStep:
    """The same steps through autograd and ``torch.optim.AdamW(fused=True)``.

    The reference :class:`MLPRegressionStep` is checked against (and timed against in
    ``bench/bench_ma_map.py``); same interface.
    """

    def __init__(self, mlp: nn.Sequential, weight_decay: float) -> None:
        self._mlp = mlp
        self._opt = torch.optim.AdamW(
            mlp.parameters(), lr=0.0, weight_decay=weight_decay, fused=True
        )

    @property
    def params(self) -> list[torch.Tensor]:
        """The parameters updated in place."""
        return list(self._mlp.parameters())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``mlp(x)``."""
        out: torch.Tensor = self._mlp(x)
        return out

    def step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> None:
        """One AdamW step on the batch ``(x, y)`` with learning rate ``lr``."""
        self._opt.param_groups[0]["lr"] = lr
        loss = nn.functional.mse_loss(self._mlp(x), y)
        self._opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        self._opt.step()
