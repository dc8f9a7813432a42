"""The feature store: cached per-view backbone features plus the base head.

One store holds one (benchmark, subset, base model, view protocol). On disk::

    store.json                 metadata (schema, identity, view protocol, counts, passes)
    head.safetensors           base head: ``weight`` (C, D) and ``bias`` (C)
    <split>-<NNNNN>.arrow      Arrow IPC shards: ``video`` (string) and ``features``
                               (fixed-size list of V·D half floats), memory-mapped on read

Shards are written atomically (temp file + rename) and ``store.json`` lists only finished
shards, so an interrupted extraction can resume from the last finished shard. Synthetic and
extracted stores are read by the same code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pyarrow as pa
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    StringConstraints,
    ValidationError,
    field_validator,
)

from splitbench.atomic import atomic_path, atomic_write_text
from splitbench.core.hashing import file_sha256, json_hash, sha256_hex, sha256_parts
from splitbench.errors import DataError
from splitbench.features.sharded import ShardedFeatures
from splitbench.features.verify import (
    first_non_finite,
    known_finite,
    note_unverified,
    remember_finite,
    remember_verified,
    verify_file,
)

STORE_SCHEMA = "splitbench.features/1"
_DTYPES = {"float16": (np.float16, pa.float16()), "float32": (np.float32, pa.float32())}
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class SplitMeta(BaseModel):
    """Metadata of one split of a store (``val`` or ``train``).

    Attributes:
        views: Views per video (e.g. 6 = 2 segments × 3 crops).
        count: Videos written so far.
        shards: Finished shard file names, in order.
        digests: Shard file name → SHA-256 of its bytes, recorded when it was written
            (empty in stores made before content digests).
        content: SHA-256 of the split's video ids and feature values in order, independent
            of how they are cut into shards; set when the writer finishes.
    """

    model_config = ConfigDict(extra="forbid")

    views: PositiveInt
    count: NonNegativeInt = 0
    shards: list[str] = Field(default_factory=list)
    digests: dict[str, Sha256] = Field(default_factory=dict)
    content: Sha256 | None = None


class StoreMeta(BaseModel):
    """Everything that identifies a store's content.

    Attributes:
        benchmark: Benchmark name.
        benchmark_version: Benchmark definition version.
        benchmark_revision: Revision of the annotation data the store was made for.
        subset: Subset name.
        model: Base-model identity (name, architecture, ``checkpoint_sha256``, ...).
        view_protocol: How views were sampled (frames, segments, crops, sizes, normalisation).
        dtype: Feature dtype on disk.
        dim: Feature dimension D.
        labels: Base label texts, matching the head rows.
        splits: Split name → :class:`SplitMeta`.
        backbone_passes: Backbone forward passes (one per video view) spent to fill the store.
        simulation: True if the features are simulated, not extracted from videos.
        extra: Free-form provenance (tool versions, skipped videos, sanity figures).
        head_digest: SHA-256 of ``head.safetensors`` (None before the head is written, and in
            stores made before content digests).
        schema: Store schema id.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    benchmark: str
    benchmark_version: str
    benchmark_revision: str
    subset: str
    model: dict[str, Any]
    view_protocol: dict[str, Any]
    dtype: str
    dim: PositiveInt
    labels: list[str]
    splits: dict[str, SplitMeta] = Field(default_factory=dict)
    backbone_passes: NonNegativeInt = 0
    simulation: bool = False
    extra: dict[str, Any] = Field(default_factory=dict)
    head_digest: Sha256 | None = None
    schema_: str = Field(default=STORE_SCHEMA, alias="schema")

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, value: str) -> str:
        if value not in _DTYPES:
            raise ValueError(f"dtype {value!r} is not one of {', '.join(_DTYPES)}")
        return value

    @property
    def identity_key(self) -> str:
        """Hash of what the store is meant to hold (model, subset, views), not of its bytes.

        A resumed extraction must match it; it is also the whole :attr:`key` of a store made
        before content digests.
        """
        ident = {
            "benchmark": self.benchmark,
            "version": self.benchmark_version,
            "revision": self.benchmark_revision,
            "subset": self.subset,
            "model": self.model,
            "view_protocol": self.view_protocol,
            "dtype": self.dtype,
            "simulation": self.simulation,
        }
        return json_hash(ident, 16)

    @property
    def verified(self) -> bool:
        """Whether every file of the store has a recorded digest."""
        return self.head_digest is not None and all(
            set(sm.shards) <= set(sm.digests) for sm in self.splits.values()
        )

    @property
    def key(self) -> str:
        """Content key: the identity plus the digests of the head and of every split.

        Two stores with the same key hold the same numbers (however their splits are cut
        into shards, so a store and its hub round trip agree), so results made on one resume
        into and average with results made on the other, and on no other store.
        """
        if not self.verified:
            return self.identity_key
        digests = {
            "head": self.head_digest,
            "splits": {
                s: sm.content or [sm.digests[n] for n in sm.shards] for s, sm in self.splits.items()
            },
        }
        return json_hash({"identity": self.identity_key, "digests": digests}, 16)

    def to_json(self) -> str:
        """Serialise to JSON text."""
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str) -> StoreMeta:
        """Parse and check ``store.json`` text.

        Raises:
            DataError: if the schema or fields are wrong.
        """
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(raw, dict):
            raise DataError(f"{where}: expected a JSON object")
        if raw.get("schema") != STORE_SCHEMA:
            raise DataError(f"{where}: schema is {raw.get('schema')!r}, expected {STORE_SCHEMA!r}")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            e = exc.errors()[0]
            loc = ".".join(str(p) for p in e["loc"])
            raise DataError(f"{where}: field {loc!r}: {e['msg']}") from None


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


def _layout(dtype: Any, views: int, dim: int) -> str:
    """How a shard's values are read (what its finite check was done for)."""
    return f"{np.dtype(dtype).str}|{views}x{dim}"


def _content_digest(split: FeatureSplit) -> str:
    """SHA-256 of a split's video ids and feature values (dtype and shape included)."""
    f = split.features
    header = f"{f.dtype.str}|{f.shape}|"
    ids = "\0".join(str(v) for v in split.videos)
    return sha256_parts([header, ids, np.ascontiguousarray(f).data])


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
