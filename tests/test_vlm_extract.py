"""``splitbench extract --encoder`` end to end on a tiny benchmark in the official layout:
base store → ViCLIP / CLIP spaces → cascade runs on CPU from the store; resumption, the stored
text table, and the one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from extract_helpers import build_tiny_benchmark, cli, save_released_layout, tiny_model
from test_vlm_models import TINY_CLIP_NAME, save_viclip, tiny_viclip
from test_vlm_models import tiny_clip_file as tiny_clip_file

from splitbench.catalog import load_benchmark
from splitbench.errors import ConfigError, DataError
from splitbench.features.extract import ExtractConfig
from splitbench.features.store import FeatureStore
from splitbench.features.vlm import open_vlm_space, read_text_table, vlm_names
from splitbench.features.vlm_extract import extract_vlm
from splitbench.models.prompts import prompt_texts
from splitbench.models.viclip import ViCLIPVideo
from splitbench.video.decode import VideoFolder, decode_video


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Tiny benchmark, a base store for subset A (random tiny MVD ViT) and a tiny ViCLIP file."""
    root = tmp_path_factory.mktemp("vlm-tiny")
    data = build_tiny_benchmark(root, train_per_label=1, val_per_label=2)
    bench = load_benchmark("ssv2-split", data.annotations)
    model = tiny_model(seed=0, num_classes=bench.subset("A").num_labels)
    ckpt = root / "SSv2-Split-A.pt"
    save_released_layout(ckpt, model.state_dict())
    viclip = save_viclip(root / "ViClip-tiny.pth", tiny_viclip(seed=2))
    return {"root": root, "data": data, "bench": bench, "ckpt": ckpt, "viclip": viclip}


def base_store(tiny, monkeypatch, capsys, out: Path) -> Path:
    data = tiny["data"]
    code, _, err = cli(
        monkeypatch,
        capsys,
        *("extract", "-b", "ssv2-split", "--annotations", str(data.annotations)),
        *("--subset", "A", "--videos", str(data.videos), "--checkpoint", str(tiny["ckpt"])),
        *("--trust-checkpoint", "--heads", "2", "--train-views", "1", "--workers", "0"),
        *("--quiet", "-o", str(out)),
    )
    assert code == 0, err
    return out


def test_extract_encoder_viclip_then_cascade(tiny, tmp_path, monkeypatch, capsys):
    data = tiny["data"]
    out = base_store(tiny, monkeypatch, capsys, tmp_path / "features")
    base_key = FeatureStore(out / "A").meta.key
    args = [
        *("extract", "-b", "ssv2-split", "--annotations", str(data.annotations), "--subset", "A"),
        *("--videos", str(data.videos), "--encoder", f"viclip:{tiny['viclip']}"),
        *("--workers", "0", "--quiet", "-o", str(out)),
    ]
    code, _, err = cli(monkeypatch, capsys, *args)
    assert code == 0, err
    assert "VLM space viclip-viclip-tiny" in err and "4 frames" in err

    store = FeatureStore(out / "A")
    assert store.meta.key == base_key  # the base store is untouched
    assert vlm_names(store) == ["viclip-viclip-tiny"]
    space = open_vlm_space(store, "viclip")  # by family
    m = space.store.meta
    subset = tiny["bench"].subset("A")
    assert m.dim == 32 and m.splits["val"].count == len(subset.val) and m.splits["val"].views == 1
    assert m.model["family"] == "viclip" and m.model["weights_sha256"]
    assert m.view_protocol["sampler"] == "middle" and m.view_protocol["resize"] == "squash"
    assert space.info["text_encoder"] == f"vlm-text:viclip:{tiny['viclip'].resolve()}"
    assert m.backbone_passes == len(subset.val)

    # stored embeddings = the encoder on the official views of the video (float16 on disk)
    vlm = ViCLIPVideo(tiny["viclip"])
    vid = str(subset.val.videos[1])
    views = space.store.meta.view_protocol
    from splitbench.video.vlm_views import VLMViews

    sampled = VLMViews(
        **{
            k: views[k]
            for k in ("frames", "sampler", "segments", "crops", "resize", "size", "short_side")
        }
    ).sample(decode_video(VideoFolder(data.videos).resolve(vid)))
    direct = vlm.encode_views(torch.from_numpy(sampled)[None], torch.float32)[0]
    stored = space.val_features(subset)[1]
    assert torch.allclose(stored, direct, atol=2e-3)

    # the text table holds every label text raw and under each prompt set
    table = read_text_table(space.store.path)
    fine = list(subset.targets[0].fine_labels)
    assert set(prompt_texts(fine, "raw") + prompt_texts(fine, "kinetics700")) <= set(table)
    assert np.allclose(table[fine[0]], vlm.encode_text([fine[0]])[0], atol=1e-5)

    # the cascade runs from the store, with the text table only (no live text encoder)
    results = tmp_path / "results"
    code, board, err = cli(
        monkeypatch,
        capsys,
        *(
            "run",
            "-m",
            "viclip_cascade",
            "-b",
            "ssv2-split",
            "--annotations",
            str(data.annotations),
        ),
        *("--subset", "A", "--features", str(out), "-o", str(results), "-q"),
    )
    assert code == 0, err
    assert "| viclip_cascade" in board
    import json

    res = json.loads(next(results.rglob("seed0.json")).read_text())
    assert res["method_info"]["vlm_space"] == "viclip-viclip-tiny"
    assert res["resources"]["vlm:viclip-viclip-tiny"].startswith(
        f"viclip:{tiny['viclip'].resolve()}"
    )
    assert res["counts"]["unrelated_total"] > 0


