"""The feature store: cached per-view backbone features plus the base head.

One store holds one (benchmark, subset, base model, view protocol). On disk::

    store.json                 metadata (schema, identity, view protocol, counts, passes)
    head.safetensors           base head: ``weight`` (C, D) and ``bias`` (C)
    <split>-<NNNNN>.arrow      Arrow IPC shards: ``video`` (string) and ``features``
                               (fixed-size list of V·D half floats), memory-mapped on read

Shards are written atomically (temp file + rename) and ``store.json`` lists only finished
shards, so an interrupted extraction can resume from the last finished shard. Synthetic and
extracted stores are read by the same code.

This module reads a store; its metadata models live in :mod:`splitbench.features.store_meta`
and its writer in :mod:`splitbench.features.store_writer`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from splitbench.core.hashing import sha256_hex
from splitbench.errors import DataError
from splitbench.features.sharded import ShardedFeatures
from splitbench.features.store_meta import (
    _DTYPES,
    STORE_SCHEMA,
    Sha256,
    SplitMeta,
    StoreMeta,
    _layout,
)
from splitbench.features.verify import (
    first_non_finite,
    known_finite,
    note_unverified,
    remember_finite,
    verify_file,
)

__all__ = [
    "STORE_SCHEMA",
    "FeatureSplit",
    "FeatureStore",
    "Sha256",
    "SplitMeta",
    "StoreMeta",
]


@dataclass(frozen=True, eq=False)
class FeatureSplit:
    """The features of one split, memory-mapped.

    Attributes:
        name: Split name.
        videos: Video ids in store order (object array of ``str``).
        features: ``(n, V, D)`` array (float16 or float32), read-only; several shards are
            a :class:`~splitbench.features.sharded.ShardedFeatures` view, not a copy.
    """

    name: str
    videos: np.ndarray
    features: np.ndarray | ShardedFeatures

    @cached_property
    def position(self) -> Mapping[str, int]:
        """Video id → row."""
        return {str(v): i for i, v in enumerate(self.videos)}

    def rows_of(self, videos: Iterable[str], *, store: str = "") -> np.ndarray:
        """Rows of ``videos`` in this split.

        Raises:
            DataError: naming the first video that the store lacks.
        """
        pos = self.position
        out = []
        for v in videos:
            r = pos.get(v)
            if r is None:
                raise DataError(
                    f"feature store {store}: split {self.name!r} has no features for video "
                    f"{v!r}; re-run extraction for this subset"
                )
            out.append(r)
        return np.asarray(out, dtype=np.int64)


class FeatureStore:
    """Read access to a feature store directory.

    Args:
        path: The store directory (holding ``store.json``).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        meta_path = self.path / "store.json"
        if not meta_path.is_file():
            raise DataError(f"{self.path}: not a feature store (no store.json)")
        self.meta = StoreMeta.from_json(meta_path.read_text(), str(meta_path))
        self._splits: dict[str, FeatureSplit] = {}

    def head(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the base head ``(weight (C, D), bias (C,))`` as float32 arrays.

        The file's bytes are checked against the digest in ``store.json``.

        Raises:
            DataError: if the file is missing, damaged, non-finite or of the wrong shape.
        """
        from safetensors import SafetensorError
        from safetensors.numpy import load

        p = self.path / "head.safetensors"
        _check_readable(p, "base head file")
        data = p.read_bytes()
        if self.meta.head_digest is None:
            note_unverified(self.path, "feature store made before content digests")
        elif sha256_hex(data) != self.meta.head_digest:
            raise DataError(
                f"{p}: base head content does not match the digest recorded in store.json; "
                f"the file is damaged or was edited — restore or regenerate the store"
            )
        try:
            t = load(data)
        except (SafetensorError, ValueError) as exc:
            raise DataError(f"{p}: not a readable safetensors file ({exc})") from None
        if "weight" not in t or "bias" not in t:
            raise DataError(f"{p}: expected tensors 'weight' and 'bias', found {sorted(t)}")
        w, b = t["weight"].astype(np.float32), t["bias"].astype(np.float32)
        c = len(self.meta.labels)
        if w.shape != (c, self.meta.dim) or b.shape != (c,):
            raise DataError(
                f"{p}: head has weight {tuple(w.shape)} and bias {tuple(b.shape)}; store.json "
                f"promises {c} labels × dimension {self.meta.dim}"
            )
        for name, arr in (("weight", w), ("bias", b)):
            row = first_non_finite(arr)
            if row is not None:
                raise DataError(f"{p}: {name} row {row} ({self.meta.labels[row]!r}) is not finite")
        return w, b

    def verify(self) -> None:
        """Check every file of the store now: digests, shapes and finite numbers.

        Each file is hashed and scanned once per process (see
        :mod:`splitbench.features.verify`), so a store that was already read costs nothing
        more: a split whose shards are all unchanged since they were checked is not even
        opened again. A split this call opens is closed again once checked, so the pages
        its scan touched do not stay resident.

        Raises:
            DataError: naming the first damaged file.
        """
        self.head()
        for name, sm in self.meta.splits.items():
            if name not in self._splits and not self._checked_before(sm):
                self.split(name)
                self.close_split(name)  # checked: its scanned pages need not stay mapped

    def _checked_before(self, sm: SplitMeta) -> bool:
        """Whether every shard of the split was verified and found finite, unchanged since."""
        layout = _layout(_DTYPES[self.meta.dtype][0], sm.views, self.meta.dim)
        return all(known_finite(self.path / n, sm.digests.get(n), layout) for n in sm.shards)

    def close_split(self, name: str) -> None:
        """Forget the cached split ``name`` (the next :meth:`split` opens it again).

        Its memory-mapped pages are released once no array still views them.
        """
        self._splits.pop(name, None)

    def has_split(self, name: str) -> bool:
        """Whether the store has a split called ``name``."""
        return name in self.meta.splits

    def skipped(self, split: str) -> dict[str, str]:
        """Videos of ``split`` that extraction skipped (missing or corrupt) → reason."""
        raw = self.meta.extra.get("skipped", {}).get(split, {})
        return {str(k): str(v) for k, v in raw.items()}

    def split(self, name: str) -> FeatureSplit:
        """Open (and cache) a split.

        Raises:
            DataError: for a missing split, missing shards, or shards of the wrong shape.
        """
        if name in self._splits:
            return self._splits[name]
        if name not in self.meta.splits:
            raise DataError(
                f"feature store {self.path} has no {name!r} split "
                f"(has {', '.join(self.meta.splits) or 'none'})"
            )
        sm = self.meta.splits[name]
        np_dtype, _ = _DTYPES[self.meta.dtype]
        videos: list[np.ndarray] = []
        feats: list[np.ndarray] = []
        width = sm.views * self.meta.dim
        for shard in sm.shards:
            p = self.path / shard
            _check_readable(p, "shard listed in store.json")
            if shard in sm.digests:
                verify_file(p, sm.digests[shard], "shard")
            else:
                note_unverified(self.path, "feature store made before content digests")
            table = _read_shard(p)
            chunked = table.column("features")
            # one record batch (what the writer writes): its array as it is, a view of the
            # memory map; combine_chunks would copy it (a shard's size, held per open split)
            col = chunked.chunk(0) if chunked.num_chunks == 1 else chunked.combine_chunks()
            if col.type.list_size != width:
                raise DataError(
                    f"{p}: rows hold {col.type.list_size} values, expected views × dim = "
                    f"{sm.views} × {self.meta.dim}"
                )
            flat = _numpy_view(col.values, p)
            part = flat.reshape(len(table), sm.views, self.meta.dim).astype(np_dtype, copy=False)
            vids = np.array(table.column("video").to_pylist(), dtype=object)
            digest = sm.digests.get(shard)
            layout = _layout(np_dtype, sm.views, self.meta.dim)
            if not known_finite(p, digest, layout):  # an unchanged, verified shard: once
                _check_finite(part, vids, f"{p}: split {name!r}")
                remember_finite(p, digest, layout)
            feats.append(part)
            videos.append(vids)
        if feats:
            arr = feats[0] if len(feats) == 1 else ShardedFeatures(feats)  # no copy
            vids = np.concatenate(videos).astype(object)
        else:
            arr = np.zeros((0, sm.views, self.meta.dim), dtype=np_dtype)
            vids = np.zeros(0, dtype=object)
        out = FeatureSplit(name, vids, arr)
        self._splits[name] = out
        return out


def _check_readable(path: Path, what: str) -> None:
    """A one-line error for a missing file, or one the OS cannot stat (loops, permissions)."""
    try:
        path.stat()
    except FileNotFoundError:
        if not path.is_symlink():
            raise DataError(f"{path}: {what} is missing") from None
        raise DataError(f"{path}: {what} is a broken symbolic link") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror})") from None
    if not path.is_file():
        raise DataError(f"{path}: {what} is not a file")


def _read_shard(path: Path) -> pa.Table:
    try:
        return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        raise DataError(f"{path}: not a readable Arrow shard ({exc})") from None


def _numpy_view(values: pa.Array, path: Path) -> np.ndarray:
    """A zero-copy NumPy view of a shard's feature values.

    ``pa.Array.to_numpy`` would do the same but imports pandas on first use (0.4 s, about a tenth
    of a warm ``make run``), so the view is taken from the values buffer directly.

    Raises:
        DataError: when the values hold nulls (a feature store never writes any).
    """
    if values.null_count:
        raise DataError(f"{path}: {values.null_count} feature values are null")
    dtype = np.dtype(values.type.to_pandas_dtype())
    buffer = values.buffers()[1]
    assert buffer is not None  # a primitive array always has its data buffer
    return np.frombuffer(
        buffer, dtype=dtype, count=len(values), offset=values.offset * dtype.itemsize
    )


def _check_finite(features: np.ndarray, videos: Any, where: str) -> None:
    """Refuse features holding NaN or ±Inf, naming the first such video."""
    row = first_non_finite(features)
    if row is not None:
        bad = int((~np.isfinite(features.reshape(len(features), -1)).all(axis=1)).sum())
        raise DataError(
            f"{where}: video {str(videos[row])!r} has non-finite features (NaN or Inf; "
            f"{bad} video(s) in all); a store with non-finite features is not scored"
        )
