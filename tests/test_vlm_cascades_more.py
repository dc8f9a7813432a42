"""FG-CLIP, VideoPrism and merged-CLIP spaces end to end: ``extract --encoder`` on the tiny
benchmark in the official layout, then their cascades from the store; the merged model's
identity in the space's store.json and in the results."""

from __future__ import annotations

import json
import shutil

import torch
from extract_helpers import cli
from test_vlm_extract import base_store
from test_vlm_extract import tiny as tiny
from test_vlm_fgclip import TINY as FGCLIP_TINY
from test_vlm_fgclip import save_snapshot
from test_vlm_merge import finetuned
from test_vlm_models import TINY_CLIP_NAME
from test_vlm_models import tiny_clip_file as tiny_clip_file
from test_vlm_videoprism import TINY as VIDEOPRISM_TINY
from test_vlm_videoprism import _tokenizer

from splitbench.features.store import FeatureStore
from splitbench.features.vlm import open_vlm_space, vlm_names
from splitbench.models.checkpoint import file_sha256
from splitbench.models.fgclip import build_fgclip


def test_new_vlm_spaces_and_their_cascades(tiny, tiny_clip_file, tmp_path, monkeypatch, capsys):
    data = tiny["data"]
    out = base_store(tiny, monkeypatch, capsys, tmp_path / "features")
    torch.manual_seed(4)
    fg = save_snapshot(tmp_path / "fg-clip-tiny", build_fgclip(FGCLIP_TINY, 248).state_dict())
    vp = tmp_path / "videoprism"
    vp.mkdir()
    shutil.copy(VIDEOPRISM_TINY, vp / "flax_lvt_tiny_repeated.npz")
    _tokenizer(vp / "sentencepiece.model")
    ft = [finetuned(tiny_clip_file, tmp_path / f"ft{i}.pt", i) for i in (1, 2)]
    merged = tmp_path / "merged.safetensors"
    code, _, err = cli(
        monkeypatch,
        capsys,
        *("vlm", "merge", "--model", TINY_CLIP_NAME, "--base", str(tiny_clip_file)),
        *("--checkpoint", str(ft[0]), "--checkpoint", str(ft[1]), "--lam", "0.4"),
        *("-o", str(merged)),
    )
    assert code == 0, err
    common = ["-b", "ssv2-split", "--annotations", str(data.annotations), "--subset", "A"]
    for encoder in (
        f"fgclip:{fg}",
        f"videoprism:{vp / 'flax_lvt_tiny_repeated.npz'}",
        f"merged-clip:{merged}",
    ):
        code, _, err = cli(
            monkeypatch,
            capsys,
            *("extract", *common, "--videos", str(data.videos), "--encoder", encoder),
            *("--workers", "0", "--quiet", "-o", str(out)),
        )
        assert code == 0, err
    store = FeatureStore(out / "A")
    assert len(vlm_names(store)) == 3
    fg_space = open_vlm_space(store, "fgclip")
    assert fg_space.store.meta.view_protocol["resize"] == "squash"
    vp_space = open_vlm_space(store, "videoprism")
    assert vp_space.store.meta.view_protocol["sampler"] == "linspace"
    assert vp_space.store.meta.view_protocol["frames"] == 3
    mc = open_vlm_space(store, "merged-clip")
    merge = mc.store.meta.model["merge"]
    assert merge["lambdas"] == [0.4, 0.4]
    assert [c["sha256"] for c in merge["checkpoints"]] == [file_sha256(p) for p in ft]

    results = tmp_path / "results"
    for method in ("fgclip_cascade", "videoprism_cascade", "merged_clip_cascade"):
        code, board, err = cli(
            monkeypatch,
            capsys,
            *("run", "-m", method, *common, "--features", str(out), "-o", str(results), "-q"),
        )
        assert code == 0, err
        assert f"| {method}" in board
    seen = set()
    for path in results.rglob("seed0.json"):
        res = json.loads(path.read_text())
        seen.add(res["unit"]["method"])
        info = res["method_info"]
        if res["unit"]["method"] == "merged_clip_cascade":
            assert info["vlm_merge"]["lambdas"] == [0.4, 0.4]
            assert info["vlm_merge"]["base"]["sha256"] == file_sha256(tiny_clip_file)
        else:
            assert "vlm_merge" not in info
    assert seen == {"fgclip_cascade", "videoprism_cascade", "merged_clip_cascade"}