def test_extract_encoder_clip_uses_the_base_views(
    tiny,
    tiny_clip_file,
    tmp_path,
    monkeypatch,
    capsys,
):
    data = tiny["data"]
    out = base_store(tiny, monkeypatch, capsys, tmp_path / "features")
    code, _, err = cli(
        monkeypatch,
        capsys,
        *("extract", "-b", "ssv2-split", "--annotations", str(data.annotations), "--subset", "A"),
        *("--videos", str(data.videos), "--encoder", f"clip:{TINY_CLIP_NAME}/{tiny_clip_file}"),
        *("--vlm-name", "clip-tiny", "--pooling", "attention", "--workers", "0", "-q"),
        *("-o", str(out)),
    )
    assert code == 0, err
    space = open_vlm_space(FeatureStore(out / "A"), "clip")
    base_eval = FeatureStore(out / "A").meta.view_protocol["eval"]
    vp = space.store.meta.view_protocol
    assert (vp["frames"], vp["segments"], vp["crops"], vp["sampler"]) == (
        base_eval["frames"],
        base_eval["segments"],
        base_eval["crops"],
        base_eval["sampler"],
    )
    assert vp["resize"] == "short-side" and space.store.meta.splits["val"].views == 6
    assert space.store.meta.model["pooling"] == "attention"
    results = tmp_path / "results"
    code, board, err = cli(
        monkeypatch,
        capsys,
        *("run", "-m", "clip_cascade", "-b", "ssv2-split", "--annotations", str(data.annotations)),
        *("--subset", "A", "--features", str(out), "-o", str(results), "-q"),
        *("--config", "prompts=kinetics700"),
    )
    assert code == 0, err
    assert "| clip_cascade" in board


def test_vlm_extraction_resumes_and_refuses_other_weights(tiny, tmp_path, monkeypatch, capsys):
    out = base_store(tiny, monkeypatch, capsys, tmp_path / "features")
    bench, data = tiny["bench"], tiny["data"]
    subset = bench.subset("A")
    vlm = ViCLIPVideo(tiny["viclip"])
    views = vlm.default_views(None)
    cfg = ExtractConfig(workers=0, chunk_size=4, batch_size=2, progress=False)

    class Stop(Exception):
        pass

    def stop_after_first(split, chunk):
        raise Stop

    with pytest.raises(Stop):
        extract_vlm(
            bench, subset, vlm, data.videos, out / "A", views, cfg, on_chunk=stop_after_first
        )
    space_dir = out / "A" / "vlm" / "viclip-viclip-tiny"
    assert FeatureStore(space_dir).meta.splits["val"].count == 4
    report = extract_vlm(bench, subset, vlm, data.videos, out / "A", views, cfg)
    assert report.videos_run == len(subset.val) - 4
    resumed = FeatureStore(space_dir).split("val")
    fresh = extract_vlm(
        bench, subset, vlm, data.videos, out / "A", views, cfg, name="fresh"
    ).store.split("val")
    assert list(resumed.videos) == list(fresh.videos)
    assert np.array_equal(resumed.features, fresh.features)

    other = ViCLIPVideo(save_viclip(tmp_path / "other.pth", tiny_viclip(seed=5)))
    with pytest.raises(DataError, match="another model"):
        extract_vlm(bench, subset, other, data.videos, out / "A", views, cfg, name="fresh")


