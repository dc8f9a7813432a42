"""Writing a feature store: create or resume a store directory, shard by shard.

Shards and ``store.json`` are written atomically (temp file + rename), and ``store.json``
lists only finished shards, so an interrupted extraction resumes from the last finished
shard. The layout is described in :mod:`splitbench.features.store`, which reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from splitbench.atomic import atomic_path, atomic_write_text
from splitbench.core.hashing import file_sha256, sha256_parts
from splitbench.errors import DataError
from splitbench.features.store import FeatureSplit, FeatureStore, _check_finite
from splitbench.features.store_meta import _DTYPES, SplitMeta, StoreMeta, _layout
from splitbench.features.verify import first_non_finite, remember_verified


class StoreWriter:
    """Create or resume a store directory.

    Args:
        path: Target directory.
        meta: Store metadata. When ``path`` already holds a store with the same key, its
            finished shards are kept (resume); a store with another key is an error.
    """

    def __init__(self, path: Path, meta: StoreMeta) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        meta_path = self.path / "store.json"
        if meta_path.is_file():
            old = StoreMeta.from_json(meta_path.read_text(), str(meta_path))
            if old.identity_key != meta.identity_key:
                raise DataError(
                    f"{self.path} holds a feature store for another model, subset or view "
                    f"protocol (key {old.identity_key}, wanted {meta.identity_key}); choose "
                    f"another directory"
                )
            meta = old
        self.meta = meta
        self._flush()  # claim the folder at once, so a second writer sees what it holds

    def done_videos(self, split: str) -> set[str]:
        """Videos already written to ``split`` by finished shards."""
        if split not in self.meta.splits or not self.meta.splits[split].shards:
            return set()
        return set(FeatureStore(self.path).split(split).videos.tolist())

    def write_head(self, weight: np.ndarray, bias: np.ndarray) -> None:
        """Write the base head (float32)."""
        from safetensors.numpy import save_file

        c = len(self.meta.labels)
        if weight.shape != (c, self.meta.dim) or bias.shape != (c,):
            raise DataError(
                f"head of shape {tuple(weight.shape)} does not fit {c} labels × dim {self.meta.dim}"
            )
        tensors = {
            "weight": np.ascontiguousarray(weight, dtype=np.float32),
            "bias": np.ascontiguousarray(bias, dtype=np.float32),
        }
        for name, arr in tensors.items():
            row = first_non_finite(arr)
            if row is not None:
                raise DataError(
                    f"{self.path}: base head {name} row {row} is not finite; not writing it"
                )
        target = self.path / "head.safetensors"
        with atomic_path(target) as tmp:
            save_file(tensors, str(tmp))
            digest = file_sha256(tmp)
        self.meta.head_digest = digest
        self._flush()

    def add_shard(self, split: str, videos: list[str], features: np.ndarray) -> None:
        """Append a shard of ``features`` (n, V, D) for ``videos`` to ``split``."""
        n, views, dim = features.shape
        if dim != self.meta.dim or n != len(videos):
            raise DataError(
                f"shard for {split!r}: got {n} videos × {views} views × dim {dim}, expected "
                f"{len(videos)} videos × dim {self.meta.dim}"
            )
        sm = self.meta.splits.setdefault(split, SplitMeta(views=views))
        if sm.views != views:
            raise DataError(f"split {split!r} has {sm.views} views per video, shard has {views}")
        np_dtype, pa_dtype = _DTYPES[self.meta.dtype]
        cast = np.ascontiguousarray(features, dtype=np_dtype)
        _check_finite(cast, videos, f"{self.path}: new {split!r} shard ({self.meta.dtype})")
        col = pa.FixedSizeListArray.from_arrays(
            pa.array(cast.reshape(-1), type=pa_dtype), views * dim
        )
        table = pa.table({"video": pa.array(videos, type=pa.string()), "features": col})
        name = f"{split}-{len(sm.shards):05d}.arrow"
        with atomic_path(self.path / name) as tmp:
            with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
                w.write_table(table)
            digest = file_sha256(tmp)
        remember_verified(self.path / name, digest, _layout(np_dtype, views, dim))
        sm.digests[name] = digest
        sm.content = None  # recomputed by finish()
        sm.shards.append(name)
        sm.count += n
        self._flush()

    def update_extra(self, **extra: Any) -> None:
        """Merge ``extra`` into the metadata's free-form provenance and save it atomically."""
        self.meta.extra.update(extra)
        self._flush()

    def finish(self, *, backbone_passes: int | None = None, **extra: Any) -> FeatureStore:
        """Record final counts and provenance; return the readable store."""
        if backbone_passes is not None:
            self.meta.backbone_passes = backbone_passes
        store = FeatureStore(self.path)
        for name, sm in self.meta.splits.items():
            if sm.content is None and set(sm.shards) <= set(sm.digests):
                sm.content = _content_digest(store.split(name))
        self.update_extra(**extra)
        return FeatureStore(self.path)

    def _flush(self) -> None:
        atomic_write_text(self.path / "store.json", self.meta.to_json())


def _content_digest(split: FeatureSplit) -> str:
    """SHA-256 of a split's video ids and feature values (dtype and shape included)."""
    f = split.features
    header = f"{f.dtype.str}|{f.shape}|"
    ids = "\0".join(str(v) for v in split.videos)
    return sha256_parts([header, ids, np.ascontiguousarray(f).data])
