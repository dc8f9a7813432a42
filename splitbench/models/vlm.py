"""Video-language models (VLMs) for the cascade baselines: a common interface and a registry.

A VLM is named by a spec ``family:argument``:

* ``clip:<open_clip model>/<pretrained tag or local weights file>``, e.g.
  ``clip:ViT-L-14/openai`` (weights found in the local Hugging Face cache, never
  downloaded), ``clip:ViT-L-14/openai=/data/open_clip_pytorch_model.bin`` (a tag's weights
  in a local file) or ``clip:ViT-B-16//data/weights.safetensors`` (any file); see
  :mod:`splitbench.models.clip_video`;
* ``viclip:<local .pth or .safetensors file>`` (InternVid's ViCLIP, official key names), see
  :mod:`splitbench.models.viclip`;
* ``merged-clip:<.safetensors file>``: a task-arithmetic merge of open_clip models written by
  ``splitbench vlm merge``, see :mod:`splitbench.models.merge`;
* ``fgclip:<checkpoint folder or weights file>`` (FG-CLIP, Hugging Face layout), see
  :mod:`splitbench.models.fgclip`;
* ``videoprism:<.npz file>`` (VideoPrism-LvT, the released Flax arrays), see
  :mod:`splitbench.models.videoprism`.

Every VLM embeds the views of a video into one L2-normalised vector per view and embeds texts
with its own text tower. Its text tower is also a text encoder, spec ``vlm-text:<VLM spec>``,
so its embeddings go through the same cache (keyed by the tower's identity) as every other
text encoder.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from splitbench.errors import ConfigError, DataError
from splitbench.registry import Registry
from splitbench.video.vlm_views import VLMViews


@dataclass(frozen=True)
class VLMOptions:
    """How to build a VLM (nothing here changes its weights).

    Attributes:
        device: Torch device.
        trust: Allow full unpickling of a weights file that weights-only loading refuses.
        text_only: Build only the text tower (for text encoders).
        pooling: CLIP frame pooling: ``mean`` or ``attention``.
        image_batch: Images per forward pass of a per-frame image encoder.
    """

    device: str = "cpu"
    trust: bool = False
    text_only: bool = False
    pooling: str = "mean"
    image_batch: int = 256


@runtime_checkable
class VideoLanguageModel(Protocol):
    """What the cascade baselines and ``splitbench extract --encoder`` use.

    Attributes:
        family: ``clip`` or ``viclip`` (or a plugin's family).
        spec: The spec it was built from (paths made absolute).
        embed_dim: Dimension of the joint space.
    """

    family: str
    spec: str
    embed_dim: int

    def identity(self) -> dict[str, Any]:
        """Everything that determines its video embeddings (weights hash, options)."""
        ...

    def text_identity(self) -> str:
        """Identity of its text tower (the text-embedding cache key)."""
        ...

    def default_views(self, base_eval: dict[str, Any] | None) -> VLMViews:
        """Its standard views, given the base store's evaluation views (or None)."""
        ...

    def encode_views(self, views: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """``(B, V, T, H, W, 3)`` uint8 views on its device → ``(B, V, E)`` unit vectors."""
        ...

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Raw text embeddings ``(n, E)`` float32 (not normalised)."""
        ...


VLMS: Registry[Callable[[str, VLMOptions], VideoLanguageModel]] = Registry(
    "video-language model",
    hint="Specs are clip:<model>/<pretrained tag or weights file>, viclip:<weights file>, "
    "merged-clip:<file from 'splitbench vlm merge'>, fgclip:<checkpoint folder or file> or "
    "videoprism:<.npz file>.",
)
VLMS.register("clip", "splitbench.models.clip_video:build_clip")
VLMS.register("viclip", "splitbench.models.viclip:build_viclip")
VLMS.register("merged-clip", "splitbench.models.merge:build_merged_clip")
VLMS.register("fgclip", "splitbench.models.fgclip:build_fgclip_vlm")
VLMS.register("videoprism", "splitbench.models.videoprism:build_videoprism")


def parse_vlm_spec(spec: str) -> tuple[str, str]:
    """Split ``family:argument``.

    Raises:
        ConfigError: when there is no family or no argument.
    """
    family, sep, arg = spec.partition(":")
    if not sep or not family or not arg:
        raise ConfigError(
            f"--encoder {spec!r}: expected family:argument, e.g. clip:ViT-L-14/openai or "
            f"viclip:/path/ViClip-InternVid-10M-FLT.pth"
        )
    return family.strip().lower(), arg.strip()


def load_vlm(spec: str, options: VLMOptions | None = None) -> VideoLanguageModel:
    """Build the VLM named by ``spec`` from local weights (nothing is downloaded).

    Raises:
        UnknownNameError: for an unknown family.
        ConfigError: when the weights are not available locally.
        DataError: when a weights file does not fit the model's layout.
    """
    family, arg = parse_vlm_spec(spec)
    return VLMS.get(family)(arg, options or VLMOptions())


def vlm_slug(spec: str) -> str:
    """A short folder name for a VLM spec, e.g. ``clip-vit-l-14-openai``."""
    family, arg = parse_vlm_spec(spec)
    parts = [p for p in re.split(r"[\\/]", arg) if p]
    if family == "clip" and len(parts) >= 2:
        tail = [parts[0], Path(parts[-1]).stem] if len(parts) > 2 else parts
    else:
        tail = [Path(parts[-1]).stem] if parts else [arg]
    slug = re.sub(r"[^a-z0-9]+", "-", "-".join([family, *tail]).lower()).strip("-")
    return slug[:64].strip("-")


class VLMTextEncoder:
    """A VLM's text tower as a :class:`~splitbench.models.text.TextEncoder`."""

    def __init__(self, vlm: VideoLanguageModel) -> None:
        self._vlm = vlm
        self.name = f"vlm-text:{vlm.family}"
        self.identity = vlm.text_identity()
        self.dim = vlm.embed_dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Raw embeddings of ``texts``."""
        return self._vlm.encode_text(list(texts))


def vlm_text_encoder(spec: str | None) -> VLMTextEncoder:
    """Factory for the text-encoder registry: ``vlm-text:<VLM spec>``."""
    if not spec:
        raise ConfigError("text encoder 'vlm-text' needs a VLM spec, e.g. vlm-text:viclip:FILE")
    return VLMTextEncoder(load_vlm(spec, VLMOptions(text_only=True)))


def l2_normalise(x: torch.Tensor) -> torch.Tensor:
    """Unit vectors along the last dimension (float32)."""
    x = x.float()
    out: torch.Tensor = x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return out


def encode_in_steps(
    x: torch.Tensor, step: int, encode: Callable[[torch.Tensor], torch.Tensor], dtype: torch.dtype
) -> torch.Tensor:
    """``encode`` over ``x`` in slices of ``step`` rows; the float32 results concatenated.

    Runs without autograd and under autocast to ``dtype`` (off for float32).
    """
    step = max(1, step)
    out = []
    with (
        torch.inference_mode(),
        torch.autocast(device_type=x.device.type, dtype=dtype, enabled=dtype != torch.float32),
    ):
        for i in range(0, len(x), step):
            out.append(encode(x[i : i + step]).float())
    return torch.cat(out)


def embed_texts(
    texts: Sequence[str], encode: Callable[[list[str]], torch.Tensor], dim: int, batch: int = 256
) -> np.ndarray:
    """``(n, dim)`` float32 embeddings of ``texts``, without autograd.

    ``encode`` tokenises and embeds one list of at most ``batch`` texts.
    """
    outs = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            outs.append(encode(list(texts[i : i + batch])).float().cpu().numpy())
    return np.concatenate(outs) if outs else np.zeros((0, dim), np.float32)


def require_keys(
    state: Mapping[str, Any], required: Sequence[str], where: str, layout: str
) -> None:
    """Refuse a state dict that lacks keys of ``layout`` with one line naming some of them.

    Raises:
        DataError: naming the first missing keys, keys found instead, and a hint when the
            file looks like an open_clip CLIP.
    """
    missing = [k for k in required if k not in state]
    if not missing:
        return
    hint = ""
    if any(k.startswith("visual.") for k in state):
        hint = " (this looks like an open_clip state dict: use --encoder clip:...)"
    raise DataError(
        f"{where}: not {layout}: missing {', '.join(missing[:4])}"
        f"{' (+more)' if len(missing) > 4 else ''}; found keys like "
        f"{', '.join(list(state)[:4])}{hint}"
    )
