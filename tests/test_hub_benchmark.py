"""Benchmarks as Hub datasets: write, read back (splitbench and datasets), cards, errors."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import httpx2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hub_support import assert_same_benchmark, check_golden, fake_hub_cache, load_dataset_in
from typer.testing import CliRunner

from splitbench.benchmarks.stats import subset_stats
from splitbench.catalog import load_benchmark
from splitbench.cli.app import app, main
from splitbench.errors import DataError
from splitbench.hub.benchmark import MARKER, load_hub_benchmark, write_benchmark_folder

REPO = "splitbench-test/synthetic-split"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def synthetic_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hub") / "synthetic"
    result = CliRunner().invoke(
        app, ["hub", "push-benchmark", "synthetic", "--repo-id", REPO, "--local-dir", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture()
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """huggingface_hub pointed at an empty cache, with network use forbidden."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def copy_of(folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(folder, out)
    return out


def one_line_error(spec: str | Path) -> str:
    with pytest.raises(DataError) as info:
        load_hub_benchmark(spec)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_folder_layout_and_card(synthetic_folder: Path) -> None:
    files = sorted(p.relative_to(synthetic_folder).as_posix() for p in synthetic_folder.rglob("*"))
    assert files == [
        "A",
        "A/labels.parquet",
        "A/sets.parquet",
        "A/targets.parquet",
        "A/train.parquet",
        "A/val.parquet",
        "B",
        "B/labels.parquet",
        "B/sets.parquet",
        "B/targets.parquet",
        "B/train.parquet",
        "B/val.parquet",
        "README.md",
        MARKER,
    ]
    card = (synthetic_folder / "README.md").read_text()
    assert str(synthetic_folder) not in card
    check_golden("synthetic-benchmark-card.md", card)


def test_card_metadata_parses_with_card_tools(synthetic_folder: Path) -> None:
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(synthetic_folder / "README.md")
    assert card.data.license == "mit"
    assert card.data.task_categories == ["video-classification"]
    configs = MetadataConfigs.from_dataset_card_data(card.data)
    assert sorted(configs) == [
        f"{s}{x}" for s in "AB" for x in ("", "-labels", "-sets", "-targets")
    ]


def test_round_trip_reproduces_data_model(synthetic_folder: Path, synthetic) -> None:
    loaded = load_hub_benchmark(synthetic_folder)
    assert_same_benchmark(synthetic, loaded)
    assert loaded.source == str(synthetic_folder)
    assert loaded.revision.startswith("sha256:")
    only_b = load_hub_benchmark(synthetic_folder, ["B"])
    assert list(only_b.subsets) == ["B"]


def test_catalog_accepts_hub_folders(synthetic_folder: Path, synthetic) -> None:
    assert_same_benchmark(synthetic, load_benchmark(str(synthetic_folder)))
    with pytest.raises(DataError, match="does not exist"):
        load_benchmark("./no/such/folder")


def test_info_reads_a_hub_folder(synthetic_folder: Path) -> None:
    result = CliRunner().invoke(app, ["info", str(synthetic_folder), "--no-targets"])
    assert result.exit_code == 0, result.output
    assert "Synthetic (simulation)" in result.output and "sha256:" in result.output


def test_datasets_loads_every_config(synthetic_folder: Path, synthetic, tmp_path: Path) -> None:
    for name, s in synthetic.subsets.items():
        videos = load_dataset_in(tmp_path, str(synthetic_folder), name=name)
        assert videos["train"].num_rows == len(s.train)
        assert videos["val"]["video"] == s.val.videos.tolist()
        assert videos["val"].features["label"].names == list(s.labels)
        targets = load_dataset_in(tmp_path, str(synthetic_folder), name=f"{name}-targets")[
            "targets"
        ]
        assert targets["coarse_index"] == [t.coarse_index for t in s.targets]
        assert targets["n_unrelated"] == [len(t.unrelated) for t in s.targets]
        sets = load_dataset_in(tmp_path, str(synthetic_folder), name=f"{name}-sets", split="sets")
        assert sets.num_rows == sum(len(t.ft) + len(t.equivalent) for t in s.targets)
        labels = load_dataset_in(
            tmp_path,
            str(synthetic_folder),
            name=f"{name}-labels",
            split="labels",
        )
        assert set(labels["index"]) == set(range(s.num_labels))


