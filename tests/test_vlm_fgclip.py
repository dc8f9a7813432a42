"""FG-CLIP: random weights in the released layout (Hugging Face CLIPModel + the long-caption
extras) load strictly from a snapshot folder, wrong layouts fail in one line, the short-caption
text path and the per-frame video embedding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from splitbench.errors import ConfigError, DataError
from splitbench.models.fgclip import FGCLIPVideo, build_fgclip
from splitbench.models.vlm import load_vlm

TINY = {
    "text_config": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_attention_heads": 2,
        "num_hidden_layers": 2,
        "vocab_size": 49408,
        "max_position_embeddings": 77,
        "hidden_act": "quick_gelu",
        "eos_token_id": 49407,
    },
    "vision_config": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_attention_heads": 2,
        "num_hidden_layers": 2,
        "image_size": 32,
        "patch_size": 16,
        "hidden_act": "quick_gelu",
    },
    "projection_dim": 16,
}


def save_snapshot(folder: Path, state: dict[str, torch.Tensor], config: dict | None = TINY) -> Path:
    """A folder like the Hugging Face snapshot: model.safetensors (+ config.json)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "model.safetensors"))
    if config is not None:
        (folder / "config.json").write_text(json.dumps({"model_type": "clip", **config}))
    return folder


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = build_fgclip(TINY, 248)
    return save_snapshot(tmp_path_factory.mktemp("fgclip") / "fg-clip-tiny", model.state_dict())


def test_released_layout_loads_strictly(snapshot):
    from safetensors.torch import load_file

    state = load_file(str(snapshot / "model.safetensors"))
    extras = [
        "text_model.embeddings.position_embedding_res.weight",
        "text_model.embeddings.position_embedding_ori.weight",
        "text_filip_projection.weight",
        "logit_scale_finegraind",
        "logit_scale_hardneg",
    ]
    assert all(k in state for k in extras)
    assert tuple(state["text_model.embeddings.position_embedding_res.weight"].shape) == (248, 32)
    vlm = load_vlm(f"fgclip:{snapshot}")
    assert isinstance(vlm, FGCLIPVideo) and vlm.family == "fgclip" and vlm.embed_dim == 16
    assert vlm.cfg["text_config"]["num_attention_heads"] == 2  # from config.json
    ident = vlm.identity()
    assert ident["weights"] == "model.safetensors" and len(ident["weights_sha256"]) == 64
    assert vlm.spec == f"fgclip:{snapshot.resolve()}" and vlm.input_size == 32
    loaded = vlm.model.state_dict()
    assert all(torch.equal(loaded[k], state[k]) for k in state)


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda s: s.pop("text_filip_projection.weight"), "missing text_filip_projection.weight"),
        (
            lambda s: s.__setitem__("logit_scale_hard", s.pop("logit_scale_hardneg")),
            "missing keys logit_scale_hardneg; unexpected keys logit_scale_hard",
        ),
        (
            lambda s: s.__setitem__("visual_projection.weight", torch.zeros(16, 48)),
            "shape mismatches visual_projection.weight (16, 48) vs model (16, 32)",
        ),
        (
            lambda s: s.__setitem__("visual.proj", s.pop("visual_projection.weight")),
            "looks like an open_clip state dict",
        ),
    ],
)
def test_wrong_layout_is_one_line(snapshot, tmp_path, mutate, expect):
    from safetensors.torch import load_file

    state = load_file(str(snapshot / "model.safetensors"))
    mutate(state)
    folder = save_snapshot(tmp_path / "bad", state)
    with pytest.raises(DataError) as err:
        load_vlm(f"fgclip:{folder}")
    assert expect in str(err.value) and "\n" not in str(err.value)


def test_missing_weights_name_the_expected_files(tmp_path):
    with pytest.raises(ConfigError, match=r"model\.safetensors or pytorch_model\.bin"):
        load_vlm(f"fgclip:{tmp_path}")
    with pytest.raises(ConfigError, match="qihoo360/fg-clip-base"):
        load_vlm(f"fgclip:{tmp_path / 'absent'}")


def test_shapes_from_the_weights_alone(tmp_path):
    """Without config.json: widths, depths, input size from the weights, heads = width / 64."""
    cfg = json.loads(json.dumps(TINY))
    for tower in ("text_config", "vision_config"):
        cfg[tower].update(hidden_size=64, num_attention_heads=1)
    cfg["vision_config"]["image_size"] = 48
    torch.manual_seed(1)
    model = build_fgclip(cfg, 248)
    folder = save_snapshot(tmp_path / "no-config", model.state_dict(), config=None)
    vlm = load_vlm(f"fgclip:{folder / 'model.safetensors'}")
    assert vlm.cfg["vision_config"]["image_size"] == 48 and vlm.input_size == 48
    assert vlm.cfg["text_config"]["num_hidden_layers"] == 2


def test_short_caption_path_matches_transformers_and_ignores_the_long_tables(snapshot, tmp_path):
    from transformers import CLIPConfig, CLIPModel

    vlm = load_vlm(f"fgclip:{snapshot}")
    texts = ["moving something up", "pretending to open something"]
    ours = torch.from_numpy(vlm.encode_text(texts))
    # the Hugging Face tokenizer pads with the EOT id 49407; open_clip's with 0
    ids = vlm._tokenizer(texts)
    hf_ids = ids.clone()
    for row in hf_ids:
        eot = int((row == 49407).nonzero()[0])
        row[eot + 1 :] = 49407
    ref = CLIPModel(CLIPConfig(**TINY)).eval()
    ref.load_state_dict(
        {k: v for k, v in vlm.model.state_dict().items() if k in ref.state_dict()}, strict=True
    )
    with torch.no_grad():
        pooled = ref.text_model(input_ids=hf_ids).pooler_output
        expect = ref.text_projection(pooled)
    torch.testing.assert_close(ours, expect, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        vlm.model.text_model.embeddings.position_embedding_res.weight.normal_()
        vlm.model.text_filip_projection.weight.normal_()
    torch.testing.assert_close(torch.from_numpy(vlm.encode_text(texts)), ours)
    with torch.no_grad():
        vlm.model.text_model.embeddings.position_embedding.weight.normal_()
    assert not torch.allclose(torch.from_numpy(vlm.encode_text(texts)), ours, atol=1e-3)


def test_video_embedding_pools_frames_and_sees_colour(snapshot):
    vlm = load_vlm(f"fgclip:{snapshot}")
    views = vlm.default_views({"frames": 4, "segments": 2, "sampler": "mvd", "crops": 3})
    assert (views.frames, views.segments, views.crops, views.resize, views.size) == (
        4,
        2,
        1,
        "squash",
        32,
    )
    g = torch.Generator().manual_seed(3)
    clip = torch.randint(0, 256, (1, 2, 4, 32, 32, 3), generator=g, dtype=torch.uint8)
    emb = vlm.encode_views(clip, torch.float32)
    assert emb.shape == (1, 2, 16)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(1, 2))
    torch.testing.assert_close(vlm.encode_views(clip.flip(2), torch.float32), emb)
    assert not torch.allclose(vlm.encode_views(clip.flip(-1), torch.float32), emb, atol=1e-4)
