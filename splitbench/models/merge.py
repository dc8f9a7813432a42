"""Task arithmetic for open_clip models: merge finetuned CLIPs into one (``splitbench vlm merge``).

Given a base model θ₀ and finetuned checkpoints θ₁…θₙ of the **same** open_clip
architecture, the merged weights are

    θ = θ₀ + Σᵢ λᵢ (θᵢ − θ₀)

(task vectors τᵢ = θᵢ − θ₀, one λ for all or one per checkpoint; Ilharco et al., *Editing
Models with Task Arithmetic*, ICLR 2023). Every floating-point tensor is merged in float64 and
stored in the base's dtype; any other tensor must be identical in every input. Keys and shapes
must match exactly, and the merged state is loaded strictly into the architecture before it is
written.

The merged file is a ``.safetensors`` state dict whose metadata key ``splitbench_merge`` holds
the merge's identity (:class:`MergeManifest`: architecture, QuickGELU, every input's file name
and SHA-256, the λs, open_clip's version). :class:`~splitbench.models.clip_video.OpenClipVideo`
reads it back, so the identity lands in a VLM space's ``store.json`` and in every cascade
result, and the VLM family becomes ``merged-clip``. Use it as ``--encoder
merged-clip:/path/merged.safetensors`` (architecture from the manifest) or as any open_clip
file, ``clip:<model>//path/merged.safetensors``.

TIES-style trimming is not implemented.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from splitbench.errors import ConfigError, DataError
from splitbench.models.merge_manifest import (
    MANIFEST_KEY,
    MergeInput,
    MergeManifest,
    merge_identity,
    read_manifest,
)

__all__ = [
    "MANIFEST_KEY",
    "MergeInput",
    "MergeManifest",
    "build_merged_clip",
    "expand_lambdas",
    "merge_identity",
    "merge_open_clip",
    "read_manifest",
    "task_arithmetic",
    "write_merged",
]


def expand_lambdas(lambdas: Sequence[float], n: int) -> tuple[float, ...]:
    """One λ per checkpoint: a single value is repeated, otherwise exactly ``n`` are needed.

    Raises:
        ConfigError: for a wrong count or a non-finite λ.
    """
    if n < 1:
        raise ConfigError("vlm merge: give at least one finetuned --checkpoint")
    values = [float(x) for x in lambdas] or [1.0]
    if len(values) == 1:
        values = values * n
    if len(values) != n:
        raise ConfigError(
            f"--lam: got {len(lambdas)} values for {n} checkpoints; give one λ for all or one "
            f"per checkpoint"
        )
    if not all(torch.isfinite(torch.tensor(values, dtype=torch.float64))):
        raise ConfigError(f"--lam {values}: every λ must be a finite number")
    return tuple(values)


def task_arithmetic(
    base: Mapping[str, torch.Tensor],
    finetuned: Sequence[tuple[str, Mapping[str, torch.Tensor]]],
    lambdas: Sequence[float],
) -> dict[str, torch.Tensor]:
    """``θ₀ + Σᵢ λᵢ (θᵢ − θ₀)`` key by key (float64 arithmetic, the base's dtype out).

    Args:
        base: θ₀.
        finetuned: ``(name for messages, θᵢ)`` pairs.
        lambdas: λᵢ, one per finetuned state.

    Raises:
        DataError: one line naming the checkpoint and key when keys, shapes or non-float
            tensors differ from the base's.
    """
    if len(lambdas) != len(finetuned):
        raise ConfigError(f"{len(lambdas)} λs for {len(finetuned)} checkpoints")
    from splitbench.models.base_model import layout_problems

    for name, state in finetuned:
        problems = layout_problems(base, state, ref="base")
        if problems:
            raise DataError(
                f"{name}: not the base's architecture (task arithmetic needs identical keys "
                f"and shapes): " + "; ".join(problems)
            )
    merged: dict[str, torch.Tensor] = {}
    for key, theta0 in base.items():
        if not theta0.is_floating_point():
            for name, state in finetuned:
                if not torch.equal(state[key], theta0):
                    raise DataError(
                        f"{name}: non-float tensor {key} differs from the base's; it cannot "
                        f"be merged"
                    )
            merged[key] = theta0.clone()
            continue
        t0 = theta0.detach().to(torch.float64)
        acc = t0.clone()
        for lam, (_, state) in zip(lambdas, finetuned, strict=True):
            acc += lam * (state[key].detach().to(torch.float64) - t0)
        merged[key] = acc.to(theta0.dtype).contiguous()
    return merged


def merge_open_clip(
    model_name: str,
    base: str,
    checkpoints: Sequence[Path],
    lambdas: Sequence[float],
    output: Path,
    *,
    trust: bool = False,
) -> MergeManifest:
    """Merge ``checkpoints`` into ``base`` and write ``output`` (``.safetensors``).

    Args:
        model_name: open_clip architecture of every input.
        base: The base's pretrained tag (weights from the local cache), ``tag=file`` or file.
        checkpoints: Finetuned open_clip checkpoints (state dicts, or open_clip training
            checkpoints with ``state_dict`` and ``module.`` prefixes).
        lambdas: One λ, or one per checkpoint.
        output: The merged file; must not exist.
        trust: Allow full unpickling of inputs that weights-only loading refuses.

    Raises:
        ConfigError: for bad options or an existing output.
        DataError: for inputs that are not of the architecture.
    """
    import open_clip

    from splitbench.models.base_model import load_state_strict
    from splitbench.models.checkpoint import read_checkpoint
    from splitbench.models.clip_video import build_open_clip, resolve_clip_weights

    output = Path(output)
    if output.suffix != ".safetensors":
        raise ConfigError(f"--output {output}: the merged weights are written as .safetensors")
    if output.exists():
        raise ConfigError(f"--output {output}: exists already; choose a new file")
    lams = expand_lambdas(lambdas, len(checkpoints))
    base_file, tag, quick_gelu = resolve_clip_weights(model_name, base)
    base_ckpt = read_checkpoint(base_file, trust=trust)
    tuned = [read_checkpoint(Path(p), trust=trust) for p in checkpoints]
    merged = task_arithmetic(
        base_ckpt.state_dict, [(str(c.path), c.state_dict) for c in tuned], lams
    )
    model = build_open_clip(model_name, quick_gelu)
    load_state_strict(model, merged, str(base_file), layout=f"open_clip {model_name}")
    manifest = MergeManifest(
        model=model_name,
        quick_gelu=quick_gelu,
        base=MergeInput(base_file.name, base_ckpt.sha256, tag),
        checkpoints=tuple(MergeInput(c.path.name, c.sha256) for c in tuned),
        lambdas=lams,
        open_clip=str(open_clip.__version__),
    )
    write_merged(output, merged, manifest)
    return manifest


def write_merged(output: Path, state: Mapping[str, torch.Tensor], manifest: MergeManifest) -> Path:
    """Write ``state`` with the manifest in the safetensors metadata (atomically)."""
    from safetensors.torch import save_file

    from splitbench.atomic import atomic_path

    output.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous() for k, v in state.items()}
    with atomic_path(output) as tmp:
        save_file(tensors, str(tmp), metadata={MANIFEST_KEY: manifest.to_json()})
    return output


def build_merged_clip(arg: str, options: Any) -> Any:
    """Registry factory: ``merged-clip:<merged .safetensors file>``.

    Raises:
        ConfigError: when the file is missing or carries no merge manifest.
    """
    from splitbench.models.clip_video import OpenClipVideo

    path = Path(arg).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"merged-clip:{arg}: merged weights file does not exist (make one with 'splitbench "
            f"vlm merge'; nothing is downloaded)"
        )
    manifest = read_manifest(path)
    if manifest is None:
        raise ConfigError(
            f"merged-clip:{arg}: no {MANIFEST_KEY} metadata (not written by 'splitbench vlm "
            f"merge'); use clip:<model>/{path} for a plain open_clip file"
        )
    return OpenClipVideo(
        manifest.model, str(path.resolve()), options, quick_gelu=manifest.quick_gelu
    )
