"""``splitbench vlm ...``: build video-language models for the cascades (task-arithmetic merge)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from splitbench.cli.common import err

vlm_app = typer.Typer(
    no_args_is_help=True,
    help="Video-language models for the cascade baselines (merge finetuned CLIPs).",
)


@vlm_app.command("merge")
def merge(
    model: Annotated[
        str, typer.Option("--model", help="open_clip architecture of every input (ViT-B-16).")
    ],
    base: Annotated[
        str,
        typer.Option(
            "--base",
            help="Base θ₀: a pretrained tag (weights from the local cache), TAG=FILE or a file.",
        ),
    ],
    checkpoint: Annotated[
        list[Path],
        typer.Option("--checkpoint", help="A finetuned checkpoint θᵢ (repeat for each)."),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Merged .safetensors file.")],
    lam: Annotated[
        list[float] | None,
        typer.Option("--lam", help="λ: once for all checkpoints, or once per checkpoint."),
    ] = None,
    trust_checkpoint: Annotated[
        bool,
        typer.Option(
            "--trust-checkpoint",
            help="Allow full unpickling of inputs that weights-only loading refuses "
            "(can run code: only for files you trust).",
        ),
    ] = False,
) -> None:
    """Task arithmetic: θ = θ₀ + Σᵢ λᵢ (θᵢ − θ₀) over open_clip checkpoints of one architecture.

    The merged file records its inputs (file names, SHA-256), λs and architecture; extract it
    with --encoder merged-clip:FILE and run -m merged_clip_cascade.
    """
    from splitbench.models.merge import merge_open_clip

    manifest = merge_open_clip(
        model, base, list(checkpoint), list(lam or []), output, trust=trust_checkpoint
    )
    lams = ", ".join(f"{x:g}" for x in manifest.lambdas)
    err(
        f"merged {len(manifest.checkpoints)} {manifest.model} checkpoints into {output} "
        f"(λ = {lams}; base {manifest.base.file} sha256 {manifest.base.sha256[:12]}); use "
        f"--encoder merged-clip:{output}"
    )
