"""How an extraction runs: :class:`ExtractConfig` and the device it resolves to.

Nothing here changes the features except the compute dtype, which is part of a store's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from splitbench.errors import ConfigError

MissingPolicy = Literal["skip", "fail"]
MISSING_POLICIES = ("skip", "fail")
SPLITS = ("val", "train")
COMPUTE_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class ExtractConfig:
    """How to run an extraction (nothing here changes the features except ``dtype``).

    Attributes:
        device: Torch device for the backbone.
        batch_size: Videos per forward pass (each contributes all its views).
        workers: Decoding processes (0 decodes in the main process).
        dtype: Compute precision: ``auto`` (bfloat16 on CUDA, float32 elsewhere),
            ``float32``, ``bfloat16`` or ``float16``. Part of the store's key.
        store_dtype: Feature dtype on disk (``float16`` or ``float32``).
        chunk_size: Videos per shard (the unit of resumption and of distributed slicing).
        missing: ``fail`` or ``skip`` for missing or corrupt videos.
        retry_skipped: Retry videos an earlier run skipped (always done under ``fail``).
        all_train: Extract every train video instead of the shot-pool union.
        shots: Shot counts the protocol will sample (``None`` = the whole ft set).
        seeds: Seeds the protocol will sample.
        shot_policy: Shortfall policy of the sampler.
        decode_threads: FFmpeg threads per decoding process.
        progress: Show a progress bar.
    """

    device: str = "cpu"
    batch_size: int = 8
    workers: int = 2
    dtype: str = "auto"
    store_dtype: str = "float16"
    chunk_size: int = 256
    missing: MissingPolicy = "fail"
    retry_skipped: bool = False
    all_train: bool = False
    shots: tuple[int | None, ...] = (1,)
    seeds: tuple[int, ...] = (0, 1, 2)
    shot_policy: str = "available"
    decode_threads: int = 1
    progress: bool = True

    def check(self) -> None:
        """Raise :class:`ConfigError` for unusable settings."""
        if self.batch_size < 1 or self.chunk_size < 1 or self.workers < 0:
            raise ConfigError("--batch-size and --chunk-size must be ≥ 1 and --workers ≥ 0")
        if self.missing not in MISSING_POLICIES:
            raise ConfigError(f"--missing {self.missing!r}: expected skip or fail")
        if self.dtype != "auto" and self.dtype not in COMPUTE_DTYPES:
            raise ConfigError(f"--dtype {self.dtype!r}: expected auto, {', '.join(COMPUTE_DTYPES)}")
        if self.store_dtype not in ("float16", "float32"):
            raise ConfigError(f"--store-dtype {self.store_dtype!r}: expected float16 or float32")
        if not self.seeds:
            raise ConfigError("--seeds: give at least one seed")

    def compute_dtype(self, device: torch.device) -> torch.dtype:
        """The autocast dtype for ``device``."""
        if self.dtype == "auto":
            return torch.bfloat16 if device.type == "cuda" else torch.float32
        return COMPUTE_DTYPES[self.dtype]


def resolve_device(cfg: ExtractConfig) -> torch.device:
    """The torch device of ``cfg``.

    Raises:
        ConfigError: for a CUDA device on a machine without CUDA.
    """
    device = torch.device(cfg.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {cfg.device}: no CUDA device is available here")
    return device
