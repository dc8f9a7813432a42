"""Views for video-language encoders (CLIP, ViCLIP): which frames and pixels they see.

Two settings matter in practice:

* **ViCLIP's official test preprocessing** (InternVideo ``get_frame_indices(sample="middle")``
  and the ``vit`` test transform): 8 frames at the midpoints of 8 equal intervals of the
  clip, each frame **squashed** (resized without keeping the aspect ratio) to 224×224
  (then ImageNet mean and std, applied by the encoder). One view per video.
* **The released CLIP cascade** (paper-brief §7): the base model's own evaluation views
  (MVD's 16×2×3: short side resized, three crops); the encoder then applies CLIP's mean and
  std rather than the ImageNet statistics the released code used.

:class:`VLMViews` covers both (and mixtures); it returns ``uint8`` arrays
``(V, T, S, S, 3)`` like :class:`~splitbench.video.views.EvalViews`, and its record is part
of the VLM feature store's key.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from splitbench.errors import ConfigError
from splitbench.video.decode import DecodedVideo
from splitbench.video.grid import ViewGrid
from splitbench.video.views import EvalViews, resize_uint8

VLM_SAMPLERS = ("middle", "linspace", "mvd", "videomae")
RESIZES = ("squash", "short-side")


def middle_indices(n: int, frames: int) -> list[int]:
    """InternVideo's ``middle`` sampling: midpoints of ``frames`` equal intervals of ``[0, n)``.

    With fewer than ``frames`` frames every frame is taken once and the list is padded with
    the last index (as InternVideo's ``get_frame_indices`` does).
    """
    if n < 1:
        raise ConfigError("cannot sample frames from a video with no frames")
    samples = min(frames, n)
    edges = np.linspace(0, n, samples + 1).astype(int)
    idx = [int((edges[i] + edges[i + 1] - 1) // 2) for i in range(samples)]
    return idx + [idx[-1]] * (frames - samples)


def linspace_indices(n: int, frames: int) -> list[int]:
    """VideoPrism's demo sampling: ``floor(linspace(0, n, frames, endpoint=False))``."""
    if n < 1:
        raise ConfigError("cannot sample frames from a video with no frames")
    return [int(i) for i in np.linspace(0, n, num=frames, endpoint=False).astype(np.int32)]


@dataclass(frozen=True)
class VLMViews(ViewGrid):
    """The views a video-language encoder sees of every val video.

    Attributes:
        frames: Frames per view.
        sampler: ``middle`` (ViCLIP), ``linspace`` (VideoPrism), ``mvd`` or ``videomae`` (the
            base model's test indices).
        segments: Temporal views (``middle`` and ``linspace`` allow 1).
        crops: Spatial crops per temporal view (``squash`` allows 1).
        resize: ``squash`` (whole frame to ``size``×``size``) or ``short-side`` (short side
            to ``short_side``, then ``crops`` squares of ``size``).
        size: Input side of the encoder.
        short_side: Short side after resizing (``short-side`` only).

    Pixel normalisation belongs to the encoder (CLIP's or ImageNet statistics) and is
    recorded in its identity.
    """

    frames: int = 8
    sampler: str = "middle"
    segments: int = 1
    crops: int = 1
    resize: str = "squash"
    size: int = 224
    short_side: int = 224

    def check(self) -> None:
        """Raise :class:`ConfigError` for settings that cannot be sampled."""
        sizes = ("frames", "segments", "crops", "size", "short_side")
        self.check_settings("VLM views", sizes, {"sampler": VLM_SAMPLERS, "resize": RESIZES})
        if self.sampler in ("middle", "linspace") and self.segments != 1:
            raise ConfigError(
                f"VLM views: the {self.sampler} sampler takes one temporal view (segments 1)"
            )
        if self.resize == "squash" and self.crops != 1:
            raise ConfigError("VLM views: squash resizing takes the whole frame (crops 1)")
        if self.resize == "short-side":
            self._eval_views().check()

    def _eval_views(self) -> EvalViews:
        return EvalViews(
            frames=self.frames,
            segments=self.segments,
            crops=self.crops,
            short_side=self.short_side,
            crop_size=self.size,
            sampler=self.sampler if self.sampler in ("mvd", "videomae") else "mvd",
        )

    def indices(self, n: int) -> list[list[int]]:
        """Frame indices per temporal view for a video of ``n`` frames."""
        if self.sampler == "middle":
            return [middle_indices(n, self.frames)]
        if self.sampler == "linspace":
            return [linspace_indices(n, self.frames)]
        return self._eval_views().indices(n)

    def sample(self, video: DecodedVideo) -> np.ndarray:
        """The views of ``video``: ``(segments·crops, frames, size, size, 3)`` uint8."""
        per_segment = self.indices(len(video))
        if self.resize == "short-side":
            return self._eval_views().sample_indices(video, per_segment)
        out = np.empty((self.views, self.frames, self.size, self.size, 3), dtype=np.uint8)
        for s, seg in enumerate(per_segment):
            unique = sorted(set(seg))
            where = {f: k for k, f in enumerate(unique)}
            frames = resize_uint8(video.rgb(unique), self.size, self.size)
            out[s] = frames[[where[i] for i in seg]]
        return out

    def record(self) -> dict[str, Any]:
        """JSON-ready description (part of the VLM store's key)."""
        rec = asdict(self)
        rec["views"] = self.views
        rec["decoder"] = "pyav"
        rec["interpolation"] = "bilinear half-pixel, uint8 rounding"
        out: dict[str, Any] = json.loads(json.dumps(rec))
        return out
