"""Video-language encoders: ViCLIP (official keys, strict loading, an independent re-implementation
of the official forward as oracle), CLIP through open_clip (per-frame encoding, pooling), their
channel and time order, VLM views and prompt sets."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from splitbench.errors import ConfigError, DataError
from splitbench.models.clip_video import OpenClipVideo, pool_frames, resolve_clip_weights
from splitbench.models.prompts import PROMPT_SETS, class_embeddings, prompt_texts
from splitbench.models.viclip import ViCLIP, ViCLIPVideo, build_from_state, load_viclip
from splitbench.models.viclip_config import VICLIP_B16, VICLIP_L14, ViCLIPConfig, reduced_config
from splitbench.models.vlm import VLMOptions, load_vlm, parse_vlm_spec, vlm_slug
from splitbench.video.decode import DecodedVideo
from splitbench.video.vlm_views import VLMViews, middle_indices

TINY_VICLIP = reduced_config(64, 2, 1, patch_size=16, image_size=32, num_frames=4, embed_dim=32)
TINY_CLIP_NAME = "splitbench-test-tiny-clip"


def tiny_viclip(seed: int = 0) -> ViCLIP:
    torch.manual_seed(seed)
    model = ViCLIP(TINY_VICLIP).eval()
    with torch.no_grad():  # the official init leaves the temporal table at zero; make it matter
        model.vision_encoder.temporal_positional_embedding.normal_(0.0, 0.5)
    return model


def save_viclip(path: Path, model: ViCLIP) -> Path:
    torch.save({"model": model.state_dict()}, path)  # the official container
    return path


def moving_clip(tmp_path: Path, frames: int = 4, size: int = 32, seed: int = 0) -> torch.Tensor:
    """A PyAV-encoded clip (class colour, noise, a moving bar) decoded and sampled with the
    official ViCLIP views: uint8 (1, 1, T, S, S, 3) whose frames and colour channels differ."""
    from extract_helpers import write_video

    from splitbench.video.decode import decode_video

    path = tmp_path / f"clip{seed}.mp4"
    write_video(path, "libx264", 12, (200, 90, 30), seed=seed)
    views = VLMViews(frames=frames, size=size).sample(decode_video(path))
    return torch.from_numpy(views)[None]


# -- official-layout oracle -------------------------------------------------------------------


def _attn(x, blk, mask=None):
    """nn.MultiheadAttention written out (sequence-first input as in the official code)."""
    L, B, W = x.shape
    a = blk.attn
    heads = a.num_heads
    q, k, v = F.linear(x, a.in_proj_weight, a.in_proj_bias).chunk(3, dim=-1)

    def split(t):
        return t.reshape(L, B * heads, W // heads).transpose(0, 1)

    s = split(q) @ split(k).transpose(1, 2) / math.sqrt(W // heads)
    if mask is not None:
        s = s + mask
    o = (s.softmax(-1) @ split(v)).transpose(0, 1).reshape(L, B, W)
    return F.linear(o, a.out_proj.weight, a.out_proj.bias)


def _block(x, blk, mask=None):
    x = x + _attn(blk.ln_1(x), blk, mask)
    h = F.linear(blk.ln_2(x), blk.mlp.c_fc.weight, blk.mlp.c_fc.bias)
    h = h * torch.sigmoid(1.702 * h)  # QuickGELU
    return x + F.linear(h, blk.mlp.c_proj.weight, blk.mlp.c_proj.bias)


def official_vision(vis, x):
    """The official ViCLIP VisionTransformer.forward (test=True), token order and all."""
    x = vis.conv1(x)
    B, C, T, H, W = x.shape
    x = x.permute(0, 2, 3, 4, 1).reshape(B * T, H * W, C)
    x = torch.cat([vis.class_embedding + torch.zeros(x.shape[0], 1, C), x], dim=1)
    x = x + vis.positional_embedding
    cls_tokens = x[:B, :1, :]
    x = x[:, 1:]
    x = x.reshape(B, T, H * W, C).permute(0, 2, 1, 3).reshape(B * H * W, T, C)  # (b t) n -> (b n) t
    x = x + vis.temporal_positional_embedding
    x = x.reshape(B, H * W * T, C)  # (b n) t m -> b (n t) m
    x = torch.cat((cls_tokens, x), dim=1)
    x = vis.ln_pre(x).permute(1, 0, 2)
    for blk in vis.transformer.resblocks:
        x = _block(x, blk)
    x = vis.ln_post(x)
    return x[0] @ vis.proj


def official_text(txt, tokens):
    """The official CLIP_TEXT.forward."""
    x = txt.token_embedding(tokens) + txt.positional_embedding
    n = tokens.shape[1]
    mask = torch.full((n, n), float("-inf")).triu_(1)
    x = x.permute(1, 0, 2)
    for blk in txt.transformer.resblocks:
        x = _block(x, blk, mask)
    x = txt.ln_final(x.permute(1, 0, 2))
    return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ txt.text_projection


def test_viclip_matches_an_independent_official_forward(tmp_path):
    model = tiny_viclip()
    loaded, contents = load_viclip(save_viclip(tmp_path / "v.pth", model))
    assert contents.container == "model"
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        ours = loaded.vision_encoder(x)
        ref = official_vision(model.vision_encoder, x)
    assert torch.allclose(ours, ref, atol=1e-5), (ours - ref).abs().max()
    from open_clip.tokenizer import SimpleTokenizer

    tokens = SimpleTokenizer(context_length=32)(["a video of a person bending something"] * 2)
    with torch.no_grad():
        assert torch.allclose(
            loaded.encode_text_tokens(tokens), official_text(model.text_encoder, tokens), atol=1e-5
        )


def test_viclip_tokenizer_context_length_and_truncation():
    from open_clip.tokenizer import SimpleTokenizer

    tok = SimpleTokenizer(context_length=32)
    ids = tok([" ".join(["word"] * 60)])
    assert ids.shape == (1, 32) and int(ids[0, -1]) == tok.eot_token_id


def test_viclip_official_shapes():
    with torch.device("meta"):
        large, base = ViCLIP(VICLIP_L14), ViCLIP(VICLIP_B16)
    n_large = sum(p.numel() for p in large.parameters())
    n_base = sum(p.numel() for p in base.parameters())
    assert 427e6 < n_large < 429e6 and len(large.state_dict()) == 447
    assert 149e6 < n_base < 150.5e6 and len(base.state_dict()) == 303  # video-models.md §3.2


def _cheap_state(cfg: ViCLIPConfig) -> dict[str, torch.Tensor]:
    """Random values for every official key at full shape, as zero-stride views of one small
    random buffer (a few KB however large the model)."""
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in ViCLIP(cfg).state_dict().items()}
    buf = torch.randn(4096)
    out = {}
    for k, shape in shapes.items():
        stride = tuple([0] * (len(shape) - 1) + [1]) if shape else ()
        out[k] = buf.as_strided(shape, stride)
    return out


@pytest.fixture(scope="module")
def large_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("viclip-l") / "ViClip-InternVid-10M-FLT.pth"
    torch.save({"model": _cheap_state(VICLIP_L14)}, path)
    return path


def test_viclip_l14_state_dict_loads_strictly(large_file):
    assert large_file.stat().st_size < 2_000_000  # the official keys, not 1.7 GB of values
    model, contents = load_viclip(large_file)
    assert model.cfg == VICLIP_L14
    assert sum(p.numel() for p in model.parameters()) == sum(
        v.numel() for v in contents.state_dict.values()
    )
    # assigned, not copied: the parameters are the file's tensors
    key = "vision_encoder.transformer.resblocks.23.mlp.c_fc.weight"
    param = dict(model.named_parameters())[key]
    assert param.data_ptr() == contents.state_dict[key].data_ptr()
    vlm = ViCLIPVideo(large_file, VLMOptions(text_only=True))
    assert vlm.encode_text(["Bending something until it breaks"]).shape == (1, 768)
    assert vlm.default_views(None) == VLMViews(frames=8, sampler="middle", resize="squash")


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (
            lambda s: s.pop("vision_encoder.ln_post.bias"),
            "missing keys vision_encoder.ln_post.bias",
        ),
        (
            lambda s: s.__setitem__("text_encoder.logit_scale", torch.ones([])),
            "unexpected keys text_encoder.logit_scale",
        ),
        (
            lambda s: s.__setitem__("vision_encoder.proj", torch.zeros(1024, 512)),
            "shape mismatches text_encoder.text_projection (768, 768) vs model (768, 512)",
        ),
        (
            lambda s: [
                s.__setitem__(k.replace("vision_encoder.", "visual."), s.pop(k))
                for k in list(s)
                if k.startswith("vision_encoder.")
            ],
            "missing vision_encoder.conv1.weight",
        ),
    ],
    ids=["missing", "unexpected", "shape", "open_clip-layout"],
)
def test_viclip_wrong_layout_is_one_line_naming_keys(tmp_path, mutate, expect):
    state = _cheap_state(VICLIP_L14)
    mutate(state)
    path = tmp_path / "bad.pth"
    torch.save({"model": state}, path)
    with pytest.raises(DataError) as exc:
        load_viclip(path)
    msg = str(exc.value)
    assert expect in msg and "\n" not in msg and str(path) in msg


def test_viclip_order_sensitivity(tmp_path):
    """ViCLIP sees time (temporal position table) and colour: a time-reversed or channel-swapped
    clip gets another embedding; the frames enter as (B, 3, T, H, W) from channels-last views."""
    vlm = ViCLIPVideo(save_viclip(tmp_path / "v.pth", tiny_viclip()))
    clip = moving_clip(tmp_path)
    assert (clip[0, 0, 0] != clip[0, 0, 2]).any()  # the frames differ
    emb = vlm.encode_views(clip, torch.float32)
    assert emb.shape == (1, 1, 32) and torch.allclose(emb.norm(dim=-1), torch.ones(1, 1))
    reversed_ = vlm.encode_views(clip.flip(2), torch.float32)
    swapped = vlm.encode_views(clip.flip(-1), torch.float32)  # RGB -> BGR
    assert (emb - reversed_).abs().max() > 1e-3
    assert (emb - swapped).abs().max() > 1e-3
    # the input is exactly frames → (B, C, T, H, W), ImageNet-normalised
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1, 1)
    frames = clip[0, 0].float() / 255.0  # (T, H, W, 3)
    x = torch.stack([frames[..., ch] for ch in range(3)])[None]  # (1, 3, T, H, W)
    with torch.no_grad():
        direct = vlm.model.vision_encoder((x - mean) / std)
    assert torch.allclose(emb[0, 0], F.normalize(direct, dim=-1)[0], atol=1e-5)


# -- CLIP through open_clip -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_clip_file(tmp_path_factory) -> Path:
    """A tiny open_clip config registered under a test name, and random weights for it."""
    import open_clip

    root = tmp_path_factory.mktemp("tiny-clip")
    cfg = {
        "embed_dim": 32,
        "quick_gelu": True,
        "vision_cfg": {
            "image_size": 32,
            "layers": 2,
            "width": 64,
            "head_width": 32,
            "patch_size": 16,
        },
        "text_cfg": {
            "context_length": 77,
            "vocab_size": 49408,
            "width": 64,
            "heads": 2,
            "layers": 2,
        },
    }
    (root / f"{TINY_CLIP_NAME}.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(root / f"{TINY_CLIP_NAME}.json")
    torch.manual_seed(1)
    model = open_clip.create_model(TINY_CLIP_NAME, pretrained=None)
    path = root / "open_clip_pytorch_model.bin"
    torch.save(model.state_dict(), path)
    return path


def test_clip_loads_weights_strictly_and_records_identity(tiny_clip_file):
    vlm = load_vlm(f"clip:{TINY_CLIP_NAME}/{tiny_clip_file}")
    assert isinstance(vlm, OpenClipVideo) and vlm.embed_dim == 32 and vlm.input_size == 32
    ident = vlm.identity()
    assert ident["weights_sha256"] and ident["pooling"] == "mean" and ident["quick_gelu"] is False
    assert ident["normalisation"]["mean"][0] == pytest.approx(0.48145466)
    assert vlm.spec == f"clip:{TINY_CLIP_NAME}/{tiny_clip_file.resolve()}"
    text = vlm.encode_text(["pushing something", "pulling something"])
    assert text.shape == (2, 32) and not np.allclose(text[0], text[1])


def test_clip_wrong_layout_and_missing_weights_are_one_line(tmp_path, tiny_clip_file):
    state = torch.load(tiny_clip_file, weights_only=True)
    state.pop("visual.proj")
    bad = tmp_path / "bad.bin"
    torch.save(state, bad)
    with pytest.raises(DataError, match=r"missing keys visual\.proj") as exc:
        load_vlm(f"clip:{TINY_CLIP_NAME}/{bad}")
    assert "\n" not in str(exc.value)
    with pytest.raises(ConfigError, match="neither a pretrained tag"):
        load_vlm(f"clip:{TINY_CLIP_NAME}/{tmp_path / 'absent.bin'}")
    with pytest.raises(ConfigError, match="never downloads"):
        resolve_clip_weights("ViT-B-16", "laion2b_s34b_b88k")
    _, tag, quick = resolve_clip_weights("ViT-L-14", f"openai={tiny_clip_file}")
    assert tag == "openai" and quick  # the tag's config turns QuickGELU on


def test_clip_frames_enter_in_time_and_channel_order(tiny_clip_file, tmp_path):
    """Each frame is encoded as (3, H, W) with channels from the last axis — not the released
    code's reshape of (B, C, T, H, W) to (-1, C, H, W), which mixes frames into channels."""
    vlm = load_vlm(f"clip:{TINY_CLIP_NAME}/{tiny_clip_file}")
    assert isinstance(vlm, OpenClipVideo)
    clip = moving_clip(tmp_path)
    frames = vlm.frame_embeddings(clip, torch.float32)[0, 0]  # (T, E)
    mean = torch.tensor(vlm.mean).view(1, 3, 1, 1)
    std = torch.tensor(vlm.std).view(1, 3, 1, 1)
    x = clip[0, 0].permute(0, 3, 1, 2).float() / 255.0  # (T, 3, H, W)
    with torch.no_grad():
        direct = F.normalize(vlm._model.encode_image((x - mean) / std), dim=-1)
        cthw = x.permute(1, 0, 2, 3)  # (C, T, H, W) as the released code holds a clip
        scrambled = F.normalize(
            vlm._model.encode_image((cthw.reshape(-1, 3, 32, 32) - mean) / std), dim=-1
        )
    assert torch.allclose(frames, direct, atol=1e-5)
    assert (frames - scrambled).abs().max() > 1e-3


