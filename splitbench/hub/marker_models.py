"""The marker JSON of a hub data folder, as pydantic models.

:class:`BenchmarkMarker` is ``splitbench-benchmark.json``, :class:`FeaturesMarker`
``splitbench-features.json``. A field that is missing or of the wrong type is a one-line
:class:`DataError` naming the marker file, the field and what was expected (``<file>: field
'version': Input should be a valid string``), the same style as a malformed result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)

from splitbench.results.io import schema_error

M = TypeVar("M", bound=BaseModel)


class FolderMarker(BaseModel):
    """What every hub data folder's marker holds besides its format: a mapping of subsets."""

    model_config = ConfigDict(extra="allow", frozen=True)

    subsets: dict[str, Any]


class BenchmarkSubsetEntry(BaseModel):
    """A subset's entry in a benchmark marker (its digests etc. are read elsewhere)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    findings: list[Any]


class BenchmarkMarker(FolderMarker):
    """``splitbench-benchmark.json``: the benchmark's identity, group scheme and partition."""

    subsets: dict[str, BenchmarkSubsetEntry]
    group_scheme: dict[str, list[str]]
    partition: dict[str, list[str]]
    name: StrictStr
    display_name: StrictStr
    version: StrictStr
    simulation: StrictBool
    modifier_source: StrictStr
    citation: StrictStr
    video_size: tuple[StrictInt, StrictInt] | None = None


class FeatureSplitEntry(BaseModel):
    """How many videos one split of a feature store holds, and views per video."""

    model_config = ConfigDict(extra="allow", frozen=True)

    views: StrictInt = Field(ge=1)
    count: StrictInt = Field(ge=0)


class FeatureStoreEntry(BaseModel):
    """A subset's store metadata (``store.json`` minus shards; checked by ``StoreMeta``).

    Only ``splits`` (views and count per split, in place of the shard list) is its own; the
    other fields are kept as given (:attr:`model_extra`) for the store's own model.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    splits: dict[str, FeatureSplitEntry]


class FeatureSubsetEntry(BaseModel):
    """A subset's entry in a features marker: its store, head file and file digests."""

    model_config = ConfigDict(extra="allow", frozen=True)

    key: StrictStr
    store: FeatureStoreEntry
    head: StrictStr | None = None
    digests: dict[str, StrictStr] | None = None


class FeaturesMarker(FolderMarker):
    """``splitbench-features.json``: one feature store per subset."""

    subsets: dict[str, FeatureSubsetEntry]


def validate_marker(model: type[M], raw: dict[str, Any], where: Path) -> M:
    """``raw`` (a marker's parsed JSON) checked against ``model``.

    Raises:
        DataError: one line naming ``where``, the first bad field and what was expected.
    """
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise schema_error(str(where), exc) from None
