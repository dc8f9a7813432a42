"""Deterministic-algorithm mode without importing torch's compiler stack.

``torch.use_deterministic_algorithms`` imports ``torch._inductor.config`` (which pulls in
``torch._dynamo``, about 0.9 s) only to set its ``deterministic`` flag. Nothing here
compiles, so the flag is set on the compiler's config only when something else already
imported it; eager kernels get the same switch as ``use_deterministic_algorithms`` gives.
"""

from __future__ import annotations

import sys


def use_deterministic_algorithms(mode: bool = True, *, warn_only: bool = True) -> None:
    """Same effect as ``torch.use_deterministic_algorithms(mode, warn_only=...)`` on eager ops."""
    import torch

    inductor = sys.modules.get("torch._inductor.config")
    if inductor is not None:
        inductor.deterministic = mode  # type: ignore[attr-defined]
    torch._C._set_deterministic_algorithms(mode, warn_only=warn_only)
