"""Decoding and view sampling in worker processes, and the backbone pass over the views.

:func:`view_batches` is a torch ``DataLoader`` over ``(split, video, file)`` rows with a
fixed batch sampler: each worker decodes a video with PyAV, samples its views as uint8 and
writes the batch into shared memory. :func:`encode_views` normalises a batch on the device
and runs the backbone under autocast. Extraction, the GPU check and the full-model
finetuning method all use these two functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

from splitbench.errors import DataError
from splitbench.video.decode import VideoError, decode_video
from splitbench.video.views import ViewProtocol, to_model_input
from splitbench.video.vlm_views import VLMViews

Views = Union[ViewProtocol, VLMViews]  # noqa: UP007 - used at runtime


class ViewDataset(torch.utils.data.Dataset[tuple[str, "np.ndarray | None", "str | None"]]):
    """Decodes one video per item and samples its views (runs in worker processes).

    ``val`` items get the evaluation views (a :class:`ViewProtocol`'s ``eval`` or a
    :class:`VLMViews`), other items the protocol's augmented training views. A
    :class:`ViewProtocol` with a ``source_size`` resizes every frame to it first.

    Args:
        items: ``(split, video id, file)`` rows.
        protocol: The views.
        threads: FFmpeg threads per decode.
    """

    def __init__(
        self, items: Sequence[tuple[str, str, Path]], protocol: Views, threads: int
    ) -> None:
        self.items = list(items)
        self.protocol = protocol
        self.threads = threads

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[str, np.ndarray | None, str | None]:
        split, vid, path = self.items[i]
        try:
            if isinstance(self.protocol, VLMViews):
                if split != "val":
                    raise DataError(f"VLM views are for val videos only, not {split!r}")
                return vid, self.protocol.sample(decode_video(path, threads=self.threads)), None
            video = decode_video(path, threads=self.threads, size=self.protocol.source_size)
            if split == "val":
                return vid, self.protocol.eval.sample(video), None
            return vid, self.protocol.train.sample(video, vid), None
        except VideoError as exc:
            return vid, None, str(exc)


def collate_views(items: list[tuple[str, np.ndarray | None, str | None]]) -> dict[str, Any]:
    """Stack a batch's views into one uint8 tensor (in shared memory inside a worker)."""
    ok = [(v, x) for v, x, err in items if err is None and x is not None]
    views = None
    if ok:
        views = torch.empty((len(ok), *ok[0][1].shape), dtype=torch.uint8)
        if torch.utils.data.get_worker_info() is not None:
            # filled in place, then handed to the main process without another copy
            views.share_memory_()  # type: ignore[no-untyped-call]
        for k, (_, x) in enumerate(ok):
            views[k] = torch.from_numpy(x)
    failed = {v: err for v, _, err in items if err is not None}
    return {"ids": [v for v, _ in ok], "views": views, "failed": failed}


def view_batches(
    items: Sequence[tuple[str, str, Path]],
    batches: Sequence[Sequence[int]],
    protocol: Views,
    *,
    workers: int,
    decode_threads: int = 1,
    pin_memory: bool = False,
) -> Iterator[dict[str, Any]]:
    """Decode and sample views in worker processes, one batch of ``items`` rows at a time.

    Args:
        items: ``(split, video id, file)``; ``val`` rows get evaluation views, others
            training views.
        batches: Row indices of each batch, yielded in this order.
        protocol: The view protocol, or a VLM's views (val rows only).
        workers: Worker processes (0 = in this process).
        decode_threads: FFmpeg threads per worker.
        pin_memory: Pin the view tensors (for fast copies to CUDA).

    Yields:
        ``{"ids": [...], "views": uint8 (B, V, T, S, S, 3) or None, "failed": {id: error}}``.
    """
    if not batches:
        return iter(())
    loader = torch.utils.data.DataLoader(
        ViewDataset(items, protocol, decode_threads),
        batch_sampler=[list(b) for b in batches],
        num_workers=workers,
        collate_fn=collate_views,
        pin_memory=pin_memory,
        prefetch_factor=2 if workers > 0 else None,
    )
    return iter(loader)


def encode_views(
    net: torch.nn.Module,
    views: torch.Tensor,
    protocol: ViewProtocol,
    device: torch.device,
    dtype: torch.dtype,
) -> np.ndarray:
    """Pooled backbone features of uint8 views ``(B, V, T, S, S, 3)``: ``(B, V, D)`` float32.

    Args:
        net: A module with ``forward_features`` (the ViT).
        views: The views (on ``device`` or the CPU).
        protocol: Its mean and std normalise the pixels.
        device: Where ``net`` runs.
        dtype: Autocast dtype (float32 = no autocast).
    """
    b, v = views.shape[:2]
    x = to_model_input(views.to(device, non_blocking=True), protocol.mean, protocol.std)
    with (
        torch.inference_mode(),
        torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype != torch.float32),
    ):
        feats = net.forward_features(x)  # type: ignore[operator]
    out: np.ndarray = feats.float().cpu().numpy().reshape(b, v, -1)
    return out
