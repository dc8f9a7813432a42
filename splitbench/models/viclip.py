"""ViCLIP (InternVid, Wang et al. 2024) with the official key names, on open_clip blocks.

The official code (``OpenGVLab/InternVideo: Data/InternVid/viclip``) cannot be imported
as a library (``pkg_resources``, ``cv2``, old timm paths), so this is a small re-build whose
state-dict keys equal the official ones and load strictly (ViCLIP-L: 428 M parameters)::

    temp                                              scalar (1/100)
    vision_encoder.conv1.weight                       Conv3d(3, W, (1, p, p)), no bias
    vision_encoder.{class_embedding (W), positional_embedding (N+1, W),
                    temporal_positional_embedding (1, T, W), proj (W, E)}
    vision_encoder.{ln_pre, ln_post}.{weight, bias}
    vision_encoder.transformer.resblocks.i.{ln_1, attn.in_proj_*, attn.out_proj.*, ln_2,
                                            mlp.c_fc.*, mlp.c_proj.*}
    text_encoder.{token_embedding.weight, positional_embedding (32, W'),
                  text_projection (W', E), ln_final.*}
    text_encoder.transformer.resblocks.i.{same block keys}

* **Vision**: joint space-time attention over ``1 + T·N`` tokens. Each patch token gets the
  spatial position of its patch and the temporal position of its frame; the class token
  gets ``positional_embedding[0]`` only; the output is ``ln_post`` of the class token times
  ``proj``. The blocks are ``open_clip.transformer.Transformer`` with **QuickGELU**. Token
  order does not matter without masking (evaluation), so tokens are laid out frame-major.
* **Text**: ``open_clip.transformer.TextTransformer`` (causal mask, EOT pooling) with
  QuickGELU and **context length 32**; tokens from
  ``open_clip.tokenizer.SimpleTokenizer(context_length=32)``, which gives ViCLIP's ids.
* **Input**: ``(B, T, H, W, 3)`` frames become ``(B, 3, T, H, W)`` — the official
  ``encode_vision`` permutes ``(B, T, C, H, W) → (B, C, T, H, W)`` the same way. Official
  preprocessing (:class:`~splitbench.video.vlm_views.VLMViews` defaults): 8 frames at the
  midpoints of 8 equal intervals, squashed to 224², ImageNet mean and std.
* **Similarity**: cosine of L2-normalised embeddings (the demo scales by 100 before its
  softmax; the checkpoint's ``temp`` is 1/100).

Shapes (width, layers, patch, frames, context; :mod:`~splitbench.models.viclip_config`)
are read from the weights; heads are
``width / 64`` (ViCLIP-L: 16 vision and 12 text heads; ViCLIP-B: 12 and 8).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from splitbench.errors import ConfigError, DataError
from splitbench.models.viclip_config import ViCLIPConfig
from splitbench.models.vlm import (
    VLMOptions,
    embed_texts,
    encode_in_steps,
    l2_normalise,
    require_keys,
)
from splitbench.video.views import IMAGENET_MEAN, IMAGENET_STD, to_model_input
from splitbench.video.vlm_views import VLMViews

LAYOUT = "ViCLIP (official keys)"
REQUIRED_KEYS = (
    "vision_encoder.conv1.weight",
    "vision_encoder.positional_embedding",
    "vision_encoder.temporal_positional_embedding",
    "vision_encoder.proj",
    "text_encoder.token_embedding.weight",
    "text_encoder.positional_embedding",
    "text_encoder.text_projection",
)


class ViCLIPVision(nn.Module):
    """The joint space-time vision tower (see the module docstring)."""

    def __init__(self, cfg: ViCLIPConfig) -> None:
        from open_clip.transformer import QuickGELU, Transformer

        super().__init__()
        w, p = cfg.vision_width, cfg.patch_size
        self.conv1 = nn.Conv3d(3, w, (1, p, p), stride=(1, p, p), bias=False)
        scale = w**-0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(w))
        self.positional_embedding = nn.Parameter(
            scale * torch.randn((cfg.image_size // p) ** 2 + 1, w)
        )
        self.temporal_positional_embedding = nn.Parameter(torch.zeros(1, cfg.num_frames, w))
        self.ln_pre = nn.LayerNorm(w)
        self.transformer = Transformer(
            w, cfg.vision_layers, cfg.vision_heads, act_layer=QuickGELU, batch_first=True
        )
        self.ln_post = nn.LayerNorm(w)
        self.proj = nn.Parameter(scale * torch.randn(w, cfg.embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, H, W)`` normalised clips → ``(B, E)`` (not normalised)."""
        x = self.conv1(x)  # (B, W, T, h, w)
        b, c, t, h, w = x.shape
        n_t = self.temporal_positional_embedding.shape[1]
        if t not in (1, n_t):
            raise ConfigError(f"ViCLIP takes {n_t} frames (or 1), got {t}")
        if h * w + 1 != self.positional_embedding.shape[0]:
            raise ConfigError(
                f"ViCLIP input gives {h}×{w} patches; the model has "
                f"{self.positional_embedding.shape[0] - 1} (wrong input size)"
            )
        x = x.permute(0, 2, 3, 4, 1).reshape(b, t, h * w, c)
        x = x + self.positional_embedding[1:].to(x.dtype)
        temporal: torch.Tensor = self.temporal_positional_embedding
        if t == 1:
            temporal = temporal.mean(1, keepdim=True)
        x = (x + temporal.to(x.dtype).unsqueeze(2)).reshape(b, t * h * w, c)
        cls = (self.class_embedding + self.positional_embedding[0]).to(x.dtype)
        x = torch.cat([cls.expand(b, 1, c), x], dim=1)
        x = self.transformer(self.ln_pre(x))
        out: torch.Tensor = self.ln_post(x[:, 0]) @ self.proj.to(x.dtype)
        return out


