"""Benchmark: video decoding and feature-extraction throughput (videos/s).

A fixed, seeded set of clips is generated once with PyAV: two thirds SSv2-like VP9 ``.webm``
(426×240, 48 frames) and one third FineGym-like H.264 ``.mp4`` (456×256, 90 frames). Larger
runs reuse them through symbolic links (decoding a link costs what decoding the file costs).
Then, with the same decoding workers for every line:

1. decode only: PyAV decodes every frame of each clip (main process, one thread);
2. decode + views: the extraction's DataLoader produces the 16×2×3 uint8 views (no model);
3. forward only: the backbone on random clips already on the device (its ceiling);
4. end to end: ``extract_subset`` into a fresh store (decode, views, forward, shard writes,
   sanity figures), in videos/s and clips/s (clip = one 16-frame view; 6 per video);
5. VLM: ``extract --encoder`` (``extract_vlm``) adding a ViCLIP space to that store, with
   ViCLIP's official views (8 middle frames squashed to 224², one view per video): decode +
   views, then end to end (including the text table), in videos/s and frames/s. ViCLIP-L/14
   (random weights, bfloat16) on GPU; on CPU a REDUCED ViCLIP (width 64, one block per
   tower) at the real input size, labelled as such.

Modes:
* CPU (no CUDA, or ``--device cpu``): the backbone is a REDUCED ViT (width 32, depth 1,
  2 heads) at the real input of 16 frames of 224², labelled as such, so that the line shows
  what the pipeline costs around a nearly free model. ViT-S itself costs about 1.35 s per clip
  on 2 cores (8 s per video), so on CPU it would measure only the model; on a 2-core machine
  the decoding workers and the forward pass also share the same two cores.
* GPU (CUDA available): ViT-S (21.9 M parameters, random weights), bfloat16 autocast.

Target (issue 4): end to end ≥ 90 % of decode + views, i.e. extraction is decode-bound.

``--clips ssv2`` uses only the SSv2-like clips (the GPU check, ``bench/gpu_check.sh``);
``--json FILE`` also writes every figure, the machine and the settings as JSON. The ViT-S
model is saved in the released MVD layout (weights under ``module``) and read back with the
extraction's own loader, as a real checkpoint would be.

Usage:
    python bench/bench_extract.py [--videos 48] [--workers N] [--batch-size 8]
                                  [--device auto|cpu|cuda] [--model auto|reduced|vit-s]
                                  [--vlm auto|reduced|viclip-l|none] [--clips mixed|ssv2]
                                  [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

DISTINCT = 24  # distinct generated clips; more videos reuse them through links
SPECS = {"webm": ("libvpx-vp9", 426, 240, 48), "mp4": ("libx264", 456, 256, 90)}


def write_clip(path: Path, codec: str, w: int, h: int, frames: int, seed: int) -> None:
    """A moving scene (gradient, two moving boxes, mild noise) that compresses like video."""
    import av
    import numpy as np

    rng = np.random.default_rng(seed)
    base = np.zeros((h, w, 3), dtype=np.float32)
    base[..., 0] = np.linspace(30, 200, w)[None, :]
    base[..., 1] = np.linspace(60, 160, h)[:, None]
    base[..., 2] = rng.uniform(40, 200)
    opts = {"deadline": "realtime", "cpu-used": "8"} if codec == "libvpx-vp9" else {}
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=12 if codec == "libvpx-vp9" else 25)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = opts
        boxes = rng.uniform(0, 1, size=(2, 4))
        for t in range(frames):
            img = base + rng.normal(0, 4, size=base.shape)
            for k, (x0, y0, vx, vy) in enumerate(boxes):
                x = int((x0 * w + t * (vx * 6 - 3)) % (w - 40))
                y = int((y0 * h + t * (vy * 4 - 2)) % (h - 30))
                img[y : y + 30, x : x + 40] = (220, 40, 40) if k == 0 else (40, 40, 220)
            frame = av.VideoFrame.from_ndarray(np.clip(img, 0, 255).astype(np.uint8), "rgb24")
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def make_clips(root: Path, n: int, kinds: str = "mixed") -> list[str]:
    """Generate the distinct clips once (cached under ``root``) and link up to ``n`` names.

    ``kinds``: ``mixed`` (2/3 SSv2-like, 1/3 FineGym-like) or ``ssv2`` (SSv2-like only).
    """
    root.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(min(n, DISTINCT)):
        ext = "mp4" if i % 3 == 2 and kinds == "mixed" else "webm"
        path = root / f"clip{i:03d}.{ext}"
        if not path.is_file():
            codec, w, h, frames = SPECS[ext]
            tmp = path.with_suffix(".tmp." + ext)
            write_clip(tmp, codec, w, h, frames, seed=i)
            tmp.replace(path)
        names.append(path.name)
    out = []
    for j in range(n):
        src = names[j % len(names)]
        if j < len(names):
            out.append(src)
            continue
        link = root / f"rep{j:05d}-{kinds}-{src}"
        if not link.exists():
            link.symlink_to(root / src)
        out.append(link.name)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=None, help="default 48 (CPU), 1024 (GPU)")
    parser.add_argument("--workers", type=int, default=None, help="default min(16, CPUs)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--model", default="auto", choices=("auto", "reduced", "vit-s"))
    parser.add_argument("--clip-dir", default=None, help="where generated clips are cached")
    parser.add_argument(
        "--vlm",
        default="auto",
        choices=("auto", "reduced", "viclip-l", "none"),
        help="VLM line: auto = ViCLIP-L/14 on GPU, a reduced ViCLIP on CPU",
    )
    parser.add_argument("--clips", default="mixed", choices=("mixed", "ssv2"))
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    figures: dict[str, object] = {}

    import av
    import numpy as np
    import torch

    from splitbench.benchmarks.model import Benchmark, Subset, VideoTable
    from splitbench.features.extract import ExtractConfig, extract_subset, view_batches
    from splitbench.models.base_model import BaseModel, load_base_model
    from splitbench.models.checkpoint import CheckpointContents
    from splitbench.models.vit import VideoViT, ViTConfig
    from splitbench.video.decode import decode_video
    from splitbench.video.views import ViewProtocol

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    gpu = device.startswith("cuda")
    model_kind = args.model if args.model != "auto" else ("vit-s" if gpu else "reduced")
    n = args.videos or (1024 if gpu else 48)
    workers = args.workers if args.workers is not None else min(16, os.cpu_count() or 1)
    cfg_model = ViTConfig(num_classes=2)
    if model_kind == "reduced":
        cfg_model = ViTConfig(embed_dim=32, depth=1, num_heads=2, mlp_hidden=128, num_classes=2)
    torch.manual_seed(0)
    net = VideoViT(cfg_model).eval()
    params = sum(p.numel() for p in net.parameters())
    if model_kind == "vit-s":  # through the released layout and the real loader
        ckpt = Path(tempfile.mkdtemp(prefix="splitbench-bench-ckpt-")) / "vit-s-random.pt"
        torch.save({"module": net.state_dict()}, ckpt)
        base = load_base_model(ckpt)
        net = base.model
    else:
        base = BaseModel(
            net, cfg_model, CheckpointContents(Path("random-init"), {}, "none", "none")
        )
    protocol = ViewProtocol()
    dtype = torch.bfloat16 if gpu else torch.float32

    clip_root = Path(args.clip_dir or Path(tempfile.gettempdir()) / "splitbench-bench-clips-v1")
    t = time.perf_counter()
    names = make_clips(clip_root, n, args.clips)
    kinds = "VP9 426x240x48 (SSv2-like)"
    if args.clips == "mixed":
        kinds = "2/3 VP9 426x240x48, 1/3 H.264 456x256x90"
    print(
        f"clips: {n} videos from {min(n, DISTINCT)} distinct ({clip_root}, ready in "
        f"{time.perf_counter() - t:.1f} s): {kinds}"
    )
    figures.update(
        machine=machine(device),
        settings={"videos": n, "clips": kinds, "workers": workers, "batch_videos": args.batch_size},
    )
    print(
        f"device {device}; CPUs {os.cpu_count()}; torch {torch.__version__}; PyAV "
        f"{av.__version__}; workers {workers}; batch {args.batch_size} videos"
    )
    label = "ViT-S" if model_kind == "vit-s" else "REDUCED ViT (width 32, depth 1; CPU stand-in)"
    print(
        f"model: {label}, {params / 1e6:.2f} M parameters, input 16x224², "
        f"{str(dtype).removeprefix('torch.')}"
    )

    # 1. decode only
    sample = names[:DISTINCT]
    t = time.perf_counter()
    for name in sample:
        decode_video(clip_root / name)
    dt = time.perf_counter() - t
    print(
        f"decode only (1 process, 1 thread):   {len(sample) / dt:8.2f} videos/s "
        f"({1000 * dt / len(sample):.0f} ms/video)"
    )
    decode_par = parallel_decode(clip_root, names, workers)
    print(f"decode only ({workers} process(es)):     {decode_par:8.2f} videos/s")
    figures["decode_only_1proc_videos_per_s"] = round(len(sample) / dt, 3)
    figures["decode_only_videos_per_s"] = round(decode_par, 3)

    # 2. decode + views through the extraction's loader
    items = [("val", nm, clip_root / nm) for nm in names]
    batches = [list(range(i, min(i + args.batch_size, n))) for i in range(0, n, args.batch_size)]
    t = time.perf_counter()
    count = 0
    for b in view_batches(items, batches, protocol, workers=workers, pin_memory=gpu):
        count += len(b["ids"])
    decode_views = count / (time.perf_counter() - t)
    print(f"decode + 16x2x3 views ({workers} workers): {decode_views:8.2f} videos/s")
    figures["decode_views_videos_per_s"] = round(decode_views, 3)

    # 3. forward only
    net = net.to(device)
    x = torch.randn(args.batch_size * 6, 3, 16, 224, 224, device=device)
    reps = 3 if gpu else 1
    with (
        torch.inference_mode(),
        torch.autocast(
            device_type=torch.device(device).type, dtype=dtype, enabled=dtype != torch.float32
        ),
    ):
        net.forward_features(x)
        if gpu:
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(reps):
            net.forward_features(x)
        if gpu:
            torch.cuda.synchronize()
    fwd = reps * len(x) / (time.perf_counter() - t)
    print(f"forward only ({len(x)} clips/batch):    {fwd / 6:8.2f} videos/s = {fwd:.1f} clips/s")
    figures["forward_only_videos_per_s"] = round(fwd / 6, 3)
    figures["model"] = {"label": label, "parameters": params, "dtype": str(dtype)}

    # 4. end to end
    vids = np.array(names, dtype=object)
    subset = Subset(
        benchmark="bench-clips",
        name="A",
        labels=("a", "b"),
        train=VideoTable("train", np.array([], dtype=object), np.array([], dtype=np.int64)),
        val=VideoTable("val", vids, np.zeros(n, dtype=np.int64)),
        targets=(),
        fine_groups=(),
        singletons=(),
    )
    bench = Benchmark(
        name="bench-clips",
        display_name="generated clips",
        version="1",
        subsets={"A": subset},
        group_scheme={},
        partition={"A": ()},
        simulation=False,
        source=str(clip_root),
        revision="generated",
    )
    store = Path(tempfile.mkdtemp(prefix="splitbench-bench-store-"))
    try:
        cfg = ExtractConfig(
            device=device, batch_size=args.batch_size, workers=workers, progress=False
        )
        report = extract_subset(bench, subset, base, clip_root, store / "A", protocol, cfg)
        e2e = report.videos_per_s
        print(
            f"end to end extraction:               {e2e:8.2f} videos/s = {6 * e2e:.1f} clips/s; "
            f"{100 * e2e / decode_views:.0f}% of decode + views (target ≥ 90% on GPU)"
        )
        figures["end_to_end_videos_per_s"] = round(e2e, 3)
        figures["decode_bound_ratio"] = round(e2e / decode_views, 4)
        figures["end_to_end_vs_decode_only"] = round(e2e / decode_par, 4)
        if gpu:
            peak = torch.cuda.max_memory_allocated() / 2**30
            print(f"GPU memory: peak allocated {peak:.2f} GiB")
            figures["gpu_peak_allocated_gib"] = round(peak, 3)
        if args.vlm != "none":
            vlm_line(args, bench, subset, clip_root, store, names, cfg, gpu, workers)
    finally:
        shutil.rmtree(store, ignore_errors=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json}")


def _decode_one(path: str) -> int:
    from splitbench.video.decode import decode_video

    return len(decode_video(Path(path)))


def parallel_decode(root: Path, names: list[str], workers: int) -> float:
    """Videos/s decoding every clip (no views) in ``workers`` processes (1 = this one)."""
    from concurrent.futures import ProcessPoolExecutor

    paths = [str(root / nm) for nm in names]
    t = time.perf_counter()
    if workers <= 1:
        for p in paths:
            _decode_one(p)
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_decode_one, paths, chunksize=4))
    return len(paths) / (time.perf_counter() - t)


def machine(device: str) -> dict[str, object]:
    """What the figures were measured on."""
    import platform

    import torch

    out: dict[str, object] = {
        "device": device,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "torch": torch.__version__,
    }
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        out["gpu"] = props.name
        out["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
    return out


def vlm_line(args, bench, subset, clip_root, store, names, cfg, gpu, workers) -> None:
    """5. A VLM space (``extract --encoder``): ViCLIP's official views (8 frames squashed to
    224², one view per video) through ViCLIP-L/14 on GPU, or a REDUCED ViCLIP on CPU."""

    import torch

    from splitbench.features.extract import view_batches
    from splitbench.features.vlm_extract import extract_vlm
    from splitbench.models.viclip import ViCLIP, ViCLIPVideo
    from splitbench.models.viclip_config import VICLIP_L14, reduced_config
    from splitbench.models.vlm import VLMOptions

    kind = args.vlm if args.vlm != "auto" else ("viclip-l" if gpu else "reduced")
    cfg_v = VICLIP_L14
    if kind == "reduced":
        cfg_v = reduced_config(64, 1, 1, embed_dim=64)
    weights = store / "viclip-bench.pth"
    torch.manual_seed(0)
    model = ViCLIP(cfg_v)
    torch.save({"model": model.state_dict()}, weights)
    del model
    vlm = ViCLIPVideo(weights, VLMOptions(device=cfg.device, image_batch=256))
    params = sum(p.numel() for p in vlm.model.parameters())
    views = vlm.default_views(None)
    label = (
        "ViCLIP-L/14 (random weights)"
        if kind == "viclip-l"
        else "REDUCED ViCLIP (width 64, 1 block per tower; CPU stand-in)"
    )
    dtype = cfg.compute_dtype(torch.device(cfg.device))
    print(
        f"VLM: {label}, {params / 1e6:.2f} M parameters, input {views.frames}x{views.size}² "
        f"squashed, {views.views} view/video, {str(dtype).removeprefix('torch.')}"
    )
    items = [("val", nm, clip_root / nm) for nm in names]
    n = len(items)
    batches = [list(range(i, min(i + args.batch_size, n))) for i in range(0, n, args.batch_size)]
    t = time.perf_counter()
    count = sum(
        len(b["ids"]) for b in view_batches(items, batches, views, workers=workers, pin_memory=gpu)
    )
    dv = count / (time.perf_counter() - t)
    print(
        f"VLM decode + views ({workers} workers):  {dv:8.2f} videos/s = "
        f"{dv * views.views * views.frames:.1f} frames/s"
    )
    report = extract_vlm(
        bench, subset, vlm, clip_root, store / "A", views, cfg, prompt_sets=("raw",)
    )
    e2e = report.videos_per_s
    frames = e2e * views.views * views.frames
    print(
        f"VLM end to end (extract --encoder):  {e2e:8.2f} videos/s = {frames:.1f} frames/s; "
        f"{100 * e2e / dv:.0f}% of decode + views"
    )


if __name__ == "__main__":
    main()
