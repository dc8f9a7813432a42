"""VideoPrism-LvT: the PyTorch port against the official Flax code (golden outputs of a random
tiny model, made by tools/videoprism_golden.py), strict loading of the released .npz layout,
one-line errors, the official tokenisation and the VLM wrapper."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from splitbench.errors import ConfigError, DataError
from splitbench.models.videoprism import (
    TEXT_MAX_LEN,
    TOKENIZER_ENV,
    SentencePieceTokens,
    VideoPrismVideo,
    canonicalize_text,
    load_videoprism,
)
from splitbench.models.videoprism_net import (
    VIDEOPRISM_LVT_BASE,
    VIDEOPRISM_LVT_LARGE,
    expected_shapes,
)
from splitbench.models.vlm import load_vlm

GOLDEN = Path(__file__).parent / "golden" / "videoprism"
TINY = GOLDEN / "videoprism-tiny-lvt.npz"


def test_port_matches_the_official_flax_model():
    golden = np.load(GOLDEN / "videoprism-tiny-golden.npz")
    model = load_videoprism(TINY)
    with torch.no_grad():
        v = model.encode_video(torch.from_numpy(golden["video"]))
        t = model.encode_text(
            torch.from_numpy(golden["ids"]).long(), torch.from_numpy(golden["paddings"])
        )
    np.testing.assert_allclose(v.numpy(), golden["video_embeddings"], atol=2e-6)
    np.testing.assert_allclose(t.numpy(), golden["text_embeddings"], atol=2e-6)
    # padding matters: the first text has three padded positions
    with torch.no_grad():
        unpadded = model.encode_text(
            torch.from_numpy(golden["ids"]).long(), torch.zeros(golden["paddings"].shape)
        )
    assert not np.allclose(unpadded[0].numpy(), golden["text_embeddings"][0], atol=1e-4)


def test_released_shapes():
    """Parameter counts of the released configs (README: LvT-B 248M, LvT-L 580M)."""
    for cfg, millions in ((VIDEOPRISM_LVT_BASE, 248), (VIDEOPRISM_LVT_LARGE, 580)):
        n = sum(int(np.prod(s)) for s in expected_shapes(cfg).values())
        assert abs(n / 1e6 - millions) < 3, n
    assert VIDEOPRISM_LVT_BASE.image_size == 288 and VIDEOPRISM_LVT_LARGE.frames == 8


def _rewrite(tmp_path: Path, change) -> Path:
    arrays = dict(np.load(TINY))
    change(arrays)
    out = tmp_path / "bad.npz"
    np.savez(out, **arrays)
    return out


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        (
            lambda a: a.__setitem__(
                "params/text_encoder/cls_embedding", a.pop("params/text_encoder/cls_emb")
            ),
            "missing keys text_encoder.cls_emb; unexpected keys text_encoder.cls_embedding",
        ),
        (
            lambda a: a.__setitem__(
                "params/vision_encoder/temporal_ln/scale", np.zeros(17, np.float32)
            ),
            "shape mismatches vision_encoder.temporal_ln.scale (17,) vs model (16,)",
        ),
        (
            lambda a: a.pop("params/vision_encoder/spatial_pos_emb/emb_var"),
            "missing params/vision_encoder/spatial_pos_emb/emb_var",
        ),
        (lambda a: a.__setitem__("opt_state/mu", np.zeros(1)), "is not under params/"),
        (
            lambda a: (
                [a.pop(k) for k in list(a) if not k.startswith("params/vision_encoder/")]
                and a.update(
                    {k.replace("vision_encoder/", ""): a.pop(k) for k in list(a) if "vision" in k}
                )
            ),
            "video-only encoder",
        ),
    ],
)
def test_wrong_layout_is_one_line(tmp_path, change, expect):
    with pytest.raises(DataError) as err:
        load_videoprism(_rewrite(tmp_path, change))
    assert expect in str(err.value) and "\n" not in str(err.value)


def _tokenizer(path: Path) -> Path:
    import sentencepiece as spm

    lines = ["moving something up", "pushing something from left to right"] * 20
    lines += ["pretending to open something without actually opening it"] * 20
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(  # T5's c4 conventions: pad 0, eos 1, unk 2, no bos
        sentence_iterator=iter(lines),
        model_writer=buf,
        vocab_size=40,
        hard_vocab_limit=False,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        minloglevel=2,
    )
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture()
def folder(tmp_path) -> Path:
    shutil.copy(TINY, tmp_path / "flax_lvt_tiny_repeated.npz")
    _tokenizer(tmp_path / "sentencepiece.model")
    return tmp_path


def test_tokenisation_follows_the_official_code(folder):
    assert canonicalize_text("  Moving [something], UP!") == "moving something up."
    tok = SentencePieceTokens(folder / "sentencepiece.model")
    assert tok.bos == -1
    ids, pad = tok(["Moving something up", "moving something up " * 40])
    assert ids.shape == pad.shape == (2, TEXT_MAX_LEN)
    n = int((pad[0] == 0).sum())
    assert n == len(tok._sp.EncodeAsIds("moving something up.")) and (ids[0, n:] == 0).all()
    assert (pad[0, n:] == 1).all() and (pad[1] == 0).all()  # the long text is truncated at 64


def test_vlm_embeds_views_and_texts(folder, monkeypatch):
    vlm = load_vlm(f"videoprism:{folder / 'flax_lvt_tiny_repeated.npz'}")
    assert isinstance(vlm, VideoPrismVideo) and vlm.family == "videoprism" and vlm.embed_dim == 16
    views = vlm.default_views({"frames": 16, "segments": 2, "crops": 3, "sampler": "mvd"})
    assert (views.frames, views.sampler, views.resize, views.size, views.views) == (
        3,
        "linspace",
        "squash",
        8,
        1,
    )
    assert views.indices(10) == [[0, 3, 6]]
    g = torch.Generator().manual_seed(0)
    clip = torch.randint(0, 256, (2, 1, 3, 8, 8, 3), generator=g, dtype=torch.uint8)
    emb = vlm.encode_views(clip, torch.float32)
    golden_model = load_videoprism(TINY)
    with torch.no_grad():
        direct = golden_model.encode_video(clip[:, 0].float() / 255.0)
    torch.testing.assert_close(emb[:, 0], direct)
    assert not torch.allclose(vlm.encode_views(clip.flip(2), torch.float32), emb, atol=1e-4)
    text = vlm.encode_text(["moving something up", "pushing something"])
    assert text.shape == (2, 16)
    np.testing.assert_allclose(np.linalg.norm(text, axis=1), 1.0, rtol=1e-5)
    assert vlm.identity()["tokenizer_sha256"] and "tokenizer=" in vlm.text_identity()
    with pytest.raises(ConfigError, match="takes 3 frames of 8"):
        vlm.encode_views(torch.zeros((1, 1, 4, 8, 8, 3), dtype=torch.uint8), torch.float32)


def test_missing_files_name_what_is_expected(folder, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"flax_lvt_base_f16r288_repeated\.npz"):
        load_vlm(f"videoprism:{tmp_path / 'absent.npz'}")
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(TINY, alone / "w.npz")
    with pytest.raises(ConfigError, match=f"sentencepiece.model or set \\${TOKENIZER_ENV}"):
        load_vlm(f"videoprism:{alone / 'w.npz'}")
    monkeypatch.setenv(TOKENIZER_ENV, str(folder / "sentencepiece.model"))
    assert load_vlm(f"videoprism:{alone / 'w.npz'}").embed_dim == 16
