"""VideoPrism-LvT (Zhao et al., *VideoPrism*, ICML 2024) as a video-language model.

Spec (after ``videoprism:``): the released Flax variables file, ``flax_lvt_base_f16r288_
repeated.npz`` (Hugging Face ``google/videoprism-lvt-base-f16r288``) or the large one
(``...-lvt-large-f8r288``). Nothing is downloaded. The text tokenizer is the ``c4_en``
SentencePiece model (``gs://t5-data/vocabs/cc_en.32000/sentencepiece.model``): a file
``sentencepiece.model`` next to the weights, or the path in ``$SPLITBENCH_VIDEOPRISM_TOKENIZER``;
it needs the ``sentencepiece`` package.

The network is :mod:`splitbench.models.videoprism_net` (a PyTorch port that keeps the Flax
names and shapes, loaded strictly). Preprocessing, as the official demo and ``models.py``:

* **video**: ``cfg.frames`` frames (16 for B, 8 for L) at ``floor(linspace(0, n, T,
  endpoint=False))``, each squashed to 288×288, RGB in [0, 1] with **no** mean/std
  normalisation; one view per video. The demo resizes with mediapy; splitbench's resize is
  bilinear (recorded in the views).
* **text**: ``canonicalize_text`` (punctuation → spaces, lower case, single spaces, a final
  period), SentencePiece ids with a BOS only if the model defines one and no EOS, truncated or
  padded with 0 to 64 tokens, paddings 1 on the padded positions.
* **similarity**: cosine of the two L2-normalised embeddings.
"""

from __future__ import annotations

import os
import string
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitbench.errors import ConfigError, DataError
from splitbench.models.videoprism_net import VideoPrismLvT, flax_names, infer_config
from splitbench.models.vlm import VLMOptions, embed_texts, encode_in_steps
from splitbench.video.vlm_views import VLMViews

TOKENIZER_ENV = "SPLITBENCH_VIDEOPRISM_TOKENIZER"
TOKENIZER_FILE = "sentencepiece.model"
TEXT_MAX_LEN = 64
LAYOUT = "VideoPrism-LvT (released Flax arrays)"


def canonicalize_text(text: str) -> str:
    """VideoPrism's text canonicalisation (``utils.canonicalize_text``)."""
    p = string.punctuation
    text = text.translate(str.maketrans(p, " " * len(p))).lower()
    return " ".join(text.split()) + "."