def test_clip_pooling_sees_colour_but_not_frame_order(tiny_clip_file, tmp_path):
    """Mean (and attention) pooling of per-frame embeddings is invariant to frame order, so a
    time-reversed clip gets the same CLIP embedding; swapping colour channels changes it."""
    for pooling in ("mean", "attention"):
        vlm = load_vlm(f"clip:{TINY_CLIP_NAME}/{tiny_clip_file}", VLMOptions(pooling=pooling))
        clip = moving_clip(tmp_path, seed=3)
        emb = vlm.encode_views(clip, torch.float32)
        assert torch.allclose(emb, vlm.encode_views(clip.flip(2), torch.float32), atol=1e-5)
        assert (emb - vlm.encode_views(clip.flip(-1), torch.float32)).abs().max() > 1e-3
        frames = vlm.frame_embeddings(clip, torch.float32)  # type: ignore[attr-defined]
        assert (frames[0, 0, 0] - frames[0, 0, 1]).abs().max() > 1e-3  # the frames differ


def test_attention_pooling_weights_frames_by_agreement():
    f = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]]), dim=-1)
    mean, att = pool_frames(f, "mean"), pool_frames(f, "attention")
    # the outlier frame counts less under attention pooling
    assert att[0] > mean[0] and att[1] < mean[1]
    with pytest.raises(ConfigError):
        pool_frames(f, "max")


