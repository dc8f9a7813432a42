"""CLIP as a video encoder through open_clip: per-frame image embeddings pooled over time.

Spec (after ``clip:``): ``<open_clip model>/<pretrained>``, where ``<pretrained>`` is

* a pretrained tag (``openai``, ``laion2b_s34b_b88k``, ...): its weights are looked up in the
  local Hugging Face cache, where open_clip would have put them; nothing is downloaded;
* ``<tag>=<file>``: the tag's weights in a local file (the tag still sets QuickGELU and is
  recorded);
* a local weights file (an open_clip state dict: ``.bin``, ``.pt`` or ``.safetensors``);
  use a ``-quickgelu`` model name for OpenAI weights (``ViT-L-14-quickgelu``).

For paper parity use ``clip:ViT-L-14/openai``: the tag's config turns on QuickGELU (open_clip
only warns when ``ViT-L-14`` is built without it).

Weights are read weights-only first (:mod:`splitbench.models.checkpoint`) and loaded
strictly; a wrong layout is a one-line error naming the keys.

Video embedding (per view): the ``T`` frames ``(T, H, W, 3)`` become ``T`` images
``(3, H, W)`` — channels taken from the last axis, frames from the time axis, which the
released cascade scrambled by reshaping ``(B, C, T, H, W)`` without a permute — each is
encoded with ``encode_image`` and L2-normalised, the frame embeddings are pooled over time
(``mean``, or ``attention``: weights ``softmax_t(τ·cos(f_t, f̄))`` with τ = 10 around the
normalised mean f̄) and the result is L2-normalised. Mean pooling is invariant to frame
order, so CLIP cannot tell a video from its time reversal; ViCLIP can.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitbench.errors import ConfigError, DataError
from splitbench.models.vlm import VLMOptions, embed_texts, encode_in_steps, l2_normalise
from splitbench.video.vlm_views import VLMViews

POOLINGS = ("mean", "attention")
ATTENTION_TEMPERATURE = 10.0


def resolve_clip_weights(model_name: str, pretrained: str) -> tuple[Path, str | None, bool]:
    """``(weights file, pretrained tag or None, quick_gelu)`` for a spec's pretrained part.

    Raises:
        ConfigError: when the model is unknown, or a tag's weights are not in the local cache.
    """
    import open_clip

    if model_name not in open_clip.list_models():
        raise ConfigError(
            f"clip:{model_name}: not an open_clip model (see open_clip.list_models(); tiny test "
            f"models can be added with open_clip.add_model_config)"
        )
    tags = set(open_clip.list_pretrained_tags_by_model(model_name))
    tag: str | None = None
    path: str | None = None
    head, sep, rest = pretrained.partition("=")
    if sep and head in tags:
        tag, path = head, rest
    elif pretrained in tags:
        tag = pretrained
    else:
        path = pretrained
    quick_gelu = model_name.endswith("-quickgelu")
    if tag is not None:
        cfg = open_clip.get_pretrained_cfg(model_name, tag)
        quick_gelu = quick_gelu or bool(cfg.get("quick_gelu", False))
        if path is None:
            return _cached_tag_file(model_name, tag, cfg), tag, quick_gelu
    assert path is not None
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(
            f"clip:{model_name}/{pretrained}: {file} is neither a pretrained tag of {model_name} "
            f"({', '.join(sorted(tags)[:4]) or 'none'}{', ...' if len(tags) > 4 else ''}) nor "
            f"an existing weights file"
        )
    return file.resolve(), tag, quick_gelu


def _cached_tag_file(model_name: str, tag: str, cfg: dict[str, Any]) -> Path:
    from huggingface_hub import try_to_load_from_cache
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    hub = str(cfg.get("hf_hub") or "")
    repo, fname = os.path.split(hub.rstrip("/")) if hub.count("/") > 1 else (hub.rstrip("/"), "")
    names = [fname] if fname else [HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME]
    for name in names if repo else []:
        found = try_to_load_from_cache(repo, name)
        if isinstance(found, str) and Path(found).is_file():
            return Path(found)
    where = f"Hugging Face repo {repo}" if repo else f"{cfg.get('url', 'its URL')}"
    raise ConfigError(
        f"clip:{model_name}/{tag}: the weights ({where}) are not in the local cache and "
        f"splitbench never downloads; pass a local file as clip:{model_name}/{tag}=/path/to/"
        f"{names[-1]}"
    )


class OpenClipVideo:
    """An open_clip model used as a video encoder (see the module docstring).

    Args:
        model_name: open_clip architecture.
        pretrained: Tag, ``tag=file`` or file.
        options: Device, pooling, batching, trust.
        quick_gelu: Force QuickGELU on or off (default: from the tag, the model name or a
            merged file's manifest).
        model_kwargs: Config overrides for ``open_clip.create_model`` (tests only).

    A file written by ``splitbench vlm merge`` (:mod:`splitbench.models.merge`) makes the
    family ``merged-clip`` and puts the merge's manifest into :meth:`identity`.
    """

    family = "clip"

    def __init__(
        self,
        model_name: str,
        pretrained: str,
        options: VLMOptions | None = None,
        *,
        quick_gelu: bool | None = None,
        **model_kwargs: Any,
    ) -> None:
        import open_clip

        from splitbench.models.base_model import load_state_strict
        from splitbench.models.checkpoint import read_checkpoint
        from splitbench.models.merge_manifest import merge_identity, read_manifest

        options = options or VLMOptions()
        if options.pooling not in POOLINGS:
            raise ConfigError(f"--pooling {options.pooling!r}: expected mean or attention")
        weights, tag, implied_quick_gelu = resolve_clip_weights(model_name, pretrained)
        merge = read_manifest(weights)
        if merge is not None:
            if merge.model != model_name:
                raise ConfigError(
                    f"{weights}: merged {merge.model} weights, not {model_name} (use "
                    f"merged-clip:{weights})"
                )
            implied_quick_gelu = merge.quick_gelu
        quick_gelu = implied_quick_gelu if quick_gelu is None else quick_gelu
        model = build_open_clip(model_name, quick_gelu, **model_kwargs)
        contents = read_checkpoint(weights, trust=options.trust)
        state = {
            k: v.float() if v.is_floating_point() else v for k, v in contents.state_dict.items()
        }
        load_state_strict(model, state, str(weights), layout=f"open_clip {model_name}")
        if options.text_only:
            model.visual = None
        model.eval().to(options.device)
        self._model = model
        self._tokenizer = open_clip.get_tokenizer(model_name)
        self.options = options
        self.device = torch.device(options.device)
        self.model_name = model_name
        self.tag = tag
        self.quick_gelu = quick_gelu
        self.weights = weights
        self.sha256 = contents.sha256
        self.full_unpickle = contents.full_unpickle
        self.embed_dim = int(model.text_projection.shape[-1])
        pp = dict(getattr(model.visual, "preprocess_cfg", {}) or {}) if model.visual else {}
        size = pp.get("size", 224)
        self.input_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        self.mean = tuple(float(x) for x in pp.get("mean", (0.48145466, 0.4578275, 0.40821073)))
        self.std = tuple(float(x) for x in pp.get("std", (0.26862954, 0.26130258, 0.27577711)))
        self._kwargs = {k: model_kwargs[k] for k in sorted(model_kwargs)}
        target = f"{tag}={weights}" if tag else str(weights)
        self.spec = f"clip:{model_name}/{tag if tag and pretrained == tag else target}"
        self.merge = merge_identity(merge) if merge is not None else None
        if merge is not None:
            self.family = "merged-clip"
            self.spec = f"merged-clip:{weights}"

    def identity(self) -> dict[str, Any]:
        """Architecture, weights hash, QuickGELU, pooling and normalisation."""
        import open_clip

        out: dict[str, Any] = {
            "name": "clip",
            "family": "clip",
            "model": self.model_name,
            "pretrained": self.tag,
            "weights": self.weights.name,
            "weights_sha256": self.sha256,
            "quick_gelu": self.quick_gelu,
            "pooling": self.options.pooling,
            "frame_embeddings": "encode_image, L2-normalised per frame, then pooled",
            "embed_dim": self.embed_dim,
            "input_size": self.input_size,
            "normalisation": {"mean": list(self.mean), "std": list(self.std)},
            "open_clip": open_clip.__version__,
        }
        if self.options.pooling == "attention":
            out["attention_temperature"] = ATTENTION_TEMPERATURE
        if self.merge is not None:
            out["family"] = self.family
            out["merge"] = self.merge
        if self._kwargs:
            out["model_kwargs"] = _jsonable(self._kwargs)
        return out

    def text_identity(self) -> str:
        """The text tower's identity."""
        extra = f":{_jsonable(self._kwargs)}" if self._kwargs else ""
        return (
            f"clip-text:{self.model_name}:quick_gelu={self.quick_gelu}:"
            f"sha256={self.sha256[:16]}{extra}"
        )

    def default_views(self, base_eval: dict[str, Any] | None) -> VLMViews:
        """CLIP's views: the base model's evaluation views at CLIP's input size.

        This is parity with the released cascade; without a base store, 8 middle frames of
        one centre crop.
        """
        if base_eval:
            short = int(base_eval.get("short_side", self.input_size))
            return VLMViews(
                frames=int(base_eval.get("frames", 16)),
                sampler=str(base_eval.get("sampler", "mvd")),
                segments=int(base_eval.get("segments", 1)),
                crops=int(base_eval.get("crops", 1)),
                resize="short-side",
                size=self.input_size,
                short_side=max(short, self.input_size),
            )
        return VLMViews(
            frames=8,
            sampler="middle",
            resize="short-side",
            size=self.input_size,
            short_side=self.input_size,
        )

    def frame_embeddings(self, views: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """``(B, V, T, H, W, 3)`` uint8 → unit frame embeddings ``(B, V, T, E)``."""
        if self._model.visual is None:
            raise ConfigError("this CLIP was built text-only")
        return encode_frames(
            views, self._model.encode_image, self.mean, self.std, self.options.image_batch, dtype
        )

    def encode_views(self, views: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Unit video embeddings ``(B, V, E)``: frame embeddings pooled over time."""
        f = self.frame_embeddings(views, dtype)
        return pool_frames(f, self.options.pooling)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Raw ``encode_text`` embeddings."""
        return embed_texts(
            texts,
            lambda t: self._model.encode_text(self._tokenizer(t).to(self.device)),
            self.embed_dim,
        )


def encode_frames(
    views: torch.Tensor,
    encode_image: Callable[[torch.Tensor], torch.Tensor],
    mean: Sequence[float],
    std: Sequence[float],
    batch: int,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Per-frame image embeddings of views: ``(B, V, T, H, W, 3)`` uint8 → ``(B, V, T, E)`` unit.

    Every frame becomes an image ``(3, H, W)`` (channels from the last axis, frames from the
    time axis), normalised with ``mean``/``std`` on [0, 1] pixels and encoded ``batch`` at a
    time under autocast to ``dtype``.
    """
    b, v, t, h, w, c = views.shape
    if c != 3:
        raise ConfigError(f"expected RGB views with channels last, got shape {tuple(views.shape)}")
    images = views.reshape(b * v * t, h, w, c).permute(0, 3, 1, 2)  # (N, 3, H, W)
    m = torch.tensor(mean, device=images.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=images.device).view(1, 3, 1, 1)
    out = encode_in_steps(
        images, batch, lambda x: encode_image(x.float().div_(255.0).sub_(m).div_(s)), dtype
    )
    return l2_normalise(out).reshape(b, v, t, -1)


def build_open_clip(model_name: str, quick_gelu: bool, **model_kwargs: Any) -> Any:
    """A randomly initialised open_clip model (weights are loaded next, strictly)."""
    import open_clip

    root = logging.getLogger()
    was = root.disabled
    root.disabled = True  # open_clip warns about pretrained=None; the weights come next
    try:
        model = open_clip.create_model(
            model_name, pretrained=None, force_quick_gelu=quick_gelu, **model_kwargs
        )
    finally:
        root.disabled = was
    return model


def pool_frames(frames: torch.Tensor, pooling: str = "mean") -> torch.Tensor:
    """Pool unit frame embeddings ``(..., T, E)`` over time into unit vectors ``(..., E)``."""
    mean = frames.mean(-2)
    if pooling == "attention":
        centre = l2_normalise(mean)
        weights = torch.softmax(
            ATTENTION_TEMPERATURE * (frames * centre.unsqueeze(-2)).sum(-1), dim=-1
        )
        mean = (weights.unsqueeze(-1) * frames).sum(-2)
    elif pooling != "mean":
        raise ConfigError(f"pooling {pooling!r}: expected mean or attention")
    return l2_normalise(mean)


def build_clip(arg: str, options: VLMOptions) -> OpenClipVideo:
    """Registry factory: ``<model>/<pretrained>``."""
    model_name, sep, pretrained = arg.partition("/")
    if not sep or not model_name or not pretrained:
        raise ConfigError(
            f"clip:{arg}: expected clip:<open_clip model>/<pretrained tag or weights file>, "
            f"e.g. clip:ViT-L-14/openai"
        )
    try:
        return OpenClipVideo(model_name, pretrained, options)
    except DataError:
        raise
    except RuntimeError as exc:  # open_clip/torch shape errors from a wrong model name
        raise DataError(f"clip:{arg}: {str(exc).splitlines()[0][:300]}") from None


def _jsonable(obj: Any) -> Any:
    import json

    return json.loads(json.dumps(obj, default=str))
