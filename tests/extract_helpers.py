"""Builders for the extraction tests: PyAV videos, a tiny benchmark in the official on-disk
layout, and tiny checkpoints in the released MVD layout.

The tiny benchmark reuses real SSv2 label texts (two groups and a singleton) so that label
based lookups behave as on the real files:

* subset A collapses "Bending something" (3 fine labels) and keeps "Covering ... and
  Uncovering ..." fine; subset B is the mirror image; "Holding something" is a singleton.
* A has 4 base labels, B has 5 (so a head of the wrong subset is detectable).

Video names in the CSVs end in ``.mp4``; half of the files are VP9 ``.webm`` (as SSv2 ships
them) and half H.264 ``.mp4``.

``cli`` runs the ``splitbench`` command line in-process.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch

from splitbench.benchmarks.model import Benchmark
from splitbench.catalog import load_benchmark
from splitbench.models.base_model import ModelOverrides
from splitbench.models.vit import VideoViT, ViTConfig
from splitbench.video.decode import VideoFolder, decode_video
from splitbench.video.views import EvalViews, TrainViews, ViewProtocol, to_model_input

BENDING = "Bending something"
COVERING = "Covering something with something and Uncovering something"
HOLDING = "Holding something"
SCHEME = {
    BENDING: [
        "Bending something so that it deforms",
        "Bending something until it breaks",
        "Trying to bend something unbendable so nothing happens",
    ],
    COVERING: ["Covering something with something", "Uncovering something"],
    HOLDING: ["Holding something"],
}
PARTITION = {"A": [BENDING], "B": [COVERING]}
FINE = [label for members in SCHEME.values() for label in members]

TINY = ViTConfig(
    img_size=32,
    patch_size=16,
    num_frames=4,
    tubelet_size=2,
    embed_dim=32,
    depth=2,
    num_heads=2,
    mlp_hidden=128,
    num_classes=4,
)


def write_video(
    path: Path,
    codec: str,
    frames: int,
    color: tuple[int, int, int],
    seed: int,
    w: int = 64,
    h: int = 48,
) -> None:
    """Write a clip: a class colour, noise and a moving bar (so frames differ)."""
    rng = np.random.default_rng(seed)
    opts = (
        {"deadline": "realtime", "cpu-used": "8"}
        if codec == "libvpx-vp9"
        else {"preset": "ultrafast"}
    )
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=12)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = opts
        for t in range(frames):
            img = np.empty((h, w, 3), dtype=np.uint8)
            img[:] = color
            img = np.clip(img + rng.integers(-40, 40, (h, w, 3)), 0, 255).astype(np.uint8)
            x = (t * 5) % w
            img[:, x : x + 6] = 255
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


@dataclass
class TinyData:
    """Paths of the generated benchmark."""

    annotations: Path
    videos: Path
    train: list[tuple[str, str]]  # (video name, fine label)
    val: list[tuple[str, str]]


def _labels(subset: str) -> list[str]:
    out: list[str] = []
    for group, members in SCHEME.items():
        if group in PARTITION[subset]:
            out.append(group)
        else:
            out.extend(members)
    return out


def build_tiny_benchmark(root: Path, train_per_label: int = 3, val_per_label: int = 2) -> TinyData:
    """Write videos and the official annotation layout under ``root``."""
    videos = root / "videos"
    videos.mkdir(parents=True)
    ann = root / "Datasets" / "SSv2-Split"
    ann.mkdir(parents=True)
    rows: dict[str, list[tuple[str, str]]] = {"train": [], "val": []}
    k = 0
    for li, label in enumerate(FINE):
        color = ((li * 53) % 256, (li * 101) % 256, (li * 197) % 256)
        for split, n in (("train", train_per_label), ("val", val_per_label)):
            for _ in range(n):
                vid = f"{10000 + k}"
                codec, ext = ("libvpx-vp9", ".webm") if k % 2 == 0 else ("libx264", ".mp4")
                write_video(videos / f"{vid}{ext}", codec, 10 + k % 7, color, seed=k)
                rows[split].append((f"{vid}.mp4", label))
                k += 1
    scheme = {"group_scheme": SCHEME, "A": PARTITION["A"], "B": PARTITION["B"]}
    (ann / "group_scheme.json").write_text(json.dumps(scheme, indent=1))
    group_of = {m: g for g, ms in SCHEME.items() for m in ms}
    for subset in ("A", "B"):
        sdir = ann / subset
        sdir.mkdir()
        labels = _labels(subset)
        index = {t: i for i, t in enumerate(labels)}
        (sdir / "labels.json").write_text(json.dumps(index, indent=1))
        n = len(labels)

        def base(label: str, index: dict[str, int] = index) -> int:
            return index.get(label, index.get(group_of[label], -1))

        for split in ("train", "val"):
            text = "".join(f"{v},{base(lab)}\n" for v, lab in rows[split])
            (sdir / f"{split}.csv").write_text(text)
        for group in PARTITION[subset]:
            tdir = sdir / group
            tdir.mkdir()
            members = SCHEME[group]

            def fine(label: str, members: list[str] = members, n: int = n) -> int:
                return n + members.index(label)

            ft = [(v, fine(lab)) for v, lab in rows["train"] if lab in members]
            eq = [(v, fine(lab)) for v, lab in rows["val"] if lab in members]
            un = [(v, base(lab)) for v, lab in rows["val"] if lab not in members]
            for fname, data in (
                ("ft_set.csv", ft),
                ("equivalent_set.csv", eq),
                ("unrelated_set.csv", un),
            ):
                (tdir / fname).write_text("".join(f"{v},{y}\n" for v, y in data))
    return TinyData(root / "Datasets", videos, rows["train"], rows["val"])


def tiny_model(seed: int = 0, num_classes: int = 4, cfg: ViTConfig = TINY) -> VideoViT:
    """A randomly initialised tiny ViT with non-trivial weights."""
    torch.manual_seed(seed)
    from dataclasses import replace

    model = VideoViT(replace(cfg, num_classes=num_classes)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.fill_(1.0)
            else:
                p.normal_(0.0, 0.2)
    return model


def save_released_layout(
    path: Path,
    state: dict[str, torch.Tensor],
    *,
    model_name: str = "vit_tiny_test",
    num_frames: int = 4,
    input_size: int = 32,
    extra_args: dict[str, object] | None = None,
) -> None:
    """Save like MVD's DeepSpeed fine-tuning: weights under ``module`` plus an ``args``
    namespace (and the epoch)."""
    args = argparse.Namespace(
        model=model_name,
        num_frames=num_frames,
        input_size=input_size,
        tubelet_size=2,
        nb_classes=int(state["head.weight"].shape[0]),
        use_mean_pooling=True,
        model_key="model|module",
        **(extra_args or {}),
    )
    torch.save({"module": state, "args": args, "epoch": 39}, path)


def cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run ``splitbench *args`` in-process: ``(exit code, stdout, stderr)``."""
    from splitbench.cli.app import main

    monkeypatch.setattr(sys, "argv", ["splitbench", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


TINY_VIEWS = ViewProtocol(
    eval=EvalViews(frames=4, short_side=32, crop_size=32),
    train=TrainViews(views=3, frames=4, crop_size=32),
)
OVERRIDES = ModelOverrides(num_heads=2)


@dataclass
class Tiny:
    """The tiny benchmark, its loaded form and its base checkpoints."""

    data: TinyData
    root: Path
    bench: Benchmark
    checkpoints: dict[str, Path]


def eval_features(model: torch.nn.Module, path: Path) -> torch.Tensor:
    """The pooled features of a video's eval views, computed directly."""
    views = TINY_VIEWS.eval.sample(decode_video(path))
    x = to_model_input(torch.from_numpy(views)[None], TINY_VIEWS.mean, TINY_VIEWS.std)
    with torch.no_grad():
        out: torch.Tensor = model.forward_features(x)
    return out


def build_tiny(root: Path) -> Tiny:
    """The tiny benchmark plus one released-layout checkpoint per subset whose head is fitted
    on the train videos (so the base model is a sensible classifier)."""
    data = build_tiny_benchmark(root)
    bench = load_benchmark("ssv2-split", data.annotations)
    model = tiny_model(seed=0, num_classes=4)
    folder = VideoFolder(data.videos)
    feats = torch.stack([eval_features(model, folder.resolve(v)) for v, _ in data.train])
    checkpoints = {}
    for name, subset in bench.subsets.items():
        assert [v for v, _ in data.train] == list(subset.train.videos)
        # nearest-centroid head: a linear classifier fitted in closed form
        centroids = torch.stack(
            [
                feats[torch.from_numpy(subset.train.labels == c)].mean((0, 1))
                for c in range(subset.num_labels)
            ]
        )
        w, b = centroids, -0.5 * (centroids**2).sum(1)
        state = {k: v for k, v in model.state_dict().items() if not k.startswith("head.")}
        state["head.weight"], state["head.bias"] = w.contiguous(), b.contiguous()
        checkpoints[name] = root / f"SSv2-Split-{name}.pt"
        save_released_layout(checkpoints[name], state)
    return Tiny(data, root, bench, checkpoints)


def extract_args(tiny: Tiny, out: Path, *more: str, subset: str = "A") -> list[str]:
    """``splitbench extract`` arguments for the tiny benchmark (workers 0, quiet)."""
    return [
        "extract",
        "-b",
        "ssv2-split",
        "--annotations",
        str(tiny.data.annotations),
        "--subset",
        subset,
        "--videos",
        str(tiny.data.videos),
        "--checkpoint",
        str(tiny.checkpoints[subset]),
        "--trust-checkpoint",
        "--heads",
        "2",
        "--train-views",
        "3",
        "--workers",
        "0",
        "--quiet",
        "-o",
        str(out),
        *more,
    ]