# -- specs, views, prompts --------------------------------------------------------------------


def test_vlm_specs_and_slugs():
    assert parse_vlm_spec("clip:ViT-L-14/openai") == ("clip", "ViT-L-14/openai")
    assert vlm_slug("clip:ViT-L-14/openai") == "clip-vit-l-14-openai"
    assert (
        vlm_slug("viclip:/data/ViClip-InternVid-10M-FLT.pth") == "viclip-viclip-internvid-10m-flt"
    )
    assert (
        vlm_slug("clip:ViT-B-16//w/open_clip_model.safetensors") == "clip-vit-b-16-open-clip-model"
    )
    for bad in ("clip", "clip:", ":x"):
        with pytest.raises(ConfigError):
            parse_vlm_spec(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_vlm("viclip:/nonexistent/viclip.pth")


@pytest.mark.parametrize(
    ("n", "frames", "expect"),
    [
        (80, 8, [4, 14, 24, 34, 44, 54, 64, 74]),
        (48, 8, [2, 8, 14, 20, 26, 32, 38, 44]),
        (9, 8, [0, 1, 2, 3, 4, 5, 6, 7]),
        (8, 8, [0, 1, 2, 3, 4, 5, 6, 7]),
        (5, 8, [0, 1, 2, 3, 4, 4, 4, 4]),
        (1, 8, [0] * 8),
        (90, 16, [2, 7, 13, 18, 24, 30, 35, 41, 47, 52, 58, 63, 69, 75, 80, 86]),
    ],
)
def test_middle_indices_follow_internvideo(n, frames, expect):
    # InternVideo get_frame_indices(sample="middle"): edges int(linspace(0, n, k + 1)) with
    # k = min(frames, n), index (start + end - 1) // 2 per interval, padded with the last
    assert middle_indices(n, frames) == expect
    assert all(0 <= i < n for i in middle_indices(n, frames))


def _video(frames: int, h: int, w: int) -> DecodedVideo:
    import av

    out = []
    for t in range(frames):
        img = np.zeros((h, w, 3), dtype=np.uint8)
        img[..., 0] = t * 10
        img[..., 1] = np.arange(w)[None, :] % 256
        img[..., 2] = np.arange(h)[:, None] % 256
        out.append(av.VideoFrame.from_ndarray(img, format="rgb24"))
    return DecodedVideo(Path("x"), tuple(out), w, h)


def test_vlm_views_squash_and_short_side():
    video = _video(20, 48, 64)
    squash = VLMViews(frames=8, size=32).sample(video)
    assert squash.shape == (1, 8, 32, 32, 3)
    assert [int(f[0, 0, 0]) // 10 for f in squash[0]] == middle_indices(20, 8)
    assert squash[0, 0, 0, -1, 1] > 50  # the whole width is kept (squashed, not cropped)
    clip_views = VLMViews(
        frames=4, sampler="mvd", segments=2, crops=3, resize="short-side", size=32, short_side=32
    )
    v = clip_views.sample(video)
    assert v.shape == (6, 4, 32, 32, 3) and clip_views.views == 6
    middle_crops = VLMViews(frames=4, crops=3, resize="short-side", size=32, short_side=32).sample(
        video
    )
    assert middle_crops.shape == (3, 4, 32, 32, 3)
    assert not np.array_equal(middle_crops[0], middle_crops[2])  # left and right crops
    for bad in (
        VLMViews(sampler="middle", segments=2),
        VLMViews(resize="squash", crops=3),
        VLMViews(sampler="uniform"),
        VLMViews(resize="short-side", size=256, short_side=224),
    ):
        with pytest.raises(ConfigError):
            bad.check()
    rec = VLMViews().record()
    assert rec["views"] == 1 and rec["resize"] == "squash" and rec["sampler"] == "middle"


def test_prompt_sets():
    k700 = PROMPT_SETS["kinetics700"]
    assert len(k700) == 28 and "a video of a person {}." in k700 and k700[0] == "a photo of {}."
    assert (
        len(PROMPT_SETS["ucf101"]) == 48
        and "a demonstration of the person practicing {}." in PROMPT_SETS["ucf101"]
    )
    assert PROMPT_SETS["raw"] == ("{}",)
    assert prompt_texts(["x", "y"], "raw") == ["x", "y"]
    with pytest.raises(ConfigError, match="expected one of"):
        prompt_texts(["x"], "imagenet")

    class Fake:
        def encode(self, texts):
            return np.array([[len(t), 1.0] for t in texts])

    emb = class_embeddings(Fake(), ["a", "bb"], "kinetics700")
    assert emb.shape == (2, 2) and np.allclose(np.linalg.norm(emb, axis=1), 1.0)
    raw = class_embeddings(Fake(), ["a"], "raw")
    assert np.allclose(raw, np.array([[1.0, 1.0]]) / np.sqrt(2))


def test_build_from_state_text_only_ignores_vision_keys():
    model = tiny_viclip()
    state = {k: v for k, v in model.state_dict().items()}
    text_only = build_from_state(state, "mem", text_only=True)
    assert text_only.vision_encoder is None
    tokens = torch.randint(1, 1000, (1, 32))
    with torch.no_grad():
        assert torch.allclose(
            text_only.encode_text_tokens(tokens), model.encode_text_tokens(tokens), atol=1e-6
        )
