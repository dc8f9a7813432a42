"""Build the base classifier from a released checkpoint, strictly.

The shape comes from the checkpoint itself (width, depth, tubelet, patch, MLP width, head
size, pooling, class token) plus what weights cannot tell: the number of attention heads,
the input frames and size. Those come from the file's ``args`` namespace when it has one
(``args.model`` names the size, e.g. ``vit_small_patch16_224`` → 6 heads; ``num_frames``;
``input_size``), else from explicit overrides, else from the released defaults (16 frames of
224², head width 64). Loading is strict: any missing or unexpected key or shape mismatch is a
one-line :class:`~splitbench.errors.DataError` that names them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from splitbench.errors import ConfigError, DataError
from splitbench.models.checkpoint import CheckpointContents, read_checkpoint
from splitbench.models.vit import VideoViT, ViTConfig

MODEL_NAME = "mvd-vit"
HEADS_BY_SIZE = {"small": 6, "base": 12, "large": 16, "huge": 16}
_LIST = 4  # names shown per error list


@dataclass(frozen=True)
class ModelOverrides:
    """What the user may state because weights cannot tell it (None = infer).

    Attributes:
        num_heads: Attention heads.
        num_frames: Input frames.
        img_size: Input side.
        pos_embed: ``mvd-3d`` (MVD checkpoints, default) or ``videomae-1d``.
    """

    num_heads: int | None = None
    num_frames: int | None = None
    img_size: int | None = None
    pos_embed: str = "mvd-3d"


@dataclass
class BaseModel:
    """A loaded base classifier.

    Attributes:
        model: The ViT in eval mode on the CPU.
        config: Its shape.
        checkpoint: What was read from the file.
    """

    model: VideoViT
    config: ViTConfig
    checkpoint: CheckpointContents

    def head(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The classification head ``(weight (C, D), bias (C,))`` as float32 copies."""
        assert self.model.head is not None
        return (
            self.model.head.weight.detach().float().clone(),
            self.model.head.bias.detach().float().clone(),
        )

    def identity(self) -> dict[str, Any]:
        """What identifies the model's features (part of the feature store's key)."""
        ck = self.checkpoint
        return {
            "name": MODEL_NAME,
            "architecture": self.config.record(),
            "checkpoint": ck.path.name,
            "checkpoint_sha256": ck.sha256,
            "container": ck.container,
            "args_model": str(ck.args.get("model", "")),
        }

    def check_head(self, num_labels: int, subset: str, others: Mapping[str, int]) -> None:
        """Check that the head has one row per label of ``subset``'s labels.json.

        Args:
            num_labels: Labels in the subset.
            subset: Its name, e.g. ``ssv2-split/A`` (for the message).
            others: Other subsets' label counts, to hint at a mix-up.

        Raises:
            DataError: naming both sizes.
        """
        rows = self.config.num_classes
        if rows == num_labels:
            return
        hint = [f"subset {name} has {n}" for name, n in others.items() if n == rows]
        raise DataError(
            f"{self.checkpoint.path}: the checkpoint's head has {rows} classes but {subset} "
            f"labels.json has {num_labels}"
            + (f" ({'; '.join(hint)}: wrong --subset?)" if hint else "")
            + "; use the base model fine-tuned on this subset"
        )