def test_extract_encoder_errors(tiny, tmp_path, monkeypatch, capsys):
    data = tiny["data"]
    common = [
        *("extract", "-b", "ssv2-split", "--annotations", str(data.annotations), "--subset", "A"),
        *("--videos", str(data.videos), "-q", "--workers", "0"),
    ]
    code, _, err = cli(
        monkeypatch,
        capsys,
        *common,
        "--encoder",
        f"viclip:{tiny['viclip']}",
        "-o",
        str(tmp_path / "none"),
    )
    assert code == 2 and "no feature store here; extract the base model's features" in err
    assert err.count("\n") == 1
    code, _, err = cli(monkeypatch, capsys, *common, "-o", str(tmp_path / "x"))
    assert code == 2 and "--checkpoint FILE is required" in err
    code, _, err = cli(
        monkeypatch,
        capsys,
        *common,
        *(
            "--encoder",
            "viclip:x.pth",
            "--checkpoint",
            str(tiny["ckpt"]),
            "-o",
            str(tmp_path / "y"),
        ),
    )
    assert code == 2 and "extract the base features with --checkpoint first" in err
    out = base_store(tiny, monkeypatch, capsys, tmp_path / "features")
    bad = tmp_path / "bad.pth"
    torch.save({"model": {"visual.proj": torch.zeros(2, 2)}}, bad)
    code, _, err = cli(monkeypatch, capsys, *common, "--encoder", f"viclip:{bad}", "-o", str(out))
    assert code == 2 and "not a ViCLIP state dict in the official layout" in err
    assert err.count("\n") == 1
    code, _, err = cli(monkeypatch, capsys, *common, "--encoder", "siglip:x", "-o", str(out))
    assert code == 2 and "siglip" in err


def test_text_side_falls_back_to_the_live_encoder_and_says_when_it_cannot(
    tiny, tmp_path, monkeypatch, capsys
):
    from splitbench.models.text import get_text_encoder

    out = base_store(tiny, monkeypatch, capsys, tmp_path / "features")
    weights = tmp_path / "viclip.pth"
    weights.write_bytes(tiny["viclip"].read_bytes())
    bench, subset = tiny["bench"], tiny["bench"].subset("A")
    vlm = ViCLIPVideo(weights)
    cfg = ExtractConfig(workers=0, progress=False)
    extract_vlm(
        bench,
        subset,
        vlm,
        tiny["data"].videos,
        out / "A",
        vlm.default_views(None),
        cfg,
        prompt_sets=("raw",),
    )
    space = open_vlm_space(FeatureStore(out / "A"), "viclip")
    enc = space.text_encoder(lambda: get_text_encoder(space.text_encoder_spec))
    fine = list(subset.targets[0].fine_labels)
    stored = enc.encode(fine)
    assert enc.stored_hits == len(fine)
    assert np.allclose(stored, vlm.encode_text(fine), atol=1e-5)
    # a prompt set that was not stored comes from the live text tower (same identity)
    texts = prompt_texts(fine[:1], "ucf101")
    live = enc.encode(texts)
    assert np.allclose(live, vlm.encode_text(texts), atol=1e-5)
    assert get_text_encoder(space.text_encoder_spec).identity == space.info["text_identity"]
    # without the weights, texts outside the table cannot be embedded: one line says why
    weights.unlink()
    enc = space.text_encoder(lambda: get_text_encoder(space.text_encoder_spec))
    enc.encode(fine)  # still fine from the table
    with pytest.raises(ConfigError, match="not in the stored text table") as exc:
        enc.encode(["a video of a person bending something."])
    assert "\n" not in str(exc.value) and "does not exist" in str(exc.value)
