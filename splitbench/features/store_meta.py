"""The metadata of a feature store: what ``store.json`` holds, as pydantic models.

:class:`StoreMeta` identifies a store's content (benchmark, subset, base model, view
protocol, digests) and parses and writes ``store.json``; :class:`SplitMeta` describes one
split's shards. Read by :mod:`splitbench.features.store`, written by
:mod:`splitbench.features.store_writer`.
"""

from __future__ import annotations

import json
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

from splitbench.core.hashing import json_hash
from splitbench.errors import DataError

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


def _layout(dtype: Any, views: int, dim: int) -> str:
    """How a shard's values are read (what its finite check was done for)."""
    return f"{np.dtype(dtype).str}|{views}x{dim}"