def infer_config(
    state: Mapping[str, torch.Tensor],
    args: Mapping[str, Any],
    overrides: ModelOverrides,
    where: str,
) -> ViTConfig:
    """Work out the ViT shape from a state dict, the training args and overrides.

    Raises:
        DataError: when the state dict is not a fine-tuned MVD/VideoMAE ViT.
        ConfigError: when the head count cannot be inferred and was not given.
    """
    pe = state.get("patch_embed.proj.weight")
    if pe is None or pe.ndim != 5:
        raise DataError(
            f"{where}: no 5-D 'patch_embed.proj.weight'; not an MVD/VideoMAE video ViT "
            f"(first keys: {', '.join(list(state)[:_LIST])})"
        )
    if _is_pretraining(state):
        raise DataError(
            f"{where}: looks like a pre-training checkpoint (it has "
            f"{_first([k for k in state if k.startswith(('decoder', 'pos_embed', 'mask_token'))])}"
            f"); extraction needs the fine-tuned base classifier"
        )
    dim, _, tubelet, patch, _ = (int(x) for x in pe.shape)
    block_ids = {int(m.group(1)) for k in state if (m := re.match(r"blocks\.(\d+)\.", k))}
    depth = max(block_ids) + 1 if block_ids else 0
    fc1 = state.get("blocks.0.mlp.fc1.weight")
    head = state.get("head.weight", state.get("head.bias"))
    cfg = ViTConfig(
        img_size=overrides.img_size or int(args.get("input_size") or 224),
        patch_size=patch,
        num_frames=overrides.num_frames or int(args.get("num_frames") or 16),
        tubelet_size=tubelet,
        embed_dim=dim,
        depth=depth,
        num_heads=overrides.num_heads or _heads(dim, str(args.get("model") or ""), where),
        mlp_hidden=int(fc1.shape[0]) if fc1 is not None else 4 * dim,
        num_classes=int(head.shape[0]) if head is not None and head.ndim >= 1 else 0,
        qkv_bias="blocks.0.attn.q_bias" in state,
        use_mean_pooling="norm.weight" not in state,
        use_cls_token="cls_token" in state,
        pos_embed=overrides.pos_embed,
    )
    try:
        cfg.check()
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return cfg


def _is_pretraining(state: Mapping[str, Any]) -> bool:
    return any(k.startswith(("decoder", "mask_token")) for k in state) or "pos_embed" in state


def _heads(dim: int, model_name: str, where: str) -> int:
    for size, heads in HEADS_BY_SIZE.items():
        if f"_{size}_" in f"_{model_name}_" or model_name.startswith(f"vit_{size}"):
            return heads
    if dim % 64 == 0 and dim != 1280:
        return dim // 64
    if dim == 1280:
        return 16
    raise ConfigError(
        f"{where}: cannot infer the number of attention heads for width {dim} (no 'args.model' "
        f"naming the size); pass --heads"
    )


def load_state_strict(
    model: torch.nn.Module,
    state: Mapping[str, torch.Tensor],
    where: str,
    *,
    layout: str = MODEL_NAME,
    assign: bool = False,
) -> None:
    """Copy ``state`` into ``model``; every key must match by name and shape.

    Args:
        model: The module.
        state: The weights.
        where: The file (for messages).
        layout: Name of the expected layout (for messages).
        assign: Use the tensors of ``state`` as the parameters instead of copying them
            (for models built on the ``meta`` device).

    Raises:
        DataError: one line naming missing keys, unexpected keys and shape mismatches.
    """
    expected = model.state_dict()
    problems = layout_problems(expected, state)
    if problems:
        raise DataError(
            f"{where}: does not fit the {layout} layout ({len(expected)} keys): "
            + "; ".join(problems)
        )
    model.load_state_dict(dict(state), strict=True, assign=assign)


def layout_problems(
    expected: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor], ref: str = "model"
) -> list[str]:
    """How ``state`` departs from ``expected`` by key and shape (empty when it fits).

    Returns:
        Up to three phrases: missing keys, unexpected keys, shape mismatches (``ref`` names
        the expected side in the latter).
    """
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {ref} {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {_first(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_first(unexpected)}")
    if shapes:
        problems.append(f"shape mismatches {_first(shapes)}")
    return problems


def _first(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_LIST])
    more = len(items) - _LIST
    return f"{shown} (+{more} more)" if more > 0 else shown


def build_base_model(contents: CheckpointContents, overrides: ModelOverrides) -> BaseModel:
    """Build the ViT for loaded checkpoint contents and load it strictly."""
    where = str(contents.path)
    cfg = infer_config(contents.state_dict, contents.args, overrides, where)
    model = VideoViT(cfg)
    state = {k: v.float() if v.is_floating_point() else v for k, v in contents.state_dict.items()}
    load_state_strict(model, state, where)
    if model.head is None:
        raise DataError(f"{where}: the checkpoint has no classification head ('head.weight')")
    model.eval()
    return BaseModel(model, cfg, contents)


def load_base_model(
    path: Path, *, trust: bool = False, overrides: ModelOverrides | None = None
) -> BaseModel:
    """Read ``path`` safely and return the strictly loaded base classifier.

    Raises:
        DataError: for unreadable files and layout mismatches.
        ConfigError: for files that need ``trust`` and for shapes that cannot be inferred.
    """
    return build_base_model(read_checkpoint(path, trust=trust), overrides or ModelOverrides())
