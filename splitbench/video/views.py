"""View sampling: which frames and which pixels of a video the backbone sees.

Evaluation views follow MVD's SSv2 test protocol (``ssv2.py`` ``loadvideo_decord`` and
``__getitem__`` in ``ruiwang2021/mvd``), "16x2x3":

* temporal: with ``tick = (n - 1) / T`` and ``sub = tick / S``, segment view ``s`` takes,
  for every ``i < T``, the frame ``(round(tick·i + sub·s) + round(tick·i + sub·(s+1))) // 2``
  (NumPy's round-half-to-even, as MVD). With ``S = 1`` the index is the midpoint of
  ``[round(tick·i), round(tick·(i+1))]``. MVD stores the views interleaved and reads them
  back with ``[k::2]``, which is only correct for ``S <= 2``; here view ``s`` takes its own
  indices, which is identical for ``S <= 2`` and well defined beyond.
* spatial: resize so the short side is ``short_side`` (the long side becomes
  ``int(short_side · long / short)``), bilinear with half-pixel centres and the result
  rounded to uint8 (MVD uses ``cv2.resize(INTER_LINEAR)`` on uint8 frames; ours is the
  same sampling in floating point, so pixels can differ by one grey level). Then ``C``
  squares of ``crop_size`` along the long side at ``int(c · (long - short_side) / (C - 1))``
  (left, centre, right), centred along the short side when ``crop_size < short_side``.
* views are ordered segment-major: view ``s·C + c``.

``sampler="videomae"`` uses VideoMAE's slightly different temporal test indices instead
(``tick = n / T``; the union of ``int(tick/2 + tick·x)`` and ``int(tick·x)``, sorted, read
back with ``[k::2]``; ``S <= 2`` only).

Training views (for support-shot videos) follow MVD's SSv2 training sampler without
RandAugment or random erasing: one random frame per temporal segment of ``[0, n-1]``, and one
Inception-style random resized crop (area scale ``[0.08, 1]``, log-uniform aspect ratio
``[3/4, 4/3]``, 10 attempts then a centre crop) shared by all frames of the view, resized to
``crop_size``; no flip (SSv2 is direction-sensitive). The randomness of view ``v`` of a video
depends only on ``(seed, video id)``, so the views do not depend on batching, order, worker
count or resumption.

Both return ``uint8`` arrays ``(V, T, S, S, 3)``; :func:`to_model_input` scales to [0, 1] and
normalises with the ImageNet mean and std on the device, which is cheaper than shipping
floats between processes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from splitbench.core.hashing import seed_from_text
from splitbench.errors import ConfigError
from splitbench.video.decode import DecodedVideo

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SAMPLERS = ("mvd", "videomae")


def mvd_test_indices(n: int, frames: int, segments: int) -> list[list[int]]:
    """MVD's test frame indices: one list of ``frames`` indices per temporal segment view."""
    tick = (n - 1) / frames
    sub = tick / segments
    out: list[list[int]] = [[] for _ in range(segments)]
    for i in range(frames):
        if segments == 1:
            start, end = int(np.round(tick * i)), int(np.round(tick * (i + 1)))
            out[0].append((start + end) // 2)
            continue
        for s in range(segments):
            start = int(np.round(tick * i + sub * s))
            end = int(np.round(tick * i + sub * (s + 1)))
            out[s].append((start + end) // 2)
    return out


def videomae_test_indices(n: int, frames: int, segments: int) -> list[list[int]]:
    """VideoMAE's test frame indices (``segments <= 2``), one list per segment view."""
    if segments > 2:
        raise ConfigError("the videomae temporal sampler supports at most 2 segments")
    tick = n / frames
    idx = [int(tick / 2.0 + tick * x) for x in range(frames)]
    idx += [int(tick * x) for x in range(frames)]
    idx.sort()
    return [idx[s::2] for s in range(segments)]


def mvd_train_indices(n: int, frames: int, rng: np.random.Generator) -> list[int]:
    """One random frame per segment of ``[0, n-1]`` (MVD's SSv2 training sampler)."""
    avg = (n - 1) / frames
    out = []
    for i in range(frames):
        start, end = int(np.round(avg * i)), int(np.round(avg * (i + 1)))
        out.append(int(rng.integers(start, end + 1)))
    return out


def short_side_size(height: int, width: int, short: int) -> tuple[int, int]:
    """``(new_h, new_w)`` with the short side ``short`` (MVD's ``get_resize_sizes``)."""
    if width < height:
        return int(short * height / width), short
    return short, int(short * width / height)


def resize_uint8(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear (half-pixel centres, no antialias) resize of ``(T, H, W, 3)`` uint8 frames.

    Uses torch's uint8 channels-last kernel (fixed-point weights, like cv2's INTER_LINEAR on
    uint8), which is several times faster than resizing in float; results differ from a
    float resize rounded to uint8 by at most one grey level.
    """
    if frames.shape[1] == height and frames.shape[2] == width:
        return frames
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # channels-last
    y = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)
    out: np.ndarray = y.permute(0, 2, 3, 1).numpy()
    return out


def crop_offsets(long: int, size: int, crops: int) -> list[int]:
    """Start offsets of ``crops`` windows of ``size`` along a side of length ``long``."""
    if crops == 1:
        return [(long - size) // 2]
    step = (long - size) / (crops - 1)
    return [int(c * step) for c in range(crops)]


@dataclass(frozen=True)
class EvalViews:
    """The deterministic evaluation views (default: MVD's 16×2×3 at 224).

    Attributes:
        frames: Frames per view (the model's ``num_frames``).
        segments: Temporal segment views.
        crops: Spatial crops per segment.
        short_side: Short side after resizing.
        crop_size: Side of the square crops (the model's input size).
        sampler: ``mvd`` (default) or ``videomae`` temporal indices.
    """

    frames: int = 16
    segments: int = 2
    crops: int = 3
    short_side: int = 224
    crop_size: int = 224
    sampler: str = "mvd"

    @property
    def views(self) -> int:
        """Views per video."""
        return self.segments * self.crops

    def check(self) -> None:
        """Raise :class:`ConfigError` for settings that cannot be sampled."""
        for name in ("frames", "segments", "crops", "short_side", "crop_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"view protocol: {name} must be at least 1")
        if self.sampler not in SAMPLERS:
            raise ConfigError(
                f"view protocol: sampler {self.sampler!r}; expected {' or '.join(SAMPLERS)}"
            )
        if self.sampler == "videomae" and self.segments > 2:
            raise ConfigError("view protocol: the videomae sampler supports at most 2 segments")
        if self.crop_size > self.short_side:
            raise ConfigError(
                f"view protocol: crop size {self.crop_size} exceeds the short side "
                f"{self.short_side}"
            )

    def indices(self, n: int) -> list[list[int]]:
        """Frame indices per segment view for a video of ``n`` frames."""
        if self.sampler == "videomae":
            return videomae_test_indices(n, self.frames, self.segments)
        return mvd_test_indices(n, self.frames, self.segments)

    def sample(self, video: DecodedVideo) -> np.ndarray:
        """The views of ``video``: ``(segments·crops, frames, crop, crop, 3)`` uint8."""
        return self.sample_indices(video, self.indices(len(video)))

    def sample_indices(self, video: DecodedVideo, per_segment: list[list[int]]) -> np.ndarray:
        """Like :meth:`sample`, with the frame indices of each temporal view given.

        Args:
            video: The decoded video.
            per_segment: ``segments`` lists of ``frames`` frame indices each.
        """
        unique = sorted({i for seg in per_segment for i in seg})
        where = {f: k for k, f in enumerate(unique)}
        h, w = short_side_size(video.height, video.width, self.short_side)
        frames = resize_uint8(video.rgb(unique), h, w)
        size = self.crop_size
        if h >= w:  # portrait or square: crops run down the long (vertical) side
            ys, xs = crop_offsets(h, size, self.crops), [(w - size) // 2] * self.crops
        else:
            ys, xs = [(h - size) // 2] * self.crops, crop_offsets(w, size, self.crops)
        out = np.empty((self.views, self.frames, size, size, 3), dtype=np.uint8)
        for s, seg in enumerate(per_segment):
            for c in range(self.crops):
                view = out[s * self.crops + c]
                for j, i in enumerate(seg):  # one copy per frame, no intermediate clip
                    view[j] = frames[where[i], ys[c] : ys[c] + size, xs[c] : xs[c] + size]
        return out


@dataclass(frozen=True)
class TrainViews:
    """Augmented training views for support-shot videos.

    Attributes:
        views: Augmented views per video.
        frames: Frames per view.
        crop_size: Output side.
        scale: Range of the crop's area as a fraction of the frame.
        ratio: Range of the crop's aspect ratio (sampled log-uniformly).
        seed: Seed of the augmentation; each video's views depend on (seed, video id) only.
    """

    views: int = 8
    frames: int = 16
    crop_size: int = 224
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    seed: int = 0

    def check(self) -> None:
        """Raise :class:`ConfigError` for impossible settings."""
        if self.views < 1 or self.frames < 1 or self.crop_size < 1:
            raise ConfigError("train views: views, frames and crop size must be at least 1")
        lo, hi = self.scale
        if not 0 < lo <= hi <= 1:
            raise ConfigError(f"train views: scale {self.scale} must satisfy 0 < lo <= hi <= 1")
        if not 0 < self.ratio[0] <= self.ratio[1]:
            raise ConfigError(f"train views: ratio {self.ratio} must satisfy 0 < lo <= hi")

    def rng(self, video_id: str) -> np.random.Generator:
        """The generator of one video's augmentations."""
        h = seed_from_text(video_id)
        return np.random.default_rng(np.random.SeedSequence([self.seed, h]))

    def crop_box(self, height: int, width: int, rng: np.random.Generator) -> tuple[int, ...]:
        """``(top, left, h, w)`` of one random resized crop."""
        area = height * width
        log_lo, log_hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        for _ in range(10):
            target = rng.uniform(*self.scale) * area
            aspect = math.exp(rng.uniform(log_lo, log_hi))
            w = round(math.sqrt(target * aspect))
            h = round(math.sqrt(target / aspect))
            if 0 < w <= width and 0 < h <= height:
                top = int(rng.integers(0, height - h + 1))
                left = int(rng.integers(0, width - w + 1))
                return top, left, h, w
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            w, h = width, round(width / self.ratio[0])
        elif in_ratio > self.ratio[1]:
            h, w = height, round(height * self.ratio[1])
        else:
            h, w = height, width
        return (height - h) // 2, (width - w) // 2, h, w

    def sample(self, video: DecodedVideo, video_id: str) -> np.ndarray:
        """``views`` augmented views of ``video``: ``(views, frames, crop, crop, 3)`` uint8."""
        rng = self.rng(video_id)
        plans = []
        for _ in range(self.views):
            idx = mvd_train_indices(len(video), self.frames, rng)
            plans.append((idx, self.crop_box(video.height, video.width, rng)))
        unique = sorted({i for idx, _ in plans for i in idx})
        where = {f: k for k, f in enumerate(unique)}
        frames = video.rgb(unique)
        size = self.crop_size
        out = np.empty((self.views, self.frames, size, size, 3), dtype=np.uint8)
        for v, (idx, (top, left, h, w)) in enumerate(plans):
            clip = frames[[where[i] for i in idx], top : top + h, left : left + w]
            out[v] = resize_uint8(clip, size, size)
        return out


@dataclass(frozen=True)
class ViewProtocol:
    """Everything about how views are made; recorded in the store and part of its key.

    Attributes:
        eval: The evaluation views (every val video).
        train: The augmented views (train videos of the support pools).
        mean: Per-channel mean on [0, 1] pixels.
        std: Per-channel std.
        source_size: ``(width, height)`` every decoded frame is scaled to before view
            sampling (FineGym-Split: 480×270, as the official code did), or None.
    """

    eval: EvalViews = EvalViews()
    train: TrainViews = TrainViews()
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    source_size: tuple[int, int] | None = None

    def check(self) -> None:
        """Raise :class:`ConfigError` for impossible settings."""
        self.eval.check()
        self.train.check()
        if self.source_size is not None and min(self.source_size) < 1:
            raise ConfigError(f"view protocol: source size {self.source_size} must be positive")

    def record(self) -> dict[str, Any]:
        """JSON-ready description stored as ``StoreMeta.view_protocol``."""
        e = asdict(self.eval)
        e["views"] = self.eval.views
        e["kind"] = f"{self.eval.sampler}-test"
        e["resize"] = "short side, bilinear half-pixel, uint8 rounding"
        t = asdict(self.train)
        t["kind"] = "mvd-train: random frame per segment + random resized crop, no flip"
        rec: dict[str, Any] = {
            "decoder": "pyav",
            "eval": e,
            "train": t,
            "mean": self.mean,
            "std": self.std,
        }
        if self.source_size is not None:  # absent otherwise, so older stores keep their key
            w, h = self.source_size
            rec["source_resize"] = {"width": w, "height": h, "method": "swscale bicubic"}
        out: dict[str, Any] = json.loads(json.dumps(rec))  # tuples → lists, as on disk
        return out


def protocol_from_record(rec: dict[str, Any]) -> ViewProtocol:
    """The :class:`ViewProtocol` whose :meth:`~ViewProtocol.record` is ``rec`` (a store's).

    Raises:
        ConfigError: when ``rec`` is not such a record (another decoder, VLM views, or a
            record this version cannot rebuild exactly).
    """
    try:
        e, t = rec["eval"], rec["train"]
        size = rec.get("source_resize")
        protocol = ViewProtocol(
            eval=EvalViews(
                frames=int(e["frames"]),
                segments=int(e["segments"]),
                crops=int(e["crops"]),
                short_side=int(e["short_side"]),
                crop_size=int(e["crop_size"]),
                sampler=str(e["sampler"]),
            ),
            train=TrainViews(
                views=int(t["views"]),
                frames=int(t["frames"]),
                crop_size=int(t["crop_size"]),
                scale=(float(t["scale"][0]), float(t["scale"][1])),
                ratio=(float(t["ratio"][0]), float(t["ratio"][1])),
                seed=int(t["seed"]),
            ),
            mean=(float(rec["mean"][0]), float(rec["mean"][1]), float(rec["mean"][2])),
            std=(float(rec["std"][0]), float(rec["std"][1]), float(rec["std"][2])),
            source_size=None if size is None else (int(size["width"]), int(size["height"])),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ConfigError(f"not a base-model view protocol record ({exc!r})") from None
    if protocol.record() != rec:
        raise ConfigError("the view protocol record holds settings this version cannot rebuild")
    return protocol


def to_model_input(
    views: torch.Tensor, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """``(B, V, T, H, W, 3)`` uint8 views → ``(B·V, 3, T, H, W)`` normalised float32."""
    b, v, t, h, w, c = views.shape
    x = views.reshape(b * v, t, h, w, c).permute(0, 4, 1, 2, 3).float().div_(255.0)
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1, 1)
    return x.sub_(m).div_(s)
