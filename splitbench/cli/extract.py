"""``splitbench extract``: videos + base checkpoint → one feature store per subset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from splitbench.cli import options as opt
from splitbench.cli.common import err, parse_ints, parse_subsets
from splitbench.cli.extract_summary import checkpoints_by_subset, print_summary, source_size_option

_VIEWS = opt.in_panel("Views")
_MODEL = opt.in_panel("Model")
_RUN = opt.in_panel("Run")
_VLM = opt.in_panel("Video-language model (cascade baselines)")


def extract(
    benchmark: Annotated[str, opt.DATA("--benchmark", "-b", help="ssv2-split | finegym-split")],
    videos: Annotated[
        Path,
        opt.DATA(
            "--videos",
            help="Folder with the dataset's video files (SSv2 <id>.webm or .mp4, FineGym "
            "<clip_id>.mp4).",
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
        _MODEL(
            "--checkpoint",
            help="The subset's base-model checkpoint FILE; with several subsets, repeat as "
            "A=FILE B=FILE.",
        ),
    ] = None,
    subset: opt.Subset = "all",
    annotations: opt.Annotations = None,
    device: Annotated[str, _RUN(help="auto (cuda if available), cpu, cuda, cuda:1, ...")] = "auto",
    batch_size: Annotated[int, _RUN("--batch-size", help="Videos per forward pass.")] = 8,
    workers: Annotated[
        int | None, _RUN(help="Decoding processes (default: CPUs - 1, at most 16).")
    ] = None,
    dtype: Annotated[
        str,
        _RUN(
            help="Compute precision: auto (bfloat16 on CUDA, float32 on CPU), float32, "
            "bfloat16, float16."
        ),
    ] = "auto",
    store_dtype: Annotated[
        str, _RUN("--store-dtype", help="float16 or float32 on disk.")
    ] = "float16",
    chunk_size: Annotated[
        int, _RUN("--chunk-size", help="Videos per shard (unit of resumption).")
    ] = 256,
    missing: Annotated[
        str, _RUN(help="fail: stop at a missing or corrupt video; skip: record it and go on.")
    ] = "fail",
    retry_skipped: Annotated[
        bool, _RUN("--retry-skipped", help="Retry videos an earlier run skipped.")
    ] = False,
    trust_checkpoint: Annotated[
        bool,
        _MODEL(
            "--trust-checkpoint",
            help="Allow full unpickling of a checkpoint that weights-only loading refuses "
            "(can run code: only for files you trust).",
        ),
    ] = False,
    all_train: Annotated[
        bool,
        opt.DATA(
            "--all-train",
            help="Extract augmented views of every train video, not only the shot pools.",
        ),
    ] = False,
    shots: Annotated[
        str,
        opt.DATA(
            help="Shot counts the low-shot protocol will sample (comma list; 'all' = whole ft set)."
        ),
    ] = "1",
    seeds: Annotated[str, opt.DATA(help="Seeds the protocol will sample.")] = "0,1,2",
    shot_policy: Annotated[
        str, opt.DATA("--shot-policy", help="available | whole-ft | strict.")
    ] = "available",
    segments: Annotated[
        int | None, _VIEWS(help="Temporal views (default 2; VLM: its own).")
    ] = None,
    crops: Annotated[int | None, _VIEWS(help="Spatial crops (default 3; VLM: its own).")] = None,
    short_side: Annotated[
        int | None, _VIEWS("--short-side", help="Resize target (default: the model's input size).")
    ] = None,
    sampler: Annotated[
        str | None,
        _VIEWS(help="mvd (default) or videomae temporal test indices; a VLM also takes middle."),
    ] = None,
    encoder: Annotated[
        str | None,
        _VLM(
            "--encoder",
            help="Add a video-language model's embeddings of the val videos to the existing "
            "store(s) at --output, for the cascade baselines: clip:<model>/<pretrained tag or "
            "weights file> (e.g. clip:ViT-L-14/openai) or viclip:<weights file>. Nothing is "
            "downloaded.",
        ),
    ] = None,
    vlm_name: Annotated[
        str | None,
        _VLM(
            "--vlm-name",
            help="Folder name of the VLM space (default: from the spec, e.g. "
            "clip-vit-l-14-openai).",
        ),
    ] = None,
    pooling: Annotated[str, _VLM(help="CLIP frame pooling: mean or attention.")] = "mean",
    resize: Annotated[
        str | None,
        _VLM(help="VLM frames: squash (whole frame, ViCLIP) or short-side (+ crops, CLIP)."),
    ] = None,
    train_views: Annotated[
        int, _VIEWS("--train-views", help="Augmented views per train video.")
    ] = 8,
    train_seed: Annotated[int, _VIEWS("--train-seed", help="Augmentation seed.")] = 0,
    heads: Annotated[
        int | None, _MODEL(help="Attention heads (default: from args.model, else width/64).")
    ] = None,
    frames: Annotated[
        int | None,
        _MODEL(
            help="Input frames (default: args.num_frames, else 16; VLM: its own, e.g. 8 for "
            "ViCLIP, the base views' 16 for CLIP)."
        ),
    ] = None,
    img_size: Annotated[
        int | None, _MODEL("--img-size", help="Input size (default: args.input_size, else 224).")
    ] = None,
    pos_embed: Annotated[
        str, _MODEL("--pos-embed", help="mvd-3d (MVD) or videomae-1d (VideoMAE).")
    ] = "mvd-3d",
    source_size: Annotated[
        str,
        _VIEWS(
            "--source-size",
            help="Scale every frame to WxH before view sampling: auto (the benchmark's "
            "official preprocessing, FineGym-Split 480x270; none for SSv2), none, or WxH.",
        ),
    ] = "auto",
    decode_threads: Annotated[
        int, _RUN("--decode-threads", help="FFmpeg threads per decoding process.")
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
