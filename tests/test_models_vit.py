"""The MVD/VideoMAE ViT: key layout, position tables, strict and safe checkpoint loading."""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from extract_helpers import TINY, save_released_layout, tiny_model

from splitbench.errors import ConfigError, DataError
from splitbench.models.base_model import ModelOverrides, load_base_model
from splitbench.models.checkpoint import read_checkpoint, strip_prefixes
from splitbench.models.vit import VideoViT, ViTConfig, sincos_1d_table, sincos_3d_table

VIT_S = ViTConfig(num_classes=4)


def vit_s_state(num_classes: int = 4) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return VideoViT(replace(VIT_S, num_classes=num_classes)).state_dict()


# -- layout -----------------------------------------------------------------------------


def test_vit_s_has_the_released_162_keys():
    state = vit_s_state()
    assert len(state) == 162
    assert tuple(state["patch_embed.proj.weight"].shape) == (384, 3, 2, 16, 16)
    assert tuple(state["blocks.11.attn.qkv.weight"].shape) == (1152, 384)
    assert tuple(state["blocks.0.attn.q_bias"].shape) == (384,)
    assert tuple(state["blocks.0.mlp.fc1.weight"].shape) == (1536, 384)
    assert {"fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"} <= set(state)
    assert not any("pos_embed" in k or "gamma" in k or k.startswith("norm.") for k in state)
    # backbone 21,879,936 parameters (+ 174 × 385 = 21.95 M for SSv2's 174 classes)
    assert sum(v.numel() for v in state.values()) == 21_879_936 + 4 * 385


# -- position tables ----------------------------------------------------------------------