def build_text_tower(cfg: ViCLIPConfig) -> nn.Module:
    """open_clip's CLIP text transformer with QuickGELU and ViCLIP's context length."""
    from open_clip.transformer import QuickGELU, TextTransformer

    tower: nn.Module = TextTransformer(
        context_length=cfg.context_length,
        vocab_size=cfg.vocab_size,
        width=cfg.text_width,
        heads=cfg.text_heads,
        layers=cfg.text_layers,
        output_dim=cfg.embed_dim,
        act_layer=QuickGELU,
    )
    return tower


class ViCLIP(nn.Module):
    """The whole model: ``temp``, ``vision_encoder`` and ``text_encoder`` (official names).

    Args:
        cfg: The shape.
        text_only: Build only the text tower (and ``temp``).
    """

    def __init__(self, cfg: ViCLIPConfig, *, text_only: bool = False) -> None:
        super().__init__()
        cfg.check()
        self.cfg = cfg
        self.temp = nn.Parameter(torch.ones([]) / 100.0)
        self.vision_encoder = None if text_only else ViCLIPVision(cfg)
        self.text_encoder = build_text_tower(cfg)

    def encode_text_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token ids ``(n, context)`` → raw text embeddings ``(n, E)``."""
        out: torch.Tensor = self.text_encoder(tokens)
        return out


def infer_config(state: Mapping[str, torch.Tensor], where: str) -> ViCLIPConfig:
    """Read the shape of a ViCLIP state dict.

    Raises:
        DataError: one line naming the missing official keys when the layout is not ViCLIP's.
    """
    require_keys(state, REQUIRED_KEYS, where, "a ViCLIP state dict in the official layout")
    conv = state["vision_encoder.conv1.weight"]
    if conv.ndim != 5:
        raise DataError(
            f"{where}: vision_encoder.conv1.weight has shape {tuple(conv.shape)}, expected a "
            f"5-D Conv3d weight (width, 3, 1, patch, patch)"
        )
    vision_width, patch = int(conv.shape[0]), int(conv.shape[-1])
    n_pos = int(state["vision_encoder.positional_embedding"].shape[0]) - 1
    side = round(n_pos**0.5)
    tokens = state["text_encoder.token_embedding.weight"]
    text_width = int(tokens.shape[1])
    cfg = ViCLIPConfig(
        vision_width=vision_width,
        vision_layers=_blocks(state, "vision_encoder"),
        vision_heads=max(1, vision_width // 64),
        patch_size=patch,
        image_size=side * patch,
        num_frames=int(state["vision_encoder.temporal_positional_embedding"].shape[1]),
        embed_dim=int(state["vision_encoder.proj"].shape[1]),
        text_width=text_width,
        text_layers=_blocks(state, "text_encoder"),
        text_heads=max(1, text_width // 64),
        vocab_size=int(tokens.shape[0]),
        context_length=int(state["text_encoder.positional_embedding"].shape[0]),
    )
    try:
        cfg.check()
    except ConfigError as exc:
        raise DataError(f"{where}: {exc}") from None
    return cfg


def _blocks(state: Mapping[str, Any], tower: str) -> int:
    pat = re.compile(rf"{tower}\.transformer\.resblocks\.(\d+)\.")
    ids = {int(m.group(1)) for k in state if (m := pat.match(k))}
    return max(ids) + 1 if ids else 0


def build_from_state(
    state: Mapping[str, torch.Tensor], where: str, *, text_only: bool = False
) -> ViCLIP:
    """Build a ViCLIP for ``state`` and load it strictly, without copying the weights.

    The module is created on the ``meta`` device and the tensors of ``state`` become its
    parameters (``assign``), so a ViCLIP-L file needs its own size in memory, not twice it.

    Raises:
        DataError: for a layout that is not ViCLIP's (missing, unexpected or misshapen keys).
    """
    from splitbench.models.base_model import load_state_strict

    cfg = infer_config(state, where)
    with torch.device("meta"):
        model = ViCLIP(cfg, text_only=text_only)
    if text_only:
        state = {k: v for k, v in state.items() if k == "temp" or k.startswith("text_encoder.")}
    load_state_strict(model, state, where, layout=LAYOUT, assign=True)
    # the causal mask is a non-persistent buffer, so it is still on the meta device
    text = model.text_encoder
    text.attn_mask = text.build_causal_mask()  # type: ignore[operator]
    return model.eval()


def load_viclip(path: Path, *, trust: bool = False, text_only: bool = False) -> tuple[ViCLIP, Any]:
    """Read a ViCLIP weights file safely and load it strictly.

    Returns:
        The model (float32, CPU) and the :class:`~splitbench.models.checkpoint.CheckpointContents`.

    Raises:
        DataError: for unreadable files and wrong layouts.
        ConfigError: for a file that needs ``trust`` (full unpickling).
    """
    from splitbench.models.checkpoint import read_checkpoint

    contents = read_checkpoint(Path(path), trust=trust)
    model = build_from_state(contents.state_dict, str(path), text_only=text_only)
    return model.float(), contents


class ViCLIPVideo:
    """ViCLIP as a video-language model (see the module docstring).

    Args:
        path: The weights file (``.pth`` with ``{'model': state}``, or ``.safetensors``).
        options: Device, trust, text-only.
    """

    family = "viclip"

    def __init__(self, path: Path, options: VLMOptions | None = None) -> None:
        from open_clip.tokenizer import SimpleTokenizer

        options = options or VLMOptions()
        path = Path(path).expanduser()
        if not path.is_file():
            raise ConfigError(f"viclip:{path}: weights file does not exist (nothing is downloaded)")
        model, contents = load_viclip(path, trust=options.trust, text_only=options.text_only)
        self.options = options
        self.device = torch.device(options.device)
        self.model = model.to(self.device)
        self.cfg = model.cfg
        self.weights = path.resolve()
        self.sha256 = contents.sha256
        self.full_unpickle = contents.full_unpickle
        self.container = contents.container
        self.embed_dim = self.cfg.embed_dim
        self.spec = f"viclip:{self.weights}"
        self._tokenizer = SimpleTokenizer(context_length=self.cfg.context_length)

    def identity(self) -> dict[str, Any]:
        """Shape, weights hash and the fixed choices (QuickGELU, class-token pooling)."""
        return {
            "name": "viclip",
            "family": "viclip",
            "weights": self.weights.name,
            "weights_sha256": self.sha256,
            "container": self.container,
            "config": asdict(self.cfg),
            "activation": "QuickGELU",
            "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
            "pooling": "class token of joint space-time attention",
        }

    def text_identity(self) -> str:
        """The text tower's identity."""
        return f"viclip-text:context={self.cfg.context_length}:sha256={self.sha256[:16]}"

    def default_views(self, base_eval: dict[str, Any] | None) -> VLMViews:
        """The official test preprocessing (independent of the base model's views)."""
        return VLMViews(
            frames=self.cfg.num_frames,
            sampler="middle",
            resize="squash",
            size=self.cfg.image_size,
        )

    def clip_input(
        self, views: torch.Tensor, mean: Sequence[float], std: Sequence[float]
    ) -> torch.Tensor:
        """``(B, V, T, H, W, 3)`` uint8 → ``(B·V, 3, T, H, W)`` normalised float32."""
        if views.shape[-1] != 3:
            raise ConfigError(
                f"expected RGB views with channels last, got shape {tuple(views.shape)}"
            )
        return to_model_input(views, mean, std)

    def encode_views(self, views: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Unit video embeddings ``(B, V, E)`` (official preprocessing statistics)."""
        if self.model.vision_encoder is None:
            raise ConfigError("this ViCLIP was built text-only")
        b, v = views.shape[:2]
        x = self.clip_input(views, IMAGENET_MEAN, IMAGENET_STD)
        step = max(1, self.options.image_batch // max(1, views.shape[2]))
        out = encode_in_steps(x, step, self.model.vision_encoder, dtype)
        return l2_normalise(out).reshape(b, v, -1)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Raw text embeddings."""
        return embed_texts(
            texts,
            lambda t: self.model.encode_text_tokens(self._tokenizer(t).to(self.device)),
            self.embed_dim,
        )


def build_viclip(arg: str, options: VLMOptions) -> ViCLIPVideo:
    """Registry factory: ``viclip:<weights file>``."""
    return ViCLIPVideo(Path(arg), options)
