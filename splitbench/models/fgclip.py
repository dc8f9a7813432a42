"""FG-CLIP as a video encoder: per-frame image embeddings pooled over time, like CLIP.

FG-CLIP: Xie et al., *FG-CLIP: Fine-Grained Visual and Textual Alignment*, ICML 2025.

Spec (after ``fgclip:``): a released checkpoint folder (the Hugging Face snapshot of
``qihoo360/fg-clip-base`` or ``-large``: ``model.safetensors`` or ``pytorch_model.bin``, plus
``config.json``), or a weights file alone. Nothing is downloaded.

**Layout.** FG-CLIP v1 is the Hugging Face ``CLIPModel`` layout (``text_model.*``,
``vision_model.*``, ``visual_projection``, ``text_projection``, ``logit_scale``) plus what the
official ``FGCLIPModel`` adds for long captions and its extra losses:

* ``text_model.embeddings.position_embedding_res.weight`` and ``..._ori.weight``: the 248-token
  position tables of the long-caption path;
* ``text_filip_projection.weight``: the long-caption text projection;
* ``logit_scale_finegraind`` and ``logit_scale_hardneg`` (spelled as in the release).

All of them must be present and are loaded strictly; the towers are transformers' CLIP text
and vision models (the library the release builds on), the extras plain parameters next to
them.

**Text.** Class names are short captions, so the official *short* path is used (the README's
"max_length=77 && walk_short_pos=True"): 77 tokens, the 77-entry ``position_embedding``,
pooling at the first end-of-text token (``eos_token_id`` 49407, as ``FGCLIPModel`` sets it),
``text_projection``. The long-caption tables are loaded but unused. Tokens come from
open_clip's ``SimpleTokenizer``: the CLIP BPE that FG-CLIP ships (its repository bundles
``bpe_simple_vocab_16e6.txt.gz``); it pads with 0 where the Hugging Face tokenizer pads with
49407, which the causal mask and first-EOT pooling make irrelevant (a test checks it).

**Vision.** ``vision_model`` pooled output (``post_layernorm`` of the class token) →
``visual_projection``, as ``get_image_features``. Official preprocessing: each frame
**squashed** to the model's input size (the README resizes to ``image_size``² before the
processor), CLIP mean and std (or ``preprocessor_config.json``'s when the folder has one).
Frames come from the base model's evaluation sampling, one view per temporal segment; their
unit embeddings are mean-pooled over time (:func:`~splitbench.models.clip_video.pool_frames`).

**Shapes** come from ``config.json`` when the folder has one, else from the weights (heads =
width / 64, ``quick_gelu``: FG-CLIP's configuration default, initialised from OpenAI CLIP).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from splitbench.errors import ConfigError, DataError
from splitbench.models.clip_video import encode_frames, pool_frames
from splitbench.models.vlm import VLMOptions, embed_texts, require_keys
from splitbench.video.vlm_views import VLMViews

LAYOUT = "FG-CLIP (Hugging Face CLIPModel + long-caption extras)"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
EOS_TOKEN = 49407
EXTRA_PARAMS = ("logit_scale_finegraind", "logit_scale_hardneg")


def find_weights(arg: str) -> tuple[Path, Path | None]:
    """``(weights file, folder with config.json or None)`` for an ``fgclip:`` argument.

    Raises:
        ConfigError: when neither a weights file nor a folder holding one exists.
    """
    path = Path(arg).expanduser()
    if path.is_dir():
        for name in WEIGHT_FILES:
            if (path / name).is_file():
                return (path / name).resolve(), path.resolve()
        raise ConfigError(
            f"fgclip:{arg}: the folder has no {' or '.join(WEIGHT_FILES)} (expected the "
            f"qihoo360/fg-clip-base or fg-clip-large snapshot; nothing is downloaded)"
        )
    if path.is_file():
        folder = path.parent if (path.parent / "config.json").is_file() else None
        return path.resolve(), folder.resolve() if folder else None
    raise ConfigError(
        f"fgclip:{arg}: no such checkpoint folder or weights file (expected the qihoo360/"
        f"fg-clip-base or fg-clip-large snapshot with {WEIGHT_FILES[0]} and config.json; "
        f"nothing is downloaded)"
    )


def _blocks(state: Mapping[str, Any], tower: str) -> int:
    pat = re.compile(rf"{tower}\.encoder\.layers\.(\d+)\.")
    ids = {int(m.group(1)) for k in state if (m := pat.match(k))}
    return max(ids) + 1 if ids else 0


REQUIRED_KEYS = (
    "text_model.embeddings.token_embedding.weight",
    "text_model.embeddings.position_embedding.weight",
    "text_model.embeddings.position_embedding_res.weight",
    "vision_model.embeddings.patch_embedding.weight",
    "vision_model.embeddings.position_embedding.weight",
    "visual_projection.weight",
    "text_projection.weight",
    "text_filip_projection.weight",
)


def clip_config(
    state: Mapping[str, torch.Tensor], where: str, config_json: Path | None
) -> dict[str, Any]:
    """``{"text_config", "vision_config", "projection_dim"}`` for transformers' ``CLIPConfig``.

    Raises:
        DataError: one line naming the missing keys when the layout is not FG-CLIP's.
    """
    require_keys(state, REQUIRED_KEYS, where, "an FG-CLIP state dict")
    patch = state["vision_model.embeddings.patch_embedding.weight"]
    vw, ps = int(patch.shape[0]), int(patch.shape[-1])
    n_pos = int(state["vision_model.embeddings.position_embedding.weight"].shape[0]) - 1
    tok = state["text_model.embeddings.token_embedding.weight"]
    tw = int(tok.shape[1])
    text: dict[str, Any] = {
        "hidden_size": tw,
        "intermediate_size": int(state["text_model.encoder.layers.0.mlp.fc1.weight"].shape[0]),
        "num_attention_heads": max(1, tw // 64),
        "num_hidden_layers": _blocks(state, "text_model"),
        "vocab_size": int(tok.shape[0]),
        "max_position_embeddings": int(
            state["text_model.embeddings.position_embedding.weight"].shape[0]
        ),
        "hidden_act": "quick_gelu",
    }
    vision: dict[str, Any] = {
        "hidden_size": vw,
        "intermediate_size": int(state["vision_model.encoder.layers.0.mlp.fc1.weight"].shape[0]),
        "num_attention_heads": max(1, vw // 64),
        "num_hidden_layers": _blocks(state, "vision_model"),
        "patch_size": ps,
        "image_size": round(n_pos**0.5) * ps,
        "hidden_act": "quick_gelu",
    }
    if config_json is not None and (config_json / "config.json").is_file():
        try:
            raw = json.loads((config_json / "config.json").read_text())
        except ValueError as exc:
            raise DataError(f"{config_json / 'config.json'}: not JSON ({exc})") from None
        for ours, key in ((text, "text_config"), (vision, "vision_config")):
            given = raw.get(key) or {}
            for k in [*ours, "layer_norm_eps"]:
                if k in given:
                    ours[k] = given[k]
    text.update(eos_token_id=EOS_TOKEN, bos_token_id=EOS_TOKEN - 1, pad_token_id=EOS_TOKEN)
    return {
        "text_config": text,
        "vision_config": vision,
        "projection_dim": int(state["visual_projection.weight"].shape[0]),
    }


def build_fgclip(cfg: Mapping[str, Any], long_positions: int) -> Any:
    """A randomly initialised FG-CLIP in the released layout (transformers' CLIP + extras)."""
    import transformers
    from transformers import CLIPConfig, CLIPModel

    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]  # tiny vocabs
    try:
        model = CLIPModel(CLIPConfig(**cfg))
    finally:
        transformers.logging.set_verbosity(verbosity)
    width = int(cfg["text_config"]["hidden_size"])
    emb = model.text_model.embeddings
    emb.position_embedding_res = nn.Embedding(long_positions, width)
    emb.position_embedding_ori = nn.Embedding(long_positions, width)
    model.text_filip_projection = nn.Linear(width, int(cfg["projection_dim"]), bias=False)
    for name in EXTRA_PARAMS:
        setattr(model, name, nn.Parameter(torch.tensor(2.6592)))
    model.eval()  # type: ignore[no-untyped-call]
    return model