def test_hf_reference_from_the_hub_cache(synthetic_folder: Path, synthetic, offline_hub) -> None:
    fake_hub_cache(offline_hub, REPO, synthetic_folder, COMMIT)
    bench = load_benchmark(f"hf://{REPO}")
    assert_same_benchmark(synthetic, bench)
    assert bench.revision == f"hf://{REPO}@{COMMIT}"
    assert bench.source == f"hf://{REPO}"
    pinned = load_benchmark(f"hf://{REPO}@{COMMIT}")
    assert pinned.revision == bench.revision
    msg = one_line_error(f"hf://{REPO}@v9")
    assert "revision 'v9'" in msg and "not in the local Hugging Face cache" in msg


def test_hf_reference_through_a_patched_download(
    synthetic_folder: Path, synthetic, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    snapshot = fake_hub_cache(tmp_path, REPO, synthetic_folder, COMMIT)
    calls = []

    def download(repo_id: str, **kw: object) -> str:
        calls.append((repo_id, kw))
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)
    bench = load_hub_benchmark(f"hf://{REPO}@v1.0")
    assert calls == [(REPO, {"repo_type": "dataset", "revision": "v1.0"})]
    assert bench.revision == f"hf://{REPO}@{COMMIT}"
    assert_same_benchmark(synthetic, bench)

    response = httpx2.Response(404, request=httpx2.Request("GET", "https://hub.invalid"))

    def missing_revision(repo_id: str, **kw: object) -> str:
        raise RevisionNotFoundError("404 Revision Not Found", response=response)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", missing_revision)
    assert one_line_error(f"hf://{REPO}@nope") == (
        f"hf://{REPO}@nope: revision 'nope' not found in dataset {REPO}"
    )

    def missing_repo(repo_id: str, **kw: object) -> str:
        raise RepositoryNotFoundError("404 Repository Not Found", response=response)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", missing_repo)
    assert "not found, private or gated" in one_line_error(f"hf://{REPO}")


@pytest.mark.parametrize("spec", ["hf://no-slash", "hf://a/b@", "hf://a/b/c"])
def test_malformed_hub_reference(spec: str) -> None:
    assert "expected hf://ORG/NAME" in one_line_error(spec)


def _drop_config(folder: Path, name: str) -> None:
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(folder / "README.md")
    card.data.configs = [c for c in card.data.configs if c["config_name"] != name]
    card.save(folder / "README.md")


def _rewrite(path: Path, column: str, values: pa.Array | None) -> None:
    table = pq.read_table(path)
    i = table.schema.get_field_index(column)
    table = table.remove_column(i) if values is None else table.set_column(i, column, values)
    pq.write_table(table, path)


def test_incomplete_or_corrupted_folders(synthetic_folder: Path, tmp_path: Path) -> None:
    cases = []

    def case(expect: str, damage, digests: bool = False) -> None:  # type: ignore[no-untyped-def]
        folder = copy_of(synthetic_folder, tmp_path / str(len(cases)))
        if not digests:  # a folder written before digests: its structure is still checked
            raw = json.loads((folder / MARKER).read_text())
            del raw["digests"]
            (folder / MARKER).write_text(json.dumps(raw))
        damage(folder)
        cases.append((folder, expect))

    case(f"no {MARKER}", lambda f: (f / MARKER).unlink())
    case("dataset card is missing", lambda f: (f / "README.md").unlink())
    case("config 'A-sets' is missing from the card", lambda f: _drop_config(f, "A-sets"))
    case("A/val.parquet: data file is missing", lambda f: (f / "A/val.parquet").unlink())
    case(
        "A/sets.parquet: column 'label' has type string, expected int64",
        lambda f: _rewrite(
            f / "A/sets.parquet",
            "label",
            pa.array([str(x) for x in pq.read_table(f / "A/sets.parquet")["label"].to_pylist()]),
        ),
    )
    case(
        "B/train.parquet: column 'video' is missing",
        lambda f: _rewrite(f / "B/train.parquet", "video", None),
    )
    case(
        "format is 'something-else'",
        lambda f: (f / MARKER).write_text('{"format": "something-else"}'),
    )

    def unknown_video(f: Path) -> None:
        videos = pq.read_table(f / "A/sets.parquet")["video"].to_pylist()
        _rewrite(f / "A/sets.parquet", "video", pa.array(["no-such-video", *videos[1:]]))

    case("video 'no-such-video' is not in train", unknown_video)

    def wrong_count(f: Path) -> None:
        col = pq.read_table(f / "A/targets.parquet")["n_unrelated"].to_pylist()
        _rewrite(f / "A/targets.parquet", "n_unrelated", pa.array([c + 1 for c in col]))

    case("n_unrelated is", wrong_count)
    case(
        "A/sets.parquet: hub benchmark file content does not match the digest",
        unknown_video,
        digests=True,
    )
    for folder, expect in cases:
        assert expect in one_line_error(folder), expect