def mvd_3d_reference(dim: int, grid: int, t_size: int) -> np.ndarray:
    """MVD's get_3d_sincos_pos_embed re-derived in NumPy from its definition."""

    def one_d(d: int, pos: np.ndarray) -> np.ndarray:
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.outer(pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    d_s, d_t = dim // 4 * 3, dim // 4
    gw, gh = np.meshgrid(np.arange(grid, dtype=np.float32), np.arange(grid, dtype=np.float32))
    spatial = np.concatenate([one_d(d_s // 2, gw), one_d(d_s // 2, gh)], axis=1)  # (H·W, d_s)
    temporal = one_d(d_t, np.arange(t_size, dtype=np.float32))  # (T, d_t)
    full = np.concatenate(
        [
            np.repeat(temporal[:, None, :], grid * grid, axis=1),
            np.repeat(spatial[None], t_size, axis=0),
        ],
        axis=-1,
    )
    return full.reshape(-1, dim).astype(np.float32)


def test_3d_table_equals_mvd_definition():
    ours = sincos_3d_table(384, (8, 14, 14)).numpy()
    assert ours.shape == (1568, 384)
    assert np.abs(ours - mvd_3d_reference(384, 14, 8)).max() < 1e-6


def test_1d_table_interleaves_sin_and_cos():
    table = sincos_1d_table(10, 8).double()
    p, i = 7, 2
    angle = p / 10000 ** (2 * i / 8)
    assert math.isclose(table[p, 2 * i], math.sin(angle), abs_tol=1e-6)
    assert math.isclose(table[p, 2 * i + 1], math.cos(angle), abs_tol=1e-6)
    assert (sincos_3d_table(32, (2, 2, 2)) - sincos_1d_table(8, 32)).abs().max() > 0.5


def test_the_two_tables_give_different_logits():
    model = tiny_model()
    other = VideoViT(replace(model.cfg, pos_embed="videomae-1d")).eval()
    other.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        assert (model(x) - other(x)).abs().max() > 1e-3


# -- transformers oracle ----------------------------------------------------------------


def to_hf(state: dict[str, torch.Tensor], depth: int, dim: int) -> dict[str, torch.Tensor]:
    """The documented MVD → transformers 5.x VideoMAE key mapping."""
    out = {
        "videomae.embeddings.patch_embeddings.projection.weight": state["patch_embed.proj.weight"],
        "videomae.embeddings.patch_embeddings.projection.bias": state["patch_embed.proj.bias"],
        "fc_norm.weight": state["fc_norm.weight"],
        "fc_norm.bias": state["fc_norm.bias"],
        "classifier.weight": state["head.weight"],
        "classifier.bias": state["head.bias"],
    }
    for i in range(depth):
        p, q = f"blocks.{i}.", f"videomae.encoder.layer.{i}."
        qkv = state[p + "attn.qkv.weight"]
        a = q + "attention.attention."
        out[a + "query.weight"], out[a + "key.weight"], out[a + "value.weight"] = qkv.split(dim)
        out[a + "query.bias"] = state[p + "attn.q_bias"]
        out[a + "value.bias"] = state[p + "attn.v_bias"]
        for ours, theirs in (
            ("attn.proj", "attention.output.dense"),
            ("norm1", "layernorm_before"),
            ("norm2", "layernorm_after"),
            ("mlp.fc1", "intermediate.dense"),
            ("mlp.fc2", "output.dense"),
        ):
            for s in ("weight", "bias"):
                out[f"{q}{theirs}.{s}"] = state[f"{p}{ours}.{s}"]
    return out


# ViTConfig field -> transformers' VideoMAEConfig argument (the config half of to_hf)
HF_CONFIG_NAMES = {
    "img_size": "image_size",
    "patch_size": "patch_size",
    "num_frames": "num_frames",
    "tubelet_size": "tubelet_size",
    "embed_dim": "hidden_size",
    "depth": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "mlp_hidden": "intermediate_size",
    "num_classes": "num_labels",
}


@pytest.mark.slow  # importing transformers takes seconds
@pytest.mark.parametrize("pos_embed", ["mvd-3d", "videomae-1d"])
def test_agrees_with_transformers_videomae(pos_embed):
    transformers = pytest.importorskip("transformers")
    if not hasattr(transformers, "VideoMAEForVideoClassification"):
        pytest.skip("transformers has no VideoMAE")
    cfg = replace(TINY, num_classes=5, pos_embed=pos_embed)
    ours = tiny_model(seed=3, num_classes=5, cfg=cfg)
    hf_cfg = transformers.VideoMAEConfig(
        **{theirs: getattr(cfg, ours) for ours, theirs in HF_CONFIG_NAMES.items()},
        layer_norm_eps=1e-6,
        qkv_bias=True,
        use_mean_pooling=True,
    )
    hf = transformers.VideoMAEForVideoClassification(hf_cfg).eval()
    hf.load_state_dict(to_hf(ours.state_dict(), cfg.depth, cfg.embed_dim), strict=True)
    if pos_embed == "mvd-3d":  # HF builds VideoMAE's 1-D table; MVD needs the 3-D one
        hf.videomae.embeddings.position_embeddings = ours.pos_table.clone()
    x = torch.randn(3, 3, cfg.num_frames, cfg.img_size, cfg.img_size)
    with torch.no_grad():
        a = ours(x)
        b = hf(pixel_values=x.permute(0, 2, 1, 3, 4)).logits  # HF takes (B, T, C, H, W)
    assert (a - b).abs().max() < 1e-5 * max(1.0, float(a.abs().max()))


# -- checkpoint loading -------------------------------------------------------------------


def test_vit_s_checkpoint_in_released_layout_loads_strictly(tmp_path):
    state = vit_s_state()
    path = tmp_path / "SSv2-Split-A.pt"
    save_released_layout(
        path, state, model_name="vit_small_patch16_224", num_frames=16, input_size=224
    )
    with pytest.raises(ConfigError, match="--trust-checkpoint"):  # 'args' is a Python object
        load_base_model(path)
    base = load_base_model(path, trust=True)
    assert base.config == VIT_S and base.config.num_heads == 6  # from args.model
    assert base.checkpoint.container == "module" and base.checkpoint.full_unpickle
    loaded = base.model.state_dict()
    assert len(loaded) == 162
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    ident = base.identity()
    assert ident["checkpoint_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(ident["checkpoint_sha256"]) == 64 and ident["args_model"] == "vit_small_patch16_224"


def test_heads_default_to_width_over_64_without_args(tmp_path):
    path = tmp_path / "plain.pth"
    torch.save({"model": vit_s_state()}, path)
    base = load_base_model(path)
    assert base.config.num_heads == 6 and base.config.num_frames == 16
    assert base.checkpoint.container == "model"


def test_a_renamed_key_is_a_one_line_error_naming_both(tmp_path):
    state = vit_s_state()
    state["blocks.3.attn.qkv.weights"] = state.pop("blocks.3.attn.qkv.weight")
    path = tmp_path / "renamed.pth"
    torch.save({"model": state}, path)
    with pytest.raises(DataError) as exc:
        load_base_model(path)
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg
    assert "missing keys blocks.3.attn.qkv.weight" in msg
    assert "unexpected keys blocks.3.attn.qkv.weights" in msg


def test_a_shape_mismatch_is_named(tmp_path):
    state = vit_s_state()
    state["blocks.2.mlp.fc2.bias"] = torch.zeros(10)
    path = tmp_path / "shape.pth"
    torch.save({"model": state}, path)
    with pytest.raises(DataError, match=r"shape mismatches blocks\.2\.mlp\.fc2\.bias \(10,\)"):
        load_base_model(path)


def test_pretraining_checkpoint_is_recognised(tmp_path):
    state = dict(vit_s_state())
    state["pos_embed"] = torch.zeros(1, 1568, 384)
    state["decoder_vid.blocks.0.norm1.weight"] = torch.zeros(384)
    path = tmp_path / "mvd_s_from_l_ckpt_399.pth"
    torch.save({"model": state}, path)
    with pytest.raises(DataError, match="pre-training checkpoint"):
        load_base_model(path)


@pytest.mark.parametrize(
    ("container", "prefix"),
    [
        ("model", ""),
        ("module", "module."),
        ("model_ema", "backbone."),
        ("state_dict", "encoder."),
        (None, "module.encoder."),
    ],
)
def test_containers_and_prefixes(tmp_path, container, prefix):
    model = tiny_model()
    state = {prefix + k: v for k, v in model.state_dict().items()}
    path = tmp_path / "ck.pth"
    torch.save(state if container is None else {container: state, "epoch": 3}, path)
    base = load_base_model(path, overrides=ModelOverrides(num_heads=2, num_frames=4, img_size=32))
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.allclose(base.model(x), model(x))


def test_prefix_collision_is_an_error():
    with pytest.raises(DataError, match="both become"):
        strip_prefixes({"module.a": torch.zeros(1), "a": torch.zeros(1)})


def test_heads_cannot_be_guessed_for_odd_widths(tmp_path):
    path = tmp_path / "tiny.pth"
    torch.save({"model": tiny_model().state_dict()}, path)
    with pytest.raises(ConfigError, match="pass --heads"):
        load_base_model(path)


def test_unsafe_checkpoint_needs_trust_and_says_why(tmp_path):
    path = tmp_path / "ck.pth"
    save_released_layout(path, tiny_model().state_dict(), extra_args={"lr": np.float64(1e-3)})
    overrides = ModelOverrides(num_heads=2)
    with pytest.raises(ConfigError) as exc:
        load_base_model(path, overrides=overrides)
    assert "--trust-checkpoint" in str(exc.value) and "Python objects" in str(exc.value)
    base = load_base_model(path, trust=True, overrides=overrides)
    assert base.checkpoint.full_unpickle
    assert isinstance(base.checkpoint.args, dict) and base.checkpoint.args["num_frames"] == 4
    assert base.checkpoint.args["model_key"] == "model|module"


def test_tensor_only_checkpoint_loads_weights_only(tmp_path):
    path = tmp_path / "ck.pth"
    torch.save({"model_ema": tiny_model().state_dict(), "epoch": 3}, path)
    contents = read_checkpoint(path)
    assert not contents.full_unpickle and contents.args == {}
    assert contents.container == "model_ema" and len(contents.state_dict) == 4 + 13 * 2 + 2


def test_head_size_check_names_both_sizes(tmp_path):
    path = tmp_path / "ck.pth"
    save_released_layout(path, tiny_model(num_classes=4).state_dict())
    base = load_base_model(path, trust=True, overrides=ModelOverrides(num_heads=2))
    base.check_head(4, "ssv2-split/A", {"B": 5})
    with pytest.raises(DataError) as exc:
        base.check_head(5, "ssv2-split/B", {"A": 4})
    assert "head has 4 classes but ssv2-split/B labels.json has 5" in str(exc.value)
    assert "subset A has 4: wrong --subset?" in str(exc.value)


@pytest.mark.parametrize("variant", ["cls_token", "token0"])
def test_mvd_pooling_variants_load_strictly(tmp_path, variant):
    cfg = (
        replace(TINY, use_cls_token=True)
        if variant == "cls_token"
        else replace(TINY, use_cls_token=True, use_mean_pooling=False)
    )
    model = tiny_model(cfg=cfg)
    path = tmp_path / "v.pth"
    torch.save({"model": model.state_dict()}, path)
    base = load_base_model(path, overrides=ModelOverrides(num_heads=2, num_frames=4, img_size=32))
    assert base.config.use_cls_token and base.config.use_mean_pooling == (variant == "cls_token")
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.allclose(base.model(x), model(x))
