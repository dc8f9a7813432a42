"""splitbench: a benchmark harness for category splitting of video classifiers.

The protocol follows Liu & Doughty, "Let's Split Up: Zero-Shot Classifier Edits for
Fine-Grained Video Understanding" (ICLR 2026). The backbone is frozen, so every method
runs on cached per-view features; see ``docs`` in the README for the layer map.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Evaluation", "MethodSpec", "__version__", "evaluate"]

_LAZY = {"evaluate", "Evaluation", "MethodSpec"}


def __getattr__(name: str) -> Any:
    # The facade imports torch; resolve it on first use so ``splitbench --help`` stays fast.
    if name in _LAZY:
        from splitbench import evaluation

        return getattr(evaluation, name)
    raise AttributeError(f"module 'splitbench' has no attribute {name!r}")