def _marker_edit(change):  # type: ignore[no-untyped-def]
    """Damage the benchmark marker's parsed JSON with ``change`` (a function of the dict)."""

    def damage(folder: Path) -> None:
        raw = json.loads((folder / MARKER).read_text())
        change(raw)
        (folder / MARKER).write_text(json.dumps(raw))

    return damage


@pytest.mark.parametrize(
    ("damage", "expect"),
    [
        (lambda r: r.pop("version"), "field 'version': Field required"),
        (lambda r: r.pop("subsets"), "field 'subsets': Field required"),
        (lambda r: r.update(name=3), "field 'name': Input should be a valid string"),
        (
            lambda r: r.update(simulation="no"),
            "field 'simulation': Input should be a valid boolean",
        ),
        (lambda r: r.update(partition=["A"]), "field 'partition': Input should be a valid dict"),
        (
            lambda r: r["group_scheme"].update(G=[1]),
            "field 'group_scheme.G.0': Input should be a valid string",
        ),
        (
            lambda r: r["subsets"]["A"].update(findings="none"),
            "field 'subsets.A.findings': Input should be a valid list",
        ),
        (lambda r: r.update(video_size=[64]), "field 'video_size.1': Field required"),
        (lambda r: r.update(video_size=[64, "x"]), "field 'video_size.1': Input should be a valid"),
    ],
)
def test_bad_marker_field_is_one_line_naming_file_and_field(
    synthetic_folder: Path, tmp_path: Path, damage, expect: str
) -> None:
    folder = copy_of(synthetic_folder, tmp_path)
    _marker_edit(damage)(folder)
    msg = one_line_error(folder)
    assert msg.startswith(f"{folder / MARKER}: ") and expect in msg, msg


def test_cli_prints_one_line_error(
    synthetic_folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = copy_of(synthetic_folder, tmp_path)
    _drop_config(folder, "B-targets")
    monkeypatch.setattr(sys, "argv", ["splitbench", "info", str(folder)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "config 'B-targets' is missing from the card" in err


def test_local_dir_refuses_foreign_folder(synthetic, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match=r"holds no splitbench-benchmark\.json"):
        write_benchmark_folder(synthetic, tmp_path, REPO)
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.official
@pytest.mark.parametrize("name", ["ssv2-split", "finegym-split"])
def test_official_round_trip(official_root: Path, tmp_path: Path, name: str) -> None:
    official = load_benchmark(name, official_root)
    out = tmp_path / name
    result = CliRunner().invoke(
        app,
        [
            "hub",
            "push-benchmark",
            name,
            "--annotations",
            str(official_root),
            "--repo-id",
            f"splitbench/{name}",
            "--local-dir",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    loaded = load_hub_benchmark(out)
    assert_same_benchmark(official, loaded)
    for s in official.subsets:
        assert subset_stats(official.subset(s)) == subset_stats(loaded.subset(s))
    folder_bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    root = official_root / ("SSv2-Split" if name == "ssv2-split" else "FineGym-Split")
    csv_bytes = sum(p.stat().st_size for p in root.rglob("*_set.csv"))
    assert folder_bytes < csv_bytes / 4, (folder_bytes, csv_bytes)
    check_golden(f"{name}-card.md", (out / "README.md").read_text())


@pytest.mark.official
def test_official_finegym_target_134_keeps_its_excluded_videos(
    official_root: Path, tmp_path: Path
) -> None:
    official = load_benchmark("finegym-split", official_root, ["A"])
    write_benchmark_folder(official, tmp_path, "splitbench/finegym-split")
    t = load_hub_benchmark(tmp_path).subset("A").target(134)
    assert len(t.excluded_val) == 4 and len(t.excluded_train) == 7
    val = official.subset("A").val
    assert (val.labels[t.excluded_val] == 134).all()
    in_sets = set(t.equivalent.rows.tolist()) | set(t.unrelated.rows.tolist())
    assert not in_sets & set(t.excluded_val.tolist())
    assert len(in_sets) + 4 == len(val)
