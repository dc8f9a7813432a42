"""Feature stores as Hub datasets: write, read back, --features hooks, identical runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hub_support import check_golden, fake_hub_cache, load_dataset_in
from typer.testing import CliRunner

from splitbench.cli.app import app
from splitbench.cli.common import resolve_stores
from splitbench.errors import DataError
from splitbench.hub import features as hub_features
from splitbench.hub.features import MARKER, load_hub_features, write_features_folder

REPO = "splitbench-test/synthetic-features"
COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


@pytest.fixture(scope="module")
def feature_folder(tmp_path_factory: pytest.TempPathFactory, synthetic_stores) -> Path:
    root = Path(synthetic_stores["A"].path).parent
    out = tmp_path_factory.mktemp("hubfeat") / "features"
    result = CliRunner().invoke(
        app,
        ["hub", "push-features", str(root), "--repo-id", REPO, "--local-dir", str(out)],
    )
    assert result.exit_code == 0, result.output
    return out


def assert_same_store(a, b) -> None:  # type: ignore[no-untyped-def]
    assert a.meta.key == b.meta.key
    assert a.meta.labels == b.meta.labels and a.meta.backbone_passes == b.meta.backbone_passes
    assert a.meta.extra == b.meta.extra
    for split in a.meta.splits:
        x, y = a.split(split), b.split(split)
        assert np.array_equal(x.videos, y.videos)
        assert x.features.dtype == y.features.dtype and np.array_equal(x.features, y.features)
    for p, q in zip(a.head(), b.head(), strict=True):
        assert np.array_equal(p, q)


def test_folder_and_card(feature_folder: Path) -> None:
    files = sorted(p.relative_to(feature_folder).as_posix() for p in feature_folder.rglob("*.*"))
    assert files == [
        "A/head.safetensors",
        "A/train-00000-of-00001.parquet",
        "A/val-00000-of-00001.parquet",
        "B/head.safetensors",
        "B/train-00000-of-00001.parquet",
        "B/val-00000-of-00001.parquet",
        "README.md",
        MARKER,
    ]
    check_golden("synthetic-features-card.md", (feature_folder / "README.md").read_text())


def test_round_trip_and_cache_reuse(
    feature_folder: Path, synthetic_stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = load_hub_features(feature_folder, ["A", "B"])
    for s in "AB":
        assert_same_store(synthetic_stores[s], loaded[s])
        assert "hub-features" in str(loaded[s].path)

    def no_second_conversion(*args: object, **kw: object) -> None:
        raise AssertionError("materialised twice")

    monkeypatch.setattr(hub_features, "_materialise", no_second_conversion)
    again = load_hub_features(feature_folder, ["B"])
    assert again["B"].path == loaded["B"].path


def test_sharding_keeps_order(synthetic_stores, tmp_path: Path) -> None:
    out = write_features_folder({"A": synthetic_stores["A"]}, tmp_path / "f", REPO, shard_mb=0.25)
    shards = [f for f in out.files if f.startswith("A/val-")]
    n = len(shards)  # how many depends on the store's size; the order is what matters
    assert n >= 2 and shards == [f"A/val-{i:05d}-of-{n:05d}.parquet" for i in range(n)]
    loaded = load_hub_features(out.path, ["A"])
    assert_same_store(synthetic_stores["A"], loaded["A"])


def test_datasets_reads_the_features(
    feature_folder: Path, synthetic_stores, tmp_path: Path
) -> None:
    val = load_dataset_in(tmp_path, str(feature_folder), name="A", split="val").with_format("numpy")
    store = synthetic_stores["A"].split("val")
    assert val.num_rows == len(store.videos)
    first = val[0]["features"]
    assert first.shape == store.features.shape[1:]
    assert np.array_equal(first.astype(store.features.dtype), store.features[0])


def test_resolve_stores_accepts_folders_and_hf(
    feature_folder: Path, synthetic_stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    stores = resolve_stores("synthetic", feature_folder, ["A"])
    assert list(stores) == ["A"]
    assert_same_store(synthetic_stores["A"], stores["A"])
    cache = tmp_path / "hf"
    fake_hub_cache(cache, REPO, feature_folder, COMMIT)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    # typer turns the option into a Path, which collapses 'hf://' to 'hf:/'
    stores = resolve_stores("synthetic", Path(f"hf://{REPO}"), ["B"])
    assert COMMIT in str(stores["B"].path)
    assert_same_store(synthetic_stores["B"], stores["B"])


def test_broken_feature_folders(feature_folder: Path, tmp_path: Path) -> None:
    def broken(damage) -> str:  # type: ignore[no-untyped-def]
        folder = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
        shutil.copytree(feature_folder, folder)
        damage(folder)
        with pytest.raises(DataError) as info:
            load_hub_features(folder, ["A", "B"])
        assert "\n" not in str(info.value)
        return str(info.value)

    def drop_subset(f: Path) -> None:
        raw = json.loads((f / MARKER).read_text())
        del raw["subsets"]["B"]
        (f / MARKER).write_text(json.dumps(raw))

    assert "no feature store for subset B (has A)" in broken(drop_subset)
    assert "data file is missing" in broken(lambda f: (f / "A/val-00000-of-00001.parquet").unlink())
    assert "head.safetensors: base head file is missing" in broken(
        lambda f: (f / "B/head.safetensors").unlink()
    )

    def float_features(f: Path) -> None:
        p = f / "A/train-00000-of-00001.parquet"
        t = pq.read_table(p)
        pq.write_table(t.set_column(1, "features", pa.array([1.0] * t.num_rows)), p)

    assert "hub feature file content does not match the digest" in broken(float_features)

    def without_digests(damage):  # type: ignore[no-untyped-def]
        def both(f: Path) -> None:  # a folder written before digests: structure still checked
            raw = json.loads((f / MARKER).read_text())
            for sub in raw["subsets"].values():
                del sub["digests"]
            (f / MARKER).write_text(json.dumps(raw))
            damage(f)

        return both

    assert "column 'features' has type double, expected" in broken(without_digests(float_features))

    def edited_identity(f: Path) -> None:
        raw = json.loads((f / MARKER).read_text())
        raw["subsets"]["A"]["store"]["model"]["name"] = "something else"
        (f / MARKER).write_text(json.dumps(raw))

    assert "edited or corrupted metadata" in broken(edited_identity)


@pytest.mark.parametrize(
    ("damage", "expect"),
    [
        (lambda r: r["subsets"].update(A=[]), "field 'subsets.A': Input should be a valid dict"),
        (lambda r: r["subsets"]["A"].pop("key"), "field 'subsets.A.key': Field required"),
        (
            lambda r: r["subsets"]["A"].update(key=7),
            "field 'subsets.A.key': Input should be a valid string",
        ),
        (
            lambda r: r["subsets"]["A"].update(store="x"),
            "field 'subsets.A.store': Input should be a valid dict",
        ),
        (
            lambda r: r["subsets"]["A"]["store"].pop("splits"),
            "field 'subsets.A.store.splits': Field required",
        ),
        (
            lambda r: r["subsets"]["A"]["store"].update(splits=["val"]),
            "field 'subsets.A.store.splits': Input should be a valid dict",
        ),
        (
            lambda r: r["subsets"]["A"]["store"]["splits"]["val"].pop("views"),
            "field 'subsets.A.store.splits.val.views': Field required",
        ),
        (
            lambda r: r["subsets"]["A"]["store"]["splits"]["val"].update(views="6"),
            "field 'subsets.A.store.splits.val.views': Input should be a valid integer",
        ),
        (
            lambda r: r["subsets"]["A"]["store"]["splits"]["val"].update(views=0),
            "field 'subsets.A.store.splits.val.views': Input should be greater than or equal to 1",
        ),
        (
            lambda r: r["subsets"]["A"]["store"]["splits"]["train"].update(count=-1),
            "splits.train.count': Input should be greater than or equal to 0",
        ),
        (
            lambda r: r["subsets"]["A"].update(head=1),
            "field 'subsets.A.head': Input should be a valid string",
        ),
        (
            lambda r: r["subsets"]["A"].update(digests=["A/head.safetensors"]),
            "field 'subsets.A.digests': Input should be a valid dict",
        ),
        (
            lambda r: r["subsets"]["A"]["digests"].update({"A/head.safetensors": 0}),
            "field 'subsets.A.digests.A/head.safetensors': Input should be a valid string",
        ),
        # a subset that is not asked for is checked too: the marker is one file
        (
            lambda r: r["subsets"]["B"].pop("store"),
            "field 'subsets.B.store': Field required",
        ),
    ],
)
def test_bad_marker_field_is_one_line_naming_file_and_field(
    feature_folder: Path, tmp_path: Path, damage, expect: str
) -> None:
    folder = tmp_path / "features"
    shutil.copytree(feature_folder, folder)
    raw = json.loads((folder / MARKER).read_text())
    damage(raw)
    (folder / MARKER).write_text(json.dumps(raw))
    with pytest.raises(DataError) as info:
        load_hub_features(folder, ["A"])
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{folder / MARKER}: ") and expect in msg, msg


@pytest.mark.slow
def test_run_from_hub_folders_gives_identical_results(
    feature_folder: Path, tmp_path: Path, synthetic_stores
) -> None:
    from splitbench.results.io import load_results

    bench_folder = tmp_path / "bench"
    runner = CliRunner()
    pushed = runner.invoke(
        app,
        [
            "hub",
            "push-benchmark",
            "synthetic",
            "--repo-id",
            "x/y",
            "--local-dir",
            str(bench_folder),
        ],
    )
    assert pushed.exit_code == 0, pushed.output
    common = [
        "run",
        "-m",
        "modifier_retrieval",
        "-s",
        "A",
        "--targets",
        "23,7,0",
        "--seeds",
        "0",
        "-q",
    ]
    a = runner.invoke(app, [*common, "-o", str(tmp_path / "a")])
    b = runner.invoke(
        app,
        [
            *common,
            "-b",
            str(bench_folder),
            "--features",
            str(feature_folder),
            "-o",
            str(tmp_path / "b"),
        ],
    )
    assert a.exit_code == 0 and b.exit_code == 0, (a.output, b.output)

    def by_unit(root: Path) -> dict:  # type: ignore[type-arg]
        return {(r.unit.target_key, r.unit.seed): r for r in load_results(root)}

    ra, rb = by_unit(tmp_path / "a"), by_unit(tmp_path / "b")
    assert sorted(ra) == sorted(rb) and len(ra) == 3
    for k in ra:
        assert ra[k].counts == rb[k].counts
        assert ra[k].metrics == rb[k].metrics
        assert ra[k].features == rb[k].features
    revision = next(iter(rb.values())).unit.benchmark_revision
    assert (
        revision.startswith("sha256:")
        and revision != next(iter(ra.values())).unit.benchmark_revision
    )
