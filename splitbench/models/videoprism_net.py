"""VideoPrism-LvT in PyTorch, holding the released Flax arrays under their own names.

A port of ``FactorizedVideoCLIP`` (google-deepmind/videoprism, ``encoders.py`` and
``layers.py``) for inference. Every parameter keeps the name and the shape it has in the
released ``flax_lvt_*_repeated.npz`` (``params/`` dropped, ``/`` → ``.``), including the
stacked ("repeated", ``nn.scan``) layer axis, so loading is a strict name-and-shape match with
no renaming. :func:`expected_shapes` is the architecture: what a checkpoint of a given
:class:`VideoPrismConfig` must hold.

What the forward reproduces, all from the Flax code:

* patches: each frame cut into ``p × p`` patches, row-major, flattened in ``(p, q, c)`` order,
  then ``patch_projection``; learned spatial table added; ``spatial_encoder`` over each
  frame's patches, ``spatial_ln``; per patch position, the learned temporal table and the
  ``temporal_encoder`` over frames, ``temporal_ln``; tokens in ``(t, n)`` order;
  ``auxiliary_encoder`` over all tokens; ``contrastive_vision_pooler`` (one learned query,
  ``per_dim_scale`` query scaling, layer norm); L2 normalisation (ε = 1e-12 under the root).
* transformer layers: ``pre`` norm; attention with query scaling ``(D / heads)^-½``,
  logits capped by ``50 · tanh(logits / 50)``, masked logits set to ``-0.7 · float32 max``;
  exact GELU (vision) or ReLU (text) MLP; layer norms ``(x − μ) / √(σ² + 1e-6) · (1 + scale)
  + bias``; padded positions' MLP outputs zeroed.
* text: token embeddings × √D plus a sinusoidal table (timescales 1 … 10⁴, ``[sin | cos]``);
  a learned class token × √D appended after the (padded) tokens; causal attention merged
  with the padding mask as ``_merge_masks`` does; ``unimodal_ln``; the class token's output.

Not ported (refused with a message rather than approximated): interpolation of the position
tables to other frame counts or input sizes (``jax.image.resize``), frame paddings, norm
policies other than ``pre`` (only the unreleased giant model uses another).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from splitbench.errors import ConfigError, DataError

LOGIT_CAP = 50.0  # atten_logit_cap of every released VideoPrism config (models.py CONFIGS)
LN_EPS = 1e-6
_NEG = -0.7 * torch.finfo(torch.float32).max


@dataclass(frozen=True)
class VideoPrismConfig:
    """Shape of a VideoPrism-LvT model (defaults: ``videoprism_lvt_public_v1_base``).

    Attributes:
        patch_size: Spatial patch side.
        frames: Length of the temporal position table.
        grid: Patches per side (spatial table is ``grid²`` long).
        model_dim: Width D.
        heads: Attention heads.
        mlp_dim: Hidden width of the vision MLPs.
        spatial_layers: Spatial encoder layers.
        temporal_layers: Temporal encoder layers.
        auxiliary_layers: Auxiliary encoder layers.
        text_layers: Text (unimodal) layers; their MLPs are ``4 D`` wide.
        vocab_size: Text vocabulary.
    """

    patch_size: int = 18
    frames: int = 16
    grid: int = 16
    model_dim: int = 768
    heads: int = 12
    mlp_dim: int = 3072
    spatial_layers: int = 12
    temporal_layers: int = 4
    auxiliary_layers: int = 2
    text_layers: int = 12
    vocab_size: int = 32_000

    @property
    def image_size(self) -> int:
        """Input side in pixels."""
        return self.patch_size * self.grid


VIDEOPRISM_LVT_BASE = VideoPrismConfig()
VIDEOPRISM_LVT_LARGE = VideoPrismConfig(
    frames=8, model_dim=1024, heads=16, mlp_dim=4096, spatial_layers=24
)


def _layer_shapes(prefix: str, n: int, d: int, heads: int, mlp: int) -> dict[str, tuple[int, ...]]:
    h = d // heads
    x = f"{prefix}.x_layers"
    out: dict[str, tuple[int, ...]] = {
        f"{x}.layer_norm.scale": (n, d),
        f"{x}.layer_norm.bias": (n, d),
        f"{x}.ff_layer.layer_norm.scale": (n, d),
        f"{x}.ff_layer.layer_norm.bias": (n, d),
        f"{x}.ff_layer.ffn_layer1.linear.kernel": (n, d, mlp),
        f"{x}.ff_layer.ffn_layer1.linear.bias": (n, mlp),
        f"{x}.ff_layer.ffn_layer2.linear.kernel": (n, mlp, d),
        f"{x}.ff_layer.ffn_layer2.linear.bias": (n, d),
        f"{x}.self_attention.post.w": (n, d, heads, h),
        f"{x}.self_attention.post.b": (n, d),
    }
    for p in ("query", "key", "value"):
        out[f"{x}.self_attention.{p}.w"] = (n, d, heads, h)
        out[f"{x}.self_attention.{p}.b"] = (n, heads, h)
    return out


def expected_shapes(
    cfg: VideoPrismConfig, *, text_only: bool = False
) -> dict[str, tuple[int, ...]]:
    """Every parameter of a released LvT checkpoint of shape ``cfg``: name → shape."""
    d, n = cfg.model_dim, cfg.heads
    out: dict[str, tuple[int, ...]] = {
        "text_encoder.cls_emb": (1, 1, d),
        "text_encoder.token_emb.emb_var": (cfg.vocab_size, d),
        "text_encoder.unimodal_ln.scale": (d,),
        "text_encoder.unimodal_ln.bias": (d,),
        **_layer_shapes("text_encoder.unimodal_transformer", cfg.text_layers, d, n, 4 * d),
    }
    if text_only:
        return out
    v = "vision_encoder"
    out.update(
        {
            f"{v}.patch_projection.linear.kernel": (cfg.patch_size**2 * 3, d),
            f"{v}.patch_projection.linear.bias": (d,),
            f"{v}.spatial_pos_emb.emb_var": (cfg.grid**2, d),
            f"{v}.temporal_pos_emb.emb_var": (cfg.frames, d),
            f"{v}.spatial_ln.scale": (d,),
            f"{v}.spatial_ln.bias": (d,),
            f"{v}.temporal_ln.scale": (d,),
            f"{v}.temporal_ln.bias": (d,),
        }
    )
    for prefix, layers in (
        (f"{v}.spatial_encoder.transformers_stack", cfg.spatial_layers),
        (f"{v}.temporal_encoder.transformers_stack", cfg.temporal_layers),
        ("auxiliary_encoder.transformers_stack", cfg.auxiliary_layers),
    ):
        out.update(_layer_shapes(prefix, layers, d, n, cfg.mlp_dim))
    pool, ph = "contrastive_vision_pooler", 4 * d // n
    out[f"{pool}.pooling_attention_query"] = (1, d)
    out[f"{pool}.pooling_attention.per_dim_scale.per_dim_scale"] = (ph,)
    out[f"{pool}.pooling_attention.post.w"] = (d, n, ph)
    out[f"{pool}.pooling_attention.post.b"] = (d,)
    for p in ("query", "key", "value"):
        out[f"{pool}.pooling_attention.{p}.w"] = (d, n, ph)
        out[f"{pool}.pooling_attention.{p}.b"] = (n, ph)
    out[f"{pool}.pooling_attention_layer_norm.scale"] = (d,)
    out[f"{pool}.pooling_attention_layer_norm.bias"] = (d,)
    return out


def infer_config(state: Mapping[str, torch.Tensor], where: str) -> VideoPrismConfig:
    """Read the shape of a checkpoint from its arrays.

    Raises:
        DataError: one line naming the missing arrays when it is not an LvT checkpoint.
    """
    need = (
        "text_encoder.token_emb.emb_var",
        "text_encoder.unimodal_transformer.x_layers.self_attention.query.w",
        "vision_encoder.patch_projection.linear.kernel",
        "vision_encoder.spatial_pos_emb.emb_var",
        "vision_encoder.temporal_pos_emb.emb_var",
        "vision_encoder.spatial_encoder.transformers_stack.x_layers.ff_layer.ffn_layer1.linear.kernel",
        "vision_encoder.temporal_encoder.transformers_stack.x_layers.layer_norm.scale",
        "auxiliary_encoder.transformers_stack.x_layers.layer_norm.scale",
    )
    missing = [k for k in need if k not in state]
    if missing:
        hint = ""
        if any(
            k.startswith("spatial_encoder.") or k.startswith("patch_projection.") for k in state
        ):
            hint = " (this is a VideoPrism video-only encoder, which has no text tower)"
        raise DataError(
            f"{where}: not a VideoPrism-LvT checkpoint in the released layout: missing "
            f"params/{missing[0].replace('.', '/')}"
            f"{f' (+{len(missing) - 1} more)' if len(missing) > 1 else ''}{hint}"
        )
    q = state["text_encoder.unimodal_transformer.x_layers.self_attention.query.w"]
    vs = "vision_encoder.spatial_encoder.transformers_stack.x_layers.ff_layer.ffn_layer1.linear"
    vt = "vision_encoder.temporal_encoder.transformers_stack.x_layers.layer_norm.scale"
    rows = int(state["vision_encoder.patch_projection.linear.kernel"].shape[0])
    return VideoPrismConfig(
        patch_size=round(math.sqrt(rows / 3)),
        frames=int(state["vision_encoder.temporal_pos_emb.emb_var"].shape[0]),
        grid=round(math.sqrt(int(state["vision_encoder.spatial_pos_emb.emb_var"].shape[0]))),
        model_dim=int(q.shape[1]),
        heads=int(q.shape[2]),
        mlp_dim=int(state[f"{vs}.kernel"].shape[-1]),
        spatial_layers=int(state[f"{vs}.kernel"].shape[0]),
        temporal_layers=int(state[vt].shape[0]),
        auxiliary_layers=int(
            state["auxiliary_encoder.transformers_stack.x_layers.layer_norm.scale"].shape[0]
        ),
        text_layers=int(q.shape[0]),
        vocab_size=int(state["text_encoder.token_emb.emb_var"].shape[0]),
    )


class _Tree(nn.Module):
    """A module tree whose parameters carry the checkpoint's dotted names."""

    def __init__(self, shapes: Mapping[str, tuple[int, ...]]) -> None:
        super().__init__()
        for name, shape in shapes.items():
            *path, leaf = name.split(".")
            node: nn.Module = self
            for part in path:
                if not hasattr(node, part):
                    node.add_module(part, nn.Module())
                node = getattr(node, part)
            node.register_parameter(leaf, nn.Parameter(torch.zeros(shape)))