class SentencePieceTokens:
    """The official tokenisation: ids and paddings ``(n, 64)``.

    Args:
        path: The SentencePiece model file.
    """

    def __init__(self, path: Path) -> None:
        try:
            import sentencepiece
        except ImportError:
            raise ConfigError(
                "videoprism: the text tokenizer needs the sentencepiece package (pip install "
                "sentencepiece)"
            ) from None
        self.path = path
        self._sp = sentencepiece.SentencePieceProcessor()
        self._sp.Load(str(path))
        self.bos = int(self._sp.bos_id())

    def __call__(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids (int64) and paddings (float32, 1 = pad)."""
        ids = np.zeros((len(texts), TEXT_MAX_LEN), dtype=np.int64)
        pad = np.ones((len(texts), TEXT_MAX_LEN), dtype=np.float32)
        for i, text in enumerate(texts):
            toks = ([self.bos] if self.bos >= 0 else []) + list(
                self._sp.EncodeAsIds(canonicalize_text(text))
            )
            toks = toks[:TEXT_MAX_LEN]
            ids[i, : len(toks)] = toks
            pad[i, : len(toks)] = 0.0
        return torch.from_numpy(ids), torch.from_numpy(pad)


def find_tokenizer(weights: Path) -> Path:
    """The SentencePiece model for ``weights``.

    Raises:
        ConfigError: naming both places looked at when there is none.
    """
    env = os.environ.get(TOKENIZER_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ConfigError(f"${TOKENIZER_ENV}={env}: no such SentencePiece model file")
        return path.resolve()
    path = weights.parent / TOKENIZER_FILE
    if path.is_file():
        return path.resolve()
    raise ConfigError(
        f"videoprism: no text tokenizer: put the c4_en SentencePiece model (gs://t5-data/vocabs/"
        f"cc_en.32000/sentencepiece.model) at {path} or set ${TOKENIZER_ENV}"
    )


def load_videoprism(path: Path, *, text_only: bool = False) -> VideoPrismLvT:
    """Read a released ``.npz`` (no pickles) and load it strictly into the port.

    Raises:
        DataError: for unreadable files and wrong layouts (one line naming the arrays).
    """
    from splitbench.models.base_model import load_state_strict

    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz of Flax arrays ({exc})") from None
    named = flax_names(arrays, str(path))
    state = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in named.items()}
    cfg = infer_config(state, str(path))
    if text_only:
        state = {k: v for k, v in state.items() if k.startswith("text_encoder.")}
    with torch.device("meta"):
        model = VideoPrismLvT(cfg, text_only=text_only)
    load_state_strict(model, state, str(path), layout=LAYOUT, assign=True)
    return model.eval()


class VideoPrismVideo:
    """VideoPrism-LvT as a video-language model (see the module docstring).

    Args:
        path: The ``.npz`` weights file.
        options: Device, text-only.
    """

    family = "videoprism"

    def __init__(self, path: Path, options: VLMOptions | None = None) -> None:
        from splitbench.models.checkpoint import file_sha256

        options = options or VLMOptions()
        path = Path(path).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"videoprism:{path}: weights file does not exist (expected the released "
                f"flax_lvt_base_f16r288_repeated.npz; nothing is downloaded)"
            )
        self._tokens = SentencePieceTokens(find_tokenizer(path))
        self.model = load_videoprism(path, text_only=options.text_only)
        self.options = options
        self.device = torch.device(options.device)
        self.model.to(self.device)
        self.cfg = self.model.cfg
        self.weights = path.resolve()
        self.sha256 = file_sha256(path)
        self.tokenizer_sha256 = file_sha256(self._tokens.path)
        self.embed_dim = self.cfg.model_dim
        self.spec = f"videoprism:{self.weights}"

    def identity(self) -> dict[str, Any]:
        """Shape, weights and tokenizer hashes, and the fixed preprocessing."""
        return {
            "name": "videoprism",
            "family": "videoprism",
            "weights": self.weights.name,
            "weights_sha256": self.sha256,
            "tokenizer_sha256": self.tokenizer_sha256,
            "config": asdict(self.cfg),
            "pixels": "RGB in [0, 1], no mean/std",
            "text": f"canonicalised, SentencePiece, {TEXT_MAX_LEN} tokens, class token",
            "pooling": "contrastive_vision_pooler (attention pooling)",
        }

    def text_identity(self) -> str:
        """The text tower's identity."""
        return f"videoprism-text:sha256={self.sha256[:16]}:tokenizer={self.tokenizer_sha256[:16]}"

    def default_views(self, base_eval: dict[str, Any] | None) -> VLMViews:
        """The official preprocessing (independent of the base model's views)."""
        return VLMViews(
            frames=self.cfg.frames, sampler="linspace", resize="squash", size=self.cfg.image_size
        )

    def encode_views(self, views: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Unit video embeddings ``(B, V, E)`` from ``(B, V, T, H, W, 3)`` uint8 views."""
        b, v = views.shape[:2]
        x = views.reshape(b * v, *views.shape[2:]).float().div_(255.0)
        step = max(1, self.options.image_batch // max(1, views.shape[2]))
        return encode_in_steps(x, step, self.model.encode_video, dtype).reshape(b, v, -1)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Text embeddings (already unit length: the model normalises its outputs)."""

        def encode(batch: list[str]) -> torch.Tensor:
            ids, pad = self._tokens(batch)
            out: torch.Tensor = self.model.encode_text(ids.to(self.device), pad.to(self.device))
            return out

        return embed_texts(texts, encode, self.embed_dim)


def build_videoprism(arg: str, options: VLMOptions) -> VideoPrismVideo:
    """Registry factory: ``videoprism:<.npz file>``."""
    return VideoPrismVideo(Path(arg), options)
