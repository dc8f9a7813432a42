"""Store checks paid once per process, still refusing what changed; exact float16 widening."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from splitbench.core.hashing import file_sha256
from splitbench.errors import DataError
from splitbench.features import store as store_mod
from splitbench.features.sharded import ShardedFeatures
from splitbench.features.store import FeatureStore
from splitbench.features.verify import all_finite, first_non_finite, forget_verified
from splitbench.protocol.context import load_val_features, widen_half


@pytest.fixture
def store_copy(tmp_path: Path, synthetic_stores) -> Path:  # type: ignore[no-untyped-def]
    dst = tmp_path / "store"
    shutil.copytree(synthetic_stores["A"].path, dst)
    forget_verified()  # what an earlier test verified says nothing about this copy
    return dst


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = store_mod._check_finite

    def counting(features, videos, where):  # type: ignore[no-untyped-def]
        seen.append(where)
        real(features, videos, where)

    monkeypatch.setattr(store_mod, "_check_finite", counting)
    return seen


def _strip_digests(root: Path) -> None:
    raw = json.loads((root / "store.json").read_text())
    raw.pop("head_digest", None)
    for sm in raw["splits"].values():
        sm.pop("digests", None)
        sm.pop("content", None)
    (root / "store.json").write_text(json.dumps(raw))


def _write_nan_shard(root: Path, *, record_digest: bool) -> None:
    """Video 3 of the val shard gets NaN; optionally store.json records the new digest."""
    shard = root / "val-00000.arrow"
    table = pa.ipc.open_file(pa.BufferReader(shard.read_bytes())).read_all()
    col = table.column("features").combine_chunks()
    values = col.values.to_numpy(zero_copy_only=False).copy()
    values[3 * col.type.list_size] = np.nan
    new = pa.FixedSizeListArray.from_arrays(
        pa.array(values, type=col.type.value_type), col.type.list_size
    )
    table = table.set_column(1, "features", new)
    with pa.OSFile(str(shard), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    if record_digest:
        raw = json.loads((root / "store.json").read_text())
        raw["splits"]["val"]["digests"]["val-00000.arrow"] = file_sha256(shard)
        raw["splits"]["val"]["content"] = None
        (root / "store.json").write_text(json.dumps(raw))


def test_a_verified_store_is_scanned_once_per_process(store_copy: Path, scans: list[str]) -> None:
    first = FeatureStore(store_copy)
    first.verify()
    n = len(scans)
    assert n == len(first.meta.splits)  # one shard per split in the synthetic store
    first.close_split("val")
    first.verify()  # neither reopened nor scanned
    assert "val" not in first._splits
    again = FeatureStore(store_copy)  # another instance of the same, unchanged files
    again.verify()
    again.split("val")
    assert len(scans) == n


def test_a_store_without_digests_is_scanned_on_every_open(
    store_copy: Path, scans: list[str]
) -> None:
    _strip_digests(store_copy)
    FeatureStore(store_copy).verify()
    n = len(scans)
    FeatureStore(store_copy).verify()
    assert len(scans) == 2 * n


@pytest.mark.parametrize("record_digest", [False, True])
def test_a_shard_changed_after_its_check_is_refused_in_the_same_process(
    store_copy: Path, record_digest: bool
) -> None:
    FeatureStore(store_copy).verify()  # verified and scanned: cached for the unchanged file
    _write_nan_shard(store_copy, record_digest=record_digest)
    expected = "has non-finite features" if record_digest else "content does not match"
    with pytest.raises(DataError, match=expected):
        FeatureStore(store_copy).verify()
    with pytest.raises(DataError, match=expected):
        FeatureStore(store_copy).split("val")


def test_a_store_json_reading_the_bytes_another_way_is_checked_again(store_copy: Path) -> None:
    FeatureStore(store_copy).verify()
    raw = json.loads((store_copy / "store.json").read_text())
    raw["splits"]["val"]["views"] *= 2  # same shard bytes, another row layout
    (store_copy / "store.json").write_text(json.dumps(raw))
    with pytest.raises(DataError, match="expected views × dim"):
        FeatureStore(store_copy).verify()


def _special(dtype: type[np.floating]) -> np.ndarray:
    info = np.finfo(dtype)
    return np.array(
        [0.0, -0.0, 1.0, info.max, -info.max, info.tiny, info.smallest_subnormal, np.pi],
        dtype=dtype,
    )


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("bad", [None, np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("at", [0, 5, 7])
def test_all_finite_agrees_with_isfinite(
    dtype: type[np.floating], bad: float | None, at: int
) -> None:
    values = np.tile(_special(dtype), (8, 3)).reshape(8, 3, -1)
    if bad is not None:
        values[at, 1, 2] = bad
    for arr in (values, values[:, ::2]):  # contiguous and strided
        expected = bool(np.isfinite(arr).all())
        assert all_finite(arr) is expected
        rows = np.isfinite(arr).reshape(len(arr), -1).all(axis=1)
        assert first_non_finite(arr) == (None if expected else int(np.flatnonzero(~rows)[0]))


def test_widening_float16_is_bit_exact() -> None:
    every = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    every = every[~np.isnan(every)].reshape(-1, 1, 1)  # every finite value, ±0, ±Inf
    parts = [every[:1000], every[1000:40000], every[40000:]]
    got = widen_half(parts).numpy()
    want = every.astype(np.float32)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def test_val_features_equal_numpy_widening_one_shard_and_several(
    tmp_path: Path, synthetic, synthetic_stores
) -> None:  # type: ignore[no-untyped-def]
    from splitbench.features.store import StoreMeta
    from splitbench.features.store_writer import StoreWriter

    src = synthetic_stores["A"]
    subset = synthetic.subset("A")
    val = src.split("val")
    meta = StoreMeta.from_json(src.meta.to_json(), "copy")
    meta.splits = {}
    writer = StoreWriter(tmp_path / "s", meta)
    writer.write_head(*src.head())
    order = np.random.default_rng(0).permutation(len(val.videos))  # not val.csv's order
    for chunk in np.array_split(order, 3):
        writer.add_shard("val", val.videos[chunk].tolist(), np.asarray(val.features[chunk]))
    several = writer.finish(backbone_passes=0)
    assert isinstance(several.split("val").features, ShardedFeatures)
    for store in (src, several):
        split = store.split("val")
        rows = split.rows_of(subset.val.videos.tolist())
        want = np.asarray(np.asarray(split.features)[rows], dtype=np.float32)
        got = load_val_features(subset, store)
        assert got.dtype == torch.float32 and got.is_contiguous()
        assert np.array_equal(got.numpy().view(np.uint32), want.view(np.uint32))
