"""Progress display (with ETA) for generating simulated stores.

One bar per simulation, counted in *work units*: a head-training step is one unit and
drawing the views of one video costs a share of a unit proportional to its view count (the
weights below were measured on the 2-core development machine, so the ETA is roughly
right there). The bar follows tqdm's rules: hidden when not on a terminal (unless forced)
and when ``TQDM_DISABLE`` is set.
"""

from __future__ import annotations

from typing import Any

from splitbench.benchmarks.synthetic import SyntheticConfig

# Units per video-view-dimension drawn: one head step (384 × 384 × C) costs about as much
# as drawing and normalising ~8,000 view vectors of 384 dimensions.
_UNITS_PER_VIEW_DIM = 1.0 / (8000 * 384)


class SimProgress:
    """A tqdm bar over the simulation's work units."""

    def __init__(self, desc: str, total: float, view_dims: tuple[int, int], enabled: bool | None):
        from tqdm.auto import tqdm

        self._per_video = {
            "val": view_dims[0] * _UNITS_PER_VIEW_DIM,
            "train": view_dims[1] * _UNITS_PER_VIEW_DIM,
        }
        self._bar: Any = tqdm(
            total=round(total),
            desc=desc,
            unit="step",
            disable=None if enabled is None else not enabled,
            leave=False,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]",
        )
        self._val_left = 0

    @classmethod
    def for_simulation(
        cls,
        desc: str,
        cfg: SyntheticConfig,
        n_val: int,
        n_train: int,
        *,
        heads: int,
        enabled: bool | None,
    ) -> SimProgress:
        """A bar for ``n_val`` val and ``n_train`` train videos and ``heads`` head fits."""
        dims = (cfg.val_views * cfg.dim, cfg.train_views * cfg.dim)
        total = heads * cfg.head.steps + (n_val * dims[0] + n_train * dims[1]) * _UNITS_PER_VIEW_DIM
        bar = cls(desc, total, dims, enabled)
        bar._val_left = n_val
        return bar

    def features(self, videos: int) -> None:
        """Count ``videos`` drawn (val videos first, then train videos)."""
        from_val = min(videos, self._val_left)
        self._val_left -= from_val
        units = from_val * self._per_video["val"]
        units += (videos - from_val) * self._per_video["train"]
        self._bar.update(units)

    def advance(self, steps: int) -> None:
        """Count ``steps`` head-training steps."""
        self._bar.update(steps)

    def close(self) -> None:
        """Close the bar."""
        self._bar.close()
