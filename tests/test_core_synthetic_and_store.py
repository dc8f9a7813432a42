"""The synthetic benchmark (a simulation) and the feature store."""

from __future__ import annotations

import json

import numpy as np
import pytest

from splitbench.benchmarks import taxonomy as tx
from splitbench.benchmarks.synthetic import SyntheticConfig, build_world, synthetic_benchmark
from splitbench.errors import DataError
from splitbench.features.store import FeatureStore, StoreMeta
from splitbench.features.store_writer import StoreWriter


def test_synthetic_structure(synthetic):
    assert synthetic.simulation and "simulation" in synthetic.display_name.lower()
    a, b = synthetic.subset("A"), synthetic.subset("B")
    assert len(a.targets) + len(b.targets) == len(tx.GROUPS)
    # mixed granularity: A's targets are B's fine groups and vice versa
    assert {t.name for t in a.targets} == {g.name for g in b.fine_groups}
    assert len(a.singletons) == len(tx.SINGLETONS)
    for s in (a, b):
        for t in s.targets:
            assert t.fine_indices == tuple(range(s.num_labels, s.num_labels + t.k))
            assert len(t.equivalent) + len(t.unrelated) == len(s.val)
            assert (s.val.labels[t.equivalent.rows] == t.coarse_index).all()
            assert t.split_types


def test_taxonomy_has_paraphrases_and_unseen_modifiers():
    concepts_by_subset = {
        s: {c for g in tx.GROUPS if g.subset == s for c, _ in g.members} for s in "AB"
    }
    # a concept used only by A's targets is unseen by base model A (whose dictionary is B's)
    assert concepts_by_subset["A"] - concepts_by_subset["B"]
    assert concepts_by_subset["B"] - concepts_by_subset["A"]
    phrases = {}
    for g in tx.GROUPS:
        for c, v in g.members:
            phrases.setdefault(c, set()).add(tx.modifier(c, v))
    assert any(len(p) > 1 for p in phrases.values())  # the same concept, phrased differently


def test_world_is_deterministic_and_seeded():
    w1, w2 = build_world(SyntheticConfig()), build_world(SyntheticConfig())
    assert np.array_equal(w1.means, w2.means) and np.array_equal(w1.val_class, w2.val_class)
    w3 = build_world(SyntheticConfig(seed=1))
    assert not np.array_equal(w1.means, w3.means)
    assert SyntheticConfig().key() != SyntheticConfig(seed=1).key()
    assert synthetic_benchmark().revision == f"synthetic:{SyntheticConfig().key()}"


def test_synthetic_stores_are_cached(synthetic, synthetic_stores):
    from splitbench.features.simulate import synthetic_stores as again

    s2 = again()
    assert s2["A"].path == synthetic_stores["A"].path
    meta = synthetic_stores["A"].meta
    assert meta.simulation and meta.backbone_passes == 0
    assert meta.labels == list(synthetic.subset("A").labels)
    val = synthetic_stores["A"].split("val")
    assert val.features.shape == (len(synthetic.subset("A").val), 6, 384)
    w, b = synthetic_stores["A"].head()
    assert w.shape == (len(meta.labels), 384) and b.shape == (len(meta.labels),)


def _meta(**kw) -> StoreMeta:
    base = {
        "benchmark": "b",
        "benchmark_version": "1",
        "benchmark_revision": "r",
        "subset": "A",
        "model": {"name": "m"},
        "view_protocol": {"v": 2},
        "dtype": "float16",
        "dim": 4,
        "labels": ["x", "y", "z"],
    }
    base.update(kw)
    return StoreMeta(**base)


def test_store_round_trip_and_resume(tmp_path):
    w = StoreWriter(tmp_path, _meta())
    w.write_head(np.ones((3, 4), np.float32), np.zeros(3, np.float32))
    f1 = np.arange(2 * 2 * 4, dtype=np.float32).reshape(2, 2, 4)
    w.add_shard("val", ["a", "b"], f1)
    # a new writer on the same folder keeps finished shards
    w2 = StoreWriter(tmp_path, _meta())
    assert w2.done_videos("val") == {"a", "b"}
    w2.add_shard("val", ["c"], np.full((1, 2, 4), 7, np.float32))
    store = w2.finish(backbone_passes=6)
    split = store.split("val")
    assert split.videos.tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(split.features[:2], f1.astype(np.float16))
    assert split.rows_of(["c", "a"]).tolist() == [2, 0]
    assert store.meta.backbone_passes == 6
    with pytest.raises(DataError, match="no features for video 'zz'"):
        split.rows_of(["zz"])


def test_store_errors(tmp_path):
    w = StoreWriter(tmp_path, _meta())
    with pytest.raises(DataError, match="does not fit 3 labels"):
        w.write_head(np.ones((2, 4), np.float32), np.zeros(2, np.float32))
    with pytest.raises(DataError, match="expected 1 videos × dim 4"):
        w.add_shard("val", ["a"], np.zeros((1, 2, 5), np.float32))
    with pytest.raises(DataError, match="another model, subset or view protocol"):
        StoreWriter(tmp_path, _meta(view_protocol={"v": 3}))
    w.add_shard("val", ["a"], np.zeros((1, 2, 4), np.float32))
    (tmp_path / "val-00000.arrow").unlink()
    with pytest.raises(DataError, match=r"shard listed in store\.json is missing"):
        FeatureStore(tmp_path).split("val")
    with pytest.raises(DataError, match="not a feature store"):
        FeatureStore(tmp_path / "nowhere")


def test_store_schema_is_checked(tmp_path):
    StoreWriter(tmp_path, _meta()).finish()
    raw = json.loads((tmp_path / "store.json").read_text())
    raw["schema"] = "other/9"
    (tmp_path / "store.json").write_text(json.dumps(raw))
    with pytest.raises(DataError, match="schema is 'other/9'"):
        FeatureStore(tmp_path)


def test_store_key_tracks_content():
    assert _meta().key == _meta().key
    assert _meta().key != _meta(model={"name": "other"}).key
    assert _meta().key != _meta().model_copy(update={"subset": "B"}).key


@pytest.mark.official
def test_simulated_official_store(official_root, tmp_path):
    from splitbench.catalog import load_benchmark
    from splitbench.features.simulate import simulate_official_store

    bench = load_benchmark("finegym-split", official_root)
    store = simulate_official_store(
        bench, "B", tmp_path / "B", SyntheticConfig(dim=16, train_views=1)
    )
    sub = bench.subset("B")
    assert store.meta.simulation
    assert store.split("val").videos.tolist() == sub.val.videos.tolist()
    ft = {v for t in sub.targets for v in sub.train.videos[t.ft.rows]}
    assert ft <= set(store.split("train").videos.tolist())
