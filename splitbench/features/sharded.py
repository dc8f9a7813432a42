"""Rows of several memory-mapped shards seen as one ``(n, V, D)`` array, without a copy.

A store split written in several shards used to be concatenated on open, which copied the
whole split into memory. :class:`ShardedFeatures` keeps each shard's memory map and copies
only the rows a caller selects (``features[rows]``); ``np.asarray`` materialises the whole
split only when a caller really needs one contiguous array (the scorer's val features).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class ShardedFeatures:
    """Read-only view over shards stacked along the first axis.

    Args:
        parts: Per-shard ``(n_i, V, D)`` arrays of one dtype (memory maps).
    """

    def __init__(self, parts: Sequence[np.ndarray]) -> None:
        if not parts:
            raise ValueError("ShardedFeatures needs at least one shard")
        self.parts = list(parts)
        self.dtype = self.parts[0].dtype
        self.starts = np.cumsum([0, *(len(p) for p in self.parts)])
        self.shape: tuple[int, ...] = (int(self.starts[-1]), *self.parts[0].shape[1:])
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Any) -> np.ndarray:
        rest: tuple[Any, ...] = ()
        if isinstance(index, tuple):
            index, rest = index[0], index[1:]
        if isinstance(index, slice):
            rows = np.arange(len(self))[index]
        else:
            rows = np.asarray(index)
            if rows.dtype == bool:
                rows = np.flatnonzero(rows)
            rows = np.where(rows < 0, rows + len(self), rows)
        out = self._gather(np.atleast_1d(rows).astype(np.int64))
        if np.ndim(index) == 0 and not isinstance(index, slice):
            out = out[0]
        return out[(slice(None), *rest)] if rest and out.ndim == self.ndim else out

    def _gather(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"row index out of range for {len(self)} rows")
        shard = np.searchsorted(self.starts, rows, side="right") - 1
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        for s in np.unique(shard):
            hit = shard == s
            out[hit] = self.parts[s][rows[hit] - self.starts[s]]
        return out

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        whole = np.concatenate(self.parts)
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def astype(self, dtype: Any, copy: bool = True) -> np.ndarray:
        """The whole split as one array of ``dtype`` (a copy)."""
        return np.asarray(self, dtype=dtype)
