"""Extraction end to end on a tiny benchmark in the official layout, on CPU:
videos (VP9 .webm + H.264 .mp4) → splitbench extract → splitbench run → leaderboard;
resumption after an interrupt; and the one-line errors for broken input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from extract_helpers import (
    OVERRIDES,
    TINY_VIEWS,
    Tiny,
    build_tiny,
    cli,
    eval_features,
    extract_args,
)

from splitbench.features.extract import ExtractConfig, extract_subset
from splitbench.features.store import FeatureStore
from splitbench.models.base_model import load_base_model
from splitbench.protocol.shots import shot_pool_union
from splitbench.video.decode import VideoFolder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Tiny:
    """The tiny benchmark plus one fitted released-layout checkpoint per subset."""
    return build_tiny(tmp_path_factory.mktemp("tiny"))


def copy_videos(tiny: Tiny, dest: Path, drop: str | None = None) -> Path:
    dest.mkdir()
    for f in tiny.data.videos.iterdir():
        if drop is None or f.stem != Path(drop).stem:
            (dest / f.name).symlink_to(f)
    return dest


# -- end to end ---------------------------------------------------------------------------


def test_extract_then_run_then_leaderboard(tiny, tmp_path, monkeypatch, capsys):
    store_dir, results = tmp_path / "features", tmp_path / "results"
    args = extract_args(tiny, store_dir)
    args[args.index("--subset") + 1] = "all"
    i = args.index("--checkpoint")
    args[i : i + 2] = [
        "--checkpoint",
        f"A={tiny.checkpoints['A']}",
        "--checkpoint",
        f"B={tiny.checkpoints['B']}",
    ]
    args[args.index("--workers") + 1] = "2"  # decode in worker processes
    code, _, err = cli(monkeypatch, capsys, *args)
    assert code == 0, err
    assert "ssv2-split/A: store at" in err and "sanity: base-model val accuracy" in err
    assert "loaded with full unpickling because --trust-checkpoint was given" in err

    for name, subset in tiny.bench.subsets.items():
        store = FeatureStore(store_dir / name)
        meta = store.meta
        assert not meta.simulation and meta.labels == list(subset.labels)
        val, train = store.split("val"), store.split("train")
        assert list(val.videos) == list(subset.val.videos)
        pool = shot_pool_union(subset, [1], [0, 1, 2])
        assert set(train.videos) == pool and len(pool) < len(subset.train)
        assert val.features.shape == (len(subset.val), 6, 32)
        assert train.features.shape == (len(pool), 3, 32)
        assert meta.backbone_passes == len(subset.val) * 6 + len(pool) * 3
        assert meta.view_protocol["eval"]["views"] == 6
        assert meta.model["checkpoint_sha256"] and meta.model["container"] == "module"
        # the head in the store is the checkpoint's head
        base = load_base_model(tiny.checkpoints[name], trust=True, overrides=OVERRIDES)
        w, b = store.head()
        assert np.array_equal(w, base.head()[0].numpy()) and np.array_equal(
            b, base.head()[1].numpy()
        )
        # stored features are the backbone's pooled features of the eval views (float16)
        vid = str(subset.val.videos[3])
        direct = eval_features(base.model, VideoFolder(tiny.data.videos).resolve(vid))
        stored = torch.from_numpy(val.features[val.position[vid]].astype(np.float32))
        assert torch.allclose(stored, direct, atol=2e-3)
        # the sanity figure is the view-averaged top-1 accuracy of the base model
        feats = torch.from_numpy(val.features.astype(np.float32))
        pred = torch.softmax(feats @ torch.from_numpy(w).T + torch.from_numpy(b), -1).mean(1)
        acc = float((pred.argmax(1).numpy() == subset.val.labels).mean())
        sanity = meta.extra["sanity"]
        assert sanity["accuracy"] == pytest.approx(acc, abs=1e-6)
        assert acc > 1 / subset.num_labels  # a fitted head beats chance on class colours
        assert set(sanity["per_target"]) == {t.key for t in subset.targets}
        assert sanity["unrelated_accuracy_masked_mean"] is not None
        assert meta.extra["skipped_counts"] == {"val": 0, "train": 0}

    code, out, err = cli(
        monkeypatch,
        capsys,
        "run",
        "-m",
        "coarse_copy",
        "-b",
        "ssv2-split",
        "--annotations",
        str(tiny.data.annotations),
        "--features",
        str(store_dir),
        "-o",
        str(results),
        "-q",
    )
    assert code == 0, err
    assert "backbone passes behind the features: A: " in err
    assert "| coarse_copy" in out and "subset A" in out and "subset B" in out
    code, board, _ = cli(monkeypatch, capsys, "leaderboard", str(results))
    assert code == 0 and "| coarse_copy" in board
    row = next(line for line in board.splitlines() if line.startswith("| coarse_copy"))
    assert any(c.strip().replace(".", "").isdigit() for c in row.split("|")[4:6])


def run_api(tiny: Tiny, out: Path, **kw):
    subset = tiny.bench.subset("A")
    base = load_base_model(tiny.checkpoints["A"], trust=True, overrides=OVERRIDES)
    on_chunk = kw.pop("on_chunk", None)
    cfg = ExtractConfig(workers=0, chunk_size=4, progress=False, **kw)
    return extract_subset(
        tiny.bench, subset, base, tiny.data.videos, out, TINY_VIEWS, cfg, on_chunk=on_chunk
    )


class Stop(Exception):
    pass


def test_interrupted_extraction_resumes_with_unfinished_chunks_only(tiny, tmp_path):
    whole = run_api(tiny, tmp_path / "whole")
    total = sum(whole.chunks_total.values())
    assert total == len(whole.chunks_run) >= 4

    seen: list[tuple[str, int]] = []

    def stop_after_two(split: str, chunk: int) -> None:
        seen.append((split, chunk))
        if len(seen) == 2:
            raise Stop

    with pytest.raises(Stop):
        run_api(tiny, tmp_path / "cut", on_chunk=stop_after_two)
    half = json.loads((tmp_path / "cut" / "store.json").read_text())
    assert sum(len(s["shards"]) for s in half["splits"].values()) == 2

    resumed = run_api(tiny, tmp_path / "cut")
    assert resumed.chunks_run == [c for c in whole.chunks_run if c not in seen]
    assert resumed.videos_run == whole.videos_run - 2 * 4
    assert run_api(tiny, tmp_path / "cut").chunks_run == []  # nothing left to do

    a, b = FeatureStore(tmp_path / "whole"), FeatureStore(tmp_path / "cut")
    for split in ("val", "train"):
        sa, sb = a.split(split), b.split(split)
        assert list(sa.videos) == list(sb.videos)
        assert np.array_equal(sa.features, sb.features)
    assert all(np.array_equal(x, y) for x, y in zip(a.head(), b.head(), strict=True))
    ma, mb = json.loads(a.meta.to_json()), json.loads(b.meta.to_json())
    ma["extra"].pop("runs"), mb["extra"].pop("runs")
    assert ma == mb
    assert len(b.meta.extra["runs"]) == 2  # finished runs are logged; the interrupted one not


# -- broken input -------------------------------------------------------------------------


def one_line_error(err: str) -> str:
    """The error is one line (a note about --trust-checkpoint may precede it)."""
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("note:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_missing_video_fails_or_is_skipped_and_blocks_scoring(tiny, tmp_path, monkeypatch, capsys):
    gone = str(tiny.bench.subset("A").val.videos[0])
    videos = copy_videos(tiny, tmp_path / "videos", drop=gone)
    args = extract_args(tiny, tmp_path / "store", "--videos", str(videos))
    code, _, err = cli(monkeypatch, capsys, *args)
    msg = one_line_error(err)
    assert code == 2 and f"(first: {gone})" in msg and "--missing skip" in msg

    code, _, err = cli(monkeypatch, capsys, *args, "--missing", "skip")
    assert code == 0 and "skipped" in err and "val 1" in err
    store = FeatureStore(tmp_path / "store" / "A")
    assert list(store.skipped("val")) == [gone] and "missing" in store.skipped("val")[gone]
    assert gone not in store.split("val").position
    assert store.meta.extra["skipped_counts"]["val"] == 1
    assert store.meta.extra["sanity"]["val_videos_missing"] == 1

    run = ["run", "-m", "coarse_copy", "-b", "ssv2-split", "--annotations",
           str(tiny.data.annotations), "-s", "A", "--features", str(tmp_path / "store"),
           "-o", str(tmp_path / "res"), "-q"]  # fmt: skip
    code, _, err = cli(monkeypatch, capsys, *run)
    msg = one_line_error(err)
    assert code == 2 and gone in msg and "skipped 1 val videos" in msg

    # restore the file: --retry-skipped extracts only it, and the store becomes scorable
    name = next(f.name for f in tiny.data.videos.iterdir() if f.stem == Path(gone).stem)
    (videos / name).symlink_to(tiny.data.videos / name)
    code, _, err = cli(monkeypatch, capsys, *args, "--missing", "skip", "--retry-skipped")
    assert code == 0, err
    assert "this run 1 videos" in err
    store = FeatureStore(tmp_path / "store" / "A")
    assert store.skipped("val") == {} and gone in store.split("val").position
    code, _, err = cli(monkeypatch, capsys, *run)
    assert code == 0, err


def test_corrupt_video_fails_or_is_skipped(tiny, tmp_path, monkeypatch, capsys):
    victim = str(tiny.bench.subset("A").val.videos[1])
    videos = copy_videos(tiny, tmp_path / "videos", drop=victim)
    bad = videos / Path(victim).with_suffix(".webm").name
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    args = extract_args(tiny, tmp_path / "store", "--videos", str(videos))
    code, _, err = cli(monkeypatch, capsys, *args)
    msg = one_line_error(err)
    assert code == 2 and f"{bad}: cannot decode video" in msg

    code, _, err = cli(monkeypatch, capsys, *args, "--missing", "skip")
    assert code == 0, err
    skipped = FeatureStore(tmp_path / "store" / "A").skipped("val")
    assert list(skipped) == [victim] and "cannot decode" in skipped[victim]


def test_video_folder_without_any_listed_file(tiny, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    (empty / "unrelated.mp4").write_bytes(b"x")
    code, _, err = cli(
        monkeypatch, capsys, *extract_args(tiny, tmp_path / "s", "--videos", str(empty))
    )
    msg = one_line_error(err)
    assert code == 2 and "holds no file of ssv2-split/A val.csv or train.csv" in msg


def test_checkpoint_of_the_other_subset(tiny, tmp_path, monkeypatch, capsys):
    args = extract_args(tiny, tmp_path / "s", subset="B")
    args[args.index("--checkpoint") + 1] = str(tiny.checkpoints["A"])
    code, _, err = cli(monkeypatch, capsys, *args)
    msg = one_line_error(err)
    assert code == 2
    assert "head has 4 classes but ssv2-split/B labels.json has 5 (subset A has 4" in msg


def test_one_checkpoint_for_two_subsets_is_refused(tiny, tmp_path, monkeypatch, capsys):
    args = extract_args(tiny, tmp_path / "s")
    args[args.index("--subset") + 1] = "all"
    code, _, err = cli(monkeypatch, capsys, *args)
    assert code == 2 and "each subset has its own base model" in one_line_error(err)


def test_output_holding_another_store_is_refused(tiny, tmp_path, monkeypatch, capsys):
    args = extract_args(tiny, tmp_path / "s")
    assert cli(monkeypatch, capsys, *args)[0] == 0
    code, _, err = cli(monkeypatch, capsys, *args, "--train-views", "2")
    assert code == 2 and "holds a feature store for another model" in one_line_error(err)


def test_synthetic_benchmark_has_nothing_to_extract(tmp_path, monkeypatch, capsys):
    code, _, err = cli(
        monkeypatch, capsys, "extract", "-b", "synthetic", "--videos", str(tmp_path),
        "--checkpoint", "x.pt", "-o", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 2 and "simulation" in one_line_error(err)


def test_all_train_extracts_every_train_video(tiny, tmp_path):
    report = run_api(tiny, tmp_path / "all", all_train=True)
    subset = tiny.bench.subset("A")
    assert list(report.store.split("train").videos) == list(subset.train.videos)
    assert report.store.meta.extra["train_selection"] == {"all_train": True}
    shutil.rmtree(tmp_path / "all")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_bfloat16_extraction_matches_cpu(tiny, tmp_path):
    cpu = run_api(tiny, tmp_path / "cpu")
    gpu = run_api(tiny, tmp_path / "gpu", device="cuda")
    assert gpu.store.meta.model["compute_dtype"] == "bfloat16"
    a = cpu.store.split("val").features.astype(np.float32).reshape(-1, 32)
    b = gpu.store.split("val").features.astype(np.float32).reshape(-1, 32)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cos.min() > 0.99  # bfloat16 autocast on CUDA vs float32 on CPU
