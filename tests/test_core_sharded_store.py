"""Multi-shard store splits are memory-mapped views, indexed like one array."""

from __future__ import annotations

import numpy as np
import pytest

from splitbench.features.sharded import ShardedFeatures


@pytest.fixture
def parts() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(size=(n, 2, 3)).astype(np.float16) for n in (4, 1, 5)]


@pytest.mark.parametrize(
    "index",
    [
        np.array([0, 9, 4, 5, 3]),
        np.array([], dtype=np.int64),
        slice(2, 8),
        slice(None, None, -3),
        7,
        -1,
        [1, 1, 6],
        (np.array([2, 8]), 1),
        np.arange(10) % 3 == 0,
    ],
)
def test_indexing_matches_the_concatenation(parts, index) -> None:  # type: ignore[no-untyped-def]
    whole = np.concatenate(parts)
    view = ShardedFeatures(parts)
    assert view.shape == whole.shape and len(view) == len(whole) and view.dtype == whole.dtype
    np.testing.assert_array_equal(view[index], whole[index])


def test_whole_array_only_on_request(parts) -> None:  # type: ignore[no-untyped-def]
    view = ShardedFeatures(parts)
    assert np.asarray(view, dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(np.asarray(view), np.concatenate(parts))
    with pytest.raises(IndexError):
        view[np.array([10])]


def test_multi_shard_store_opens_without_a_copy(tmp_path, synthetic_stores) -> None:  # type: ignore[no-untyped-def]
    from splitbench.features.store import FeatureStore, StoreMeta
    from splitbench.features.store_writer import StoreWriter

    src = synthetic_stores["A"]
    val = src.split("val")
    meta = StoreMeta.from_json(src.meta.to_json(), "copy")
    meta.splits = {}
    writer = StoreWriter(tmp_path / "s", meta)
    w, b = src.head()
    writer.write_head(w, b)
    half = len(val.videos) // 2
    writer.add_shard("val", val.videos[:half].tolist(), np.asarray(val.features[:half]))
    writer.add_shard("val", val.videos[half:].tolist(), np.asarray(val.features[half:]))
    writer.finish(backbone_passes=0, note="two shards")
    split = FeatureStore(tmp_path / "s").split("val")
    assert isinstance(split.features, ShardedFeatures) and len(split.features.parts) == 2
    np.testing.assert_array_equal(np.asarray(split.features), np.asarray(val.features))
    rows = split.rows_of([str(val.videos[-1]), str(val.videos[0])])
    np.testing.assert_array_equal(split.features[rows], np.asarray(val.features)[[-1, 0]])