def load_fgclip(
    weights: Path, folder: Path | None, *, trust: bool = False
) -> tuple[Any, dict[str, Any], Any]:
    """Read an FG-CLIP checkpoint and load it strictly.

    Returns:
        The model (float32, CPU), its config dict and the checkpoint contents.

    Raises:
        DataError: for unreadable files and wrong layouts (one line naming keys).
    """
    from splitbench.models.base_model import load_state_strict
    from splitbench.models.checkpoint import read_checkpoint

    contents = read_checkpoint(weights, trust=trust)
    state = {k: v.float() if v.is_floating_point() else v for k, v in contents.state_dict.items()}
    cfg = clip_config(state, str(weights), folder)
    long = int(state["text_model.embeddings.position_embedding_res.weight"].shape[0])
    model = build_fgclip(cfg, long)
    load_state_strict(model, state, str(weights), layout=LAYOUT)
    return model, cfg, contents


class FGCLIPVideo:
    """FG-CLIP as a video-language model (see the module docstring).

    Args:
        arg: Checkpoint folder or weights file.
        options: Device, trust, batching.
    """

    family = "fgclip"

    def __init__(self, arg: str, options: VLMOptions | None = None) -> None:
        from open_clip.tokenizer import SimpleTokenizer

        options = options or VLMOptions()
        weights, folder = find_weights(arg)
        model, cfg, contents = load_fgclip(weights, folder, trust=options.trust)
        self.options = options
        self.device = torch.device(options.device)
        self.model: Any = model.to(self.device)
        self.cfg = cfg
        self.weights = weights
        self.sha256 = contents.sha256
        self.full_unpickle = contents.full_unpickle
        self.embed_dim = int(cfg["projection_dim"])
        self.input_size = int(cfg["vision_config"]["image_size"])
        self.context = int(cfg["text_config"]["max_position_embeddings"])
        self.mean, self.std = _normalisation(folder)
        self.spec = f"fgclip:{folder or weights}"
        self._tokenizer = SimpleTokenizer(context_length=self.context)

    def identity(self) -> dict[str, Any]:
        """Config, weights hash and the fixed choices (text path, pooling, normalisation)."""
        return {
            "name": "fgclip",
            "family": "fgclip",
            "weights": self.weights.name,
            "weights_sha256": self.sha256,
            "config": self.cfg,
            "text_path": f"short captions: {self.context} tokens, position_embedding, "
            "text_projection, first-EOT pooling",
            "frame_embeddings": "get_image_features, L2-normalised per frame, then mean-pooled",
            "pooling": "mean",
            "embed_dim": self.embed_dim,
            "input_size": self.input_size,
            "normalisation": {"mean": list(self.mean), "std": list(self.std)},
        }

    def text_identity(self) -> str:
        """The text tower's identity."""
        return f"fgclip-text:short{self.context}:sha256={self.sha256[:16]}"

    def default_views(self, base_eval: dict[str, Any] | None) -> VLMViews:
        """The base model's temporal sampling, each frame squashed to FG-CLIP's input size."""
        return VLMViews(
            frames=int((base_eval or {}).get("frames", 8)),
            sampler=str((base_eval or {}).get("sampler", "middle")),
            segments=int((base_eval or {}).get("segments", 1)),
            crops=1,
            resize="squash",
            size=self.input_size,
        )

    def _image_features(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.model.vision_model(pixel_values=x).pooler_output
        out: torch.Tensor = self.model.visual_projection(pooled)
        return out

    def encode_views(self, views: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Unit video embeddings ``(B, V, E)``: frame embeddings mean-pooled over time."""
        f = encode_frames(
            views, self._image_features, self.mean, self.std, self.options.image_batch, dtype
        )
        return pool_frames(f, "mean")

    def encode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token ids ``(n, context)`` → raw short-path text embeddings ``(n, E)``."""
        pooled = self.model.text_model(input_ids=tokens).pooler_output
        out: torch.Tensor = self.model.text_projection(pooled)
        return out

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Raw text embeddings."""
        return embed_texts(
            texts, lambda t: self.encode_tokens(self._tokenizer(t).to(self.device)), self.embed_dim
        )


def _normalisation(folder: Path | None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std from ``preprocessor_config.json`` when present, else CLIP's."""
    if folder is not None and (folder / "preprocessor_config.json").is_file():
        raw = json.loads((folder / "preprocessor_config.json").read_text())
        mean, std = raw.get("image_mean", CLIP_MEAN), raw.get("image_std", CLIP_STD)
        return tuple(float(x) for x in mean), tuple(float(x) for x in std)
    return CLIP_MEAN, CLIP_STD


def build_fgclip_vlm(arg: str, options: VLMOptions) -> FGCLIPVideo:
    """Registry factory: ``fgclip:<checkpoint folder or weights file>``."""
    return FGCLIPVideo(arg, options)