def _ln(x: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    mean = x.mean(-1, keepdim=True)
    var = (x - mean).square().mean(-1, keepdim=True)
    return (x - mean) * torch.rsqrt(var + LN_EPS) * (1.0 + scale) + bias


def _attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, cap: float
) -> torch.Tensor:
    """``q (B,T,N,H)``, ``k, v (B,S,N,H)``, keep-mask broadcastable to ``(B,N,T,S)``."""
    logits = torch.einsum("btnh,bsnh->bnts", q, k)
    if cap > 0:
        logits = cap * torch.tanh(logits / cap)
    if mask is not None:
        logits = logits.masked_fill(~mask, _NEG)
    return torch.einsum("bnts,bsnh->btnh", torch.softmax(logits, dim=-1), v)


def _stack(
    node: Any, x: torch.Tensor, mask: torch.Tensor | None, pad: torch.Tensor | None, act: str
) -> torch.Tensor:
    """The stacked (scanned) transformer layers of ``node.x_layers`` over ``x (B, T, D)``."""
    p = node.x_layers
    att, ff = p.self_attention, p.ff_layer
    keep = None if pad is None else (1.0 - pad)[..., None]
    for i in range(p.layer_norm.scale.shape[0]):
        h = _ln(x, p.layer_norm.scale[i], p.layer_norm.bias[i])
        q, k, v = (
            torch.einsum("btd,dnh->btnh", h, getattr(att, n).w[i]) + getattr(att, n).b[i]
            for n in ("query", "key", "value")
        )
        q = q * (x.shape[-1] // q.shape[-2]) ** -0.5
        enc = _attend(q, k, v, mask, LOGIT_CAP)
        x = x + torch.einsum("btnh,dnh->btd", enc, att.post.w[i]) + att.post.b[i]
        h = _ln(x, ff.layer_norm.scale[i], ff.layer_norm.bias[i])
        h = h @ ff.ffn_layer1.linear.kernel[i] + ff.ffn_layer1.linear.bias[i]
        h = F.gelu(h) if act == "gelu" else F.relu(h)
        if keep is not None:
            h = h * keep
        h = h @ ff.ffn_layer2.linear.kernel[i] + ff.ffn_layer2.linear.bias[i]
        x = x + (h if keep is None else h * keep)
    return x


def sinusoid(length: int, dim: int) -> torch.Tensor:
    """The text encoder's fixed position table ``(length, dim)`` (``PositionalEmbedding``)."""
    half = dim // 2
    inc = math.log(10_000.0) / max(half - 1, 1)
    inv = torch.exp(torch.arange(half, dtype=torch.float32) * -inc)
    t = torch.arange(length, dtype=torch.float32)[:, None] * inv[None]
    return F.pad(torch.cat([torch.sin(t), torch.cos(t)], dim=-1), (0, dim % 2))


class VideoPrismLvT(_Tree):
    """The whole LvT model (see the module docstring).

    Args:
        cfg: The shape.
        text_only: Hold only the text tower.
    """

    def __init__(self, cfg: VideoPrismConfig, *, text_only: bool = False) -> None:
        super().__init__(expected_shapes(cfg, text_only=text_only))
        self.cfg = cfg
        self.text_only = text_only

    def _node(self, name: str) -> Any:
        return getattr(self, name)

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """``(B, T, H, W, 3)`` floats in [0, 1] → unit embeddings ``(B, D)``."""
        if self.text_only:
            raise ConfigError("this VideoPrism was built text-only")
        cfg, v = self.cfg, self._node("vision_encoder")
        b, t, hh, ww, c = video.shape
        if (t, hh, ww) != (cfg.frames, cfg.image_size, cfg.image_size):
            raise ConfigError(
                f"VideoPrism takes {cfg.frames} frames of {cfg.image_size}² pixels (the sizes "
                f"of its position tables; their interpolation is not ported), got {t} × {hh}×{ww}"
            )
        p, g = cfg.patch_size, cfg.grid
        x = video.reshape(b * t, g, p, g, p, c).permute(0, 1, 3, 2, 4, 5).reshape(b * t, g * g, -1)
        x = x @ v.patch_projection.linear.kernel + v.patch_projection.linear.bias
        x = x + v.spatial_pos_emb.emb_var
        x = _stack(v.spatial_encoder.transformers_stack, x, None, None, "gelu")
        x = _ln(x, v.spatial_ln.scale, v.spatial_ln.bias)
        n, d = g * g, cfg.model_dim
        x = x.reshape(b, t, n, d).transpose(1, 2).reshape(b * n, t, d)
        x = x + v.temporal_pos_emb.emb_var
        x = _stack(v.temporal_encoder.transformers_stack, x, None, None, "gelu")
        x = _ln(x, v.temporal_ln.scale, v.temporal_ln.bias)
        x = x.reshape(b, n, t, d).transpose(1, 2).reshape(b, t * n, d)
        x = _stack(self._node("auxiliary_encoder").transformers_stack, x, None, None, "gelu")
        return _l2(self._pool(x))

    def _pool(self, tokens: torch.Tensor) -> torch.Tensor:
        pool = self._node("contrastive_vision_pooler")
        att = pool.pooling_attention
        query = pool.pooling_attention_query.expand(tokens.shape[0], -1, -1)  # (B, 1, D)
        q = torch.einsum("btd,dnh->btnh", query, att.query.w) + att.query.b
        k = torch.einsum("bsd,dnh->bsnh", tokens, att.key.w) + att.key.b
        val = torch.einsum("bsd,dnh->bsnh", tokens, att.value.w) + att.value.b
        dim = q.shape[-1]
        q = q * (1.442695041 / math.sqrt(dim)) * F.softplus(att.per_dim_scale.per_dim_scale)
        enc = _attend(q, k, val, None, 0.0)
        out = torch.einsum("btnh,dnh->btd", enc, att.post.w) + att.post.b
        ln = pool.pooling_attention_layer_norm
        return _ln(out, ln.scale, ln.bias)[:, 0]

    def encode_text(self, ids: torch.Tensor, paddings: torch.Tensor) -> torch.Tensor:
        """Token ids ``(B, L)`` and paddings (1 = pad) → unit embeddings ``(B, D)``."""
        te, d = self._node("text_encoder"), self.cfg.model_dim
        b, length = ids.shape
        x = te.token_emb.emb_var[ids] * d**0.5 + sinusoid(length, d).to(ids.device)
        x = torch.cat([x, (te.cls_emb * d**0.5).expand(b, -1, -1)], dim=1)
        pad = torch.cat([paddings.float(), paddings.new_zeros((b, 1)).float()], dim=1)
        real = pad < 0.5  # (B, L+1)
        both = real[:, None, :, None] & real[:, None, None, :]  # padded queries see nothing
        causal = torch.ones(length + 1, length + 1, dtype=torch.bool, device=ids.device).tril()
        x = _stack(te.unimodal_transformer, x, both & causal, pad, "relu")
        x = _ln(x, te.unimodal_ln.scale, te.unimodal_ln.bias)
        return _l2(x[:, -1])


def _l2(x: torch.Tensor) -> torch.Tensor:
    out: torch.Tensor = x / torch.sqrt((x * x).sum(-1, keepdim=True) + 1e-12)
    return out


def flax_names(arrays: Mapping[str, object], where: str) -> dict[str, object]:
    """``params/a/b`` → ``a.b`` for every array of a released ``.npz``.

    Raises:
        DataError: for arrays outside ``params/`` (not a Flax variables file).
    """
    bad = [k for k in arrays if not re.match(r"^params/", k)]
    if bad:
        raise DataError(
            f"{where}: array {bad[0]!r} is not under params/ (expected the released Flax "
            f"variables, e.g. flax_lvt_base_f16r288_repeated.npz)"
        )
    return {k.removeprefix("params/").replace("/", "."): v for k, v in arrays.items()}
