"""The full-model finetuning rows on CPU: a tiny ViT, PyAV videos, the released checkpoint
layout. ``splitbench run -m full_finetune`` finetunes the backbone, re-extracts val into a
new store and is scored by the harness; its declared needs (videos, checkpoint) decide
where it can run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from extract_helpers import OVERRIDES, TINY_VIEWS, Tiny, build_tiny, cli
from splitbench_methods.full_finetune import FullFinetune

from splitbench.features.extract import ExtractConfig, extract_subset
from splitbench.features.store import FeatureStore
from splitbench.models.base_model import load_base_model
from splitbench.protocol import load_methods
from splitbench.protocol.api import build_config


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Tiny:
    return build_tiny(tmp_path_factory.mktemp("tiny-ft"))


@pytest.fixture(scope="module")
def store_dir(tiny, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ft-features")
    base = load_base_model(tiny.checkpoints["A"], trust=True, overrides=OVERRIDES)
    cfg = ExtractConfig(workers=0, progress=False)
    extract_subset(
        tiny.bench, tiny.bench.subset("A"), base, tiny.data.videos, out / "A", TINY_VIEWS, cfg,
        trusted=True,
    )  # fmt: skip
    return out


def run(tiny: Tiny, store: Path, results: Path, monkeypatch, capsys, *config: str):
    args = ["run", "-m", "full_finetune", "-b", "ssv2-split", "--annotations",
            str(tiny.data.annotations), "--features", str(store), "-s", "A", "--seeds", "0",
            "-o", str(results), "-q"]  # fmt: skip
    for c in config:
        args += ["--config", c]
    return cli(monkeypatch, capsys, *args)


def unit_results(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(results.rglob("seed*.json"))]


def test_run_finetunes_the_backbone_and_prints_a_leaderboard_row(
    tiny, store_dir, tmp_path, monkeypatch, capsys
):
    code, out, err = run(tiny, store_dir, tmp_path / "res", monkeypatch, capsys, "epochs=3",
                         "lr=1e-3")  # fmt: skip
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.startswith("| full_finetune"))
    assert any(c.strip().replace(".", "").isdigit() for c in row.split("|")[2:])
    [res] = unit_results(tmp_path / "res")
    info = res["method_info"]
    assert info["support"]["videos"] and len(info["training"]["loss"]) == 3
    new = FeatureStore(Path(info["store"]))
    base = FeatureStore(store_dir / "A")
    assert new.meta.model["finetuned"]["method"] == "full_finetune"
    assert new.meta.view_protocol == base.meta.view_protocol
    assert list(new.split("val").videos) == list(base.split("val").videos)
    # the backbone was trained: every val feature moved
    assert not np.allclose(new.split("val").features, base.split("val").features, atol=1e-3)
    code, board, _ = cli(monkeypatch, capsys, "leaderboard", str(tmp_path / "res"))
    assert code == 0 and "| full_finetune" in board

    # a rerun of the unit with --overwrite-strategy reuses the finished finetuned store
    code, _, err = run(tiny, store_dir, tmp_path / "res2", monkeypatch, capsys, "epochs=3",
                       "lr=1e-3")  # fmt: skip
    assert code == 0, err
    [again] = unit_results(tmp_path / "res2")
    assert again["method_info"]["reused_store"] and again["counts"] == res["counts"]


def test_with_a_zero_learning_rate_it_is_the_coarse_copy_edit(
    tiny, store_dir, tmp_path, monkeypatch, capsys
):
    """No training step changes anything: the re-extracted store equals the base store and
    the harness scores it exactly like copying the coarse row k times."""
    code, _, err = run(tiny, store_dir, tmp_path / "ft", monkeypatch, capsys, "lr=0",
                       "weight_decay=0", "epochs=1")  # fmt: skip
    assert code == 0, err
    [ft] = unit_results(tmp_path / "ft")
    new = FeatureStore(Path(ft["method_info"]["store"]))
    base = FeatureStore(store_dir / "A")
    assert np.array_equal(new.split("val").features, base.split("val").features)
    assert all(np.array_equal(x, y) for x, y in zip(new.head(), base.head(), strict=True))
    code, _, err = cli(monkeypatch, capsys, "run", "-m", "coarse_copy", "-b", "ssv2-split",
                       "--annotations", str(tiny.data.annotations), "--features",
                       str(store_dir), "-s", "A", "--seeds", "0", "-o", str(tmp_path / "cc"),
                       "-q")  # fmt: skip
    assert code == 0, err
    [cc] = unit_results(tmp_path / "cc")
    assert ft["counts"] == cc["counts"]


def with_meta(src: Path, dest: Path, **changes) -> FeatureStore:
    """A copy of store ``src`` whose store.json has ``changes`` applied (dotted keys)."""
    shutil.copytree(src, dest)
    meta = json.loads((dest / "store.json").read_text())
    for key, value in changes.items():
        *parents, leaf = key.split("__")
        node = meta
        for p in parents:
            node = node[p]
        node[leaf] = value
    (dest / "store.json").write_text(json.dumps(meta))
    return FeatureStore(dest)


def test_needs_videos_and_checkpoint(store_dir, tmp_path):
    method = FullFinetune()
    assert load_methods().get("full_finetune") is FullFinetune
    assert method.needs.videos and method.needs.checkpoint
    assert "videos" in method.needs.describe()
    assert method.unmet_requirements(FeatureStore(store_dir / "A")) == []
    sim = with_meta(store_dir / "A", tmp_path / "sim", simulation=True)
    [why] = method.unmet_requirements(sim)
    assert "simulated store has none" in why
    # a store moved to another machine: its recorded video folder and checkpoint are gone
    moved = with_meta(
        store_dir / "A",
        tmp_path / "moved",
        extra__sources__videos=str(tmp_path / "nowhere"),
        extra__sources__checkpoint=str(tmp_path / "gone.pt"),
    )
    videos, ckpt = method.unmet_requirements(moved)
    assert "videos the store was extracted from" in videos and "nowhere" in videos
    assert "base checkpoint" in ckpt and "gone.pt" in ckpt
    hub = with_meta(store_dir / "A", tmp_path / "hub", extra__sources={})
    assert len(method.unmet_requirements(hub)) == 2
    source = FeatureStore(store_dir / "A").meta.extra["sources"]
    fixed = FullFinetune(
        build_config(
            FullFinetune.config_class,
            {"videos": source["videos"], "checkpoint": source["checkpoint"]},
        )
    )
    assert fixed.unmet_requirements(moved) == []
