"""``splitbench extract``: videos + base checkpoint → one feature store per subset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from splitbench.cli import options as opt
from splitbench.cli.common import err, parse_ints, parse_subsets
from splitbench.cli.extract_summary import checkpoints_by_subset, print_summary, source_size_option

_VIEWS = "Views"
_MODEL = "Model"
_RUN = "Run"
_DATA = "Data"
_VLM = "Video-language model (cascade baselines)"


def extract(
    benchmark: Annotated[
        str,
        typer.Option("--benchmark", "-b", help="ssv2-split | finegym-split", rich_help_panel=_DATA),
    ],
    videos: Annotated[
        Path,
        typer.Option(
            "--videos",
            help="Folder with the dataset's video files (SSv2 <id>.webm or .mp4, FineGym "
            "<clip_id>.mp4).",
            rich_help_panel=_DATA,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Store folder; each subset goes to <output>/<subset>/."
        ),
    ],
    checkpoint: Annotated[
        list[str] | None,
        typer.Option(
            "--checkpoint",
            help="The subset's base-model checkpoint FILE; with several subsets, repeat as "
            "A=FILE B=FILE.",
            rich_help_panel=_MODEL,
        ),
    ] = None,
    subset: opt.Subset = "all",
    annotations: opt.Annotations = None,
    device: Annotated[
        str,
        typer.Option(help="auto (cuda if available), cpu, cuda, cuda:1, ...", rich_help_panel=_RUN),
    ] = "auto",
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Videos per forward pass.", rich_help_panel=_RUN)
    ] = 8,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Decoding processes (default: CPUs - 1, at most 16).", rich_help_panel=_RUN
        ),
    ] = None,
    dtype: Annotated[
        str,
        typer.Option(
            help="Compute precision: auto (bfloat16 on CUDA, float32 on CPU), float32, "
            "bfloat16, float16.",
            rich_help_panel=_RUN,
        ),
    ] = "auto",
    store_dtype: Annotated[
        str, typer.Option("--store-dtype", help="float16 or float32 on disk.", rich_help_panel=_RUN)
    ] = "float16",
    chunk_size: Annotated[
        int,
        typer.Option(
            "--chunk-size", help="Videos per shard (unit of resumption).", rich_help_panel=_RUN
        ),
    ] = 256,
    missing: Annotated[
        str,
        typer.Option(
            help="fail: stop at a missing or corrupt video; skip: record it and go on.",
            rich_help_panel=_RUN,
        ),
    ] = "fail",
    retry_skipped: Annotated[
        bool,
        typer.Option(
            "--retry-skipped", help="Retry videos an earlier run skipped.", rich_help_panel=_RUN
        ),
    ] = False,
    trust_checkpoint: Annotated[
        bool,
        typer.Option(
            "--trust-checkpoint",
            help="Allow full unpickling of a checkpoint that weights-only loading refuses "
            "(can run code: only for files you trust).",
            rich_help_panel=_MODEL,
        ),
    ] = False,
    all_train: Annotated[
        bool,
        typer.Option(
            "--all-train",
            help="Extract augmented views of every train video, not only the shot pools.",
            rich_help_panel=_DATA,
        ),
    ] = False,
    shots: Annotated[
        str,
        typer.Option(
            help="Shot counts the low-shot protocol will sample (comma list; 'all' = whole ft "
            "set).",
            rich_help_panel=_DATA,
        ),
    ] = "1",
    seeds: Annotated[
        str, typer.Option(help="Seeds the protocol will sample.", rich_help_panel=_DATA)
    ] = "0,1,2",
    shot_policy: Annotated[
        str,
        typer.Option("--shot-policy", help="available | whole-ft | strict.", rich_help_panel=_DATA),
    ] = "available",
    segments: Annotated[
        int | None,
        typer.Option(help="Temporal views (default 2; VLM: its own).", rich_help_panel=_VIEWS),
    ] = None,
    crops: Annotated[
        int | None,
        typer.Option(help="Spatial crops (default 3; VLM: its own).", rich_help_panel=_VIEWS),
    ] = None,
    short_side: Annotated[
        int | None,
        typer.Option(
            "--short-side",
            help="Resize target (default: the model's input size).",
            rich_help_panel=_VIEWS,
        ),
    ] = None,
    sampler: Annotated[
        str | None,
        typer.Option(
            help="mvd (default) or videomae temporal test indices; a VLM also takes middle.",
            rich_help_panel=_VIEWS,
        ),
    ] = None,
    encoder: Annotated[
        str | None,
        typer.Option(
            "--encoder",
            help="Add a video-language model's embeddings of the val videos to the existing "
            "store(s) at --output, for the cascade baselines: clip:<model>/<pretrained tag or "
            "weights file> (e.g. clip:ViT-L-14/openai) or viclip:<weights file>. Nothing is "
            "downloaded.",
            rich_help_panel=_VLM,
        ),
    ] = None,
    vlm_name: Annotated[
        str | None,
        typer.Option(
            "--vlm-name",
            help="Folder name of the VLM space (default: from the spec, e.g. "
            "clip-vit-l-14-openai).",
            rich_help_panel=_VLM,
        ),
    ] = None,
    pooling: Annotated[
        str,
        typer.Option(help="CLIP frame pooling: mean or attention.", rich_help_panel=_VLM),
    ] = "mean",
    resize: Annotated[
        str | None,
        typer.Option(
            help="VLM frames: squash (whole frame, ViCLIP) or short-side (+ crops, CLIP).",
            rich_help_panel=_VLM,
        ),
    ] = None,
    train_views: Annotated[
        int,
        typer.Option(
            "--train-views", help="Augmented views per train video.", rich_help_panel=_VIEWS
        ),
    ] = 8,
    train_seed: Annotated[
        int, typer.Option("--train-seed", help="Augmentation seed.", rich_help_panel=_VIEWS)
    ] = 0,
    heads: Annotated[
        int | None,
        typer.Option(
            help="Attention heads (default: from args.model, else width/64).",
            rich_help_panel=_MODEL,
        ),
    ] = None,
    frames: Annotated[
        int | None,
        typer.Option(
            help="Input frames (default: args.num_frames, else 16; VLM: its own, e.g. 8 for "
            "ViCLIP, the base views' 16 for CLIP).",
            rich_help_panel=_MODEL,
        ),
    ] = None,
    img_size: Annotated[
        int | None,
        typer.Option(
            "--img-size",
            help="Input size (default: args.input_size, else 224).",
            rich_help_panel=_MODEL,
        ),
    ] = None,
    pos_embed: Annotated[
        str,
        typer.Option(
            "--pos-embed", help="mvd-3d (MVD) or videomae-1d (VideoMAE).", rich_help_panel=_MODEL
        ),
    ] = "mvd-3d",
    source_size: Annotated[
        str,
        typer.Option(
            "--source-size",
            help="Scale every frame to WxH before view sampling: auto (the benchmark's "
            "official preprocessing, FineGym-Split 480x270; none for SSv2), none, or WxH.",
            rich_help_panel=_VIEWS,
        ),
    ] = "auto",
    decode_threads: Annotated[
        int,
        typer.Option(
            "--decode-threads", help="FFmpeg threads per decoding process.", rich_help_panel=_RUN
        ),
    ] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Extract the feature store of each subset from videos and its base checkpoint.

    Val videos get the evaluation views (MVD's 16x2x3); train videos of the shot pools get
    augmented views. Rerunning the same command resumes with the first unfinished chunk.
    With --encoder (and no --checkpoint), add a video-language model's embeddings of the val
    videos to the stores already at --output instead. Under torchrun (WORLD_SIZE > 1) each
    rank extracts its share of the chunks and rank 0 seals one store.
    """
    import os

    import torch

    from splitbench.catalog import load_benchmark
    from splitbench.errors import ConfigError
    from splitbench.features.distributed import cuda_device, from_environment
    from splitbench.features.extract import ExtractConfig, extract_subset
    from splitbench.models.base_model import ModelOverrides, load_base_model
    from splitbench.progress import silence

    if quiet:
        silence()
    from splitbench.models.checkpoint import FULL_UNPICKLE_NOTE
    from splitbench.protocol.shots import parse_shots
    from splitbench.video.views import EvalViews, TrainViews, ViewProtocol

    bench = load_benchmark(benchmark, annotations)
    if bench.simulation:
        raise ConfigError(
            f"{benchmark} is a simulation with generated features; there are no videos to extract"
        )
    subsets = parse_subsets(subset, list(bench.subsets))
    if encoder is not None and checkpoint:
        raise ConfigError(
            "--encoder adds a VLM space to stores that exist already: extract the base "
            "features with --checkpoint first, then run again with --encoder (no --checkpoint)"
        )
    if encoder is None and not checkpoint:
        raise ConfigError("--checkpoint FILE is required (or --encoder SPEC for a VLM space)")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    group = from_environment(device)
    if encoder is not None and group.ranks.world > 1:
        raise ConfigError("--encoder runs in one process; start it without torchrun")
    device = cuda_device(device, group)
    frame_size = source_size_option(source_size, bench.video_size)
    shot_list = tuple(parse_shots(s.strip()) for s in shots.split(",") if s.strip())
    cfg = ExtractConfig(
        device=device,
        batch_size=batch_size,
        workers=max(1, min(16, (os.cpu_count() or 2) - 1)) if workers is None else workers,
        dtype=dtype,
        store_dtype=store_dtype,
        chunk_size=chunk_size,
        missing=missing,  # type: ignore[arg-type]
        retry_skipped=retry_skipped,
        all_train=all_train,
        shots=shot_list,
        seeds=tuple(parse_ints(seeds, "--seeds")),
        shot_policy=shot_policy,
        decode_threads=decode_threads,
        progress=not quiet,
    )
    cfg.check()
    if encoder is not None:
        from splitbench.cli.extract_vlm import extract_vlm_spaces

        extract_vlm_spaces(
            bench,
            subsets,
            encoder,
            videos,
            output,
            cfg,
            name=vlm_name,
            trust=trust_checkpoint,
            pooling=pooling,
            frames=frames,
            segments=segments,
            crops=crops,
            short_side=short_side,
            sampler=sampler,
            resize=resize,
        )
        return
    ckpts = checkpoints_by_subset(checkpoint or [], subsets)
    overrides = ModelOverrides(
        num_heads=heads, num_frames=frames, img_size=img_size, pos_embed=pos_embed
    )
    try:
        for name in subsets:
            base = load_base_model(ckpts[name], trust=trust_checkpoint, overrides=overrides)
            if base.checkpoint.full_unpickle:
                err("note: " + FULL_UNPICKLE_NOTE.format(path=base.checkpoint.path))
            mc = base.config
            protocol = ViewProtocol(
                eval=EvalViews(
                    frames=mc.num_frames,
                    segments=2 if segments is None else segments,
                    crops=3 if crops is None else crops,
                    short_side=short_side or mc.img_size,
                    crop_size=mc.img_size,
                    sampler=sampler or "mvd",
                ),
                train=TrainViews(
                    views=train_views, frames=mc.num_frames, crop_size=mc.img_size, seed=train_seed
                ),
                source_size=frame_size,
            )
            sub = bench.subset(name)
            report = extract_subset(
                bench,
                sub,
                base,
                videos,
                output / name,
                protocol,
                cfg,
                group=group,
                trusted=trust_checkpoint,
            )
            if not group.is_main:
                continue  # rank 0 reports the sealed store
            print_summary(bench.name, name, report)
    finally:
        group.close()
