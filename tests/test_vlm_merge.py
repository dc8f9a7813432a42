"""``splitbench vlm merge``: task arithmetic over tiny random open_clip models, checked parameter
by parameter; the merged model's identity in the VLM and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from extract_helpers import cli
from test_vlm_models import TINY_CLIP_NAME
from test_vlm_models import tiny_clip_file as tiny_clip_file

from splitbench.errors import ConfigError, DataError
from splitbench.models.checkpoint import file_sha256
from splitbench.models.merge import read_manifest, task_arithmetic
from splitbench.models.vlm import load_vlm


def finetuned(base: Path, out: Path, seed: int, scale: float = 0.05) -> Path:
    """A 'finetuned' copy of ``base``: every float tensor moved by seeded noise, saved in
    open_clip's training-checkpoint container (``state_dict`` with ``module.`` prefixes)."""
    state = torch.load(base, weights_only=True)
    g = torch.Generator().manual_seed(seed)
    moved = {}
    for k, v in state.items():
        noise = scale * torch.randn(v.shape, generator=g) if v.is_floating_point() else 0
        moved[f"module.{k}"] = v + noise
    torch.save({"epoch": 3, "name": "ft", "state_dict": moved}, out)
    return out


@pytest.fixture()
def inputs(tiny_clip_file, tmp_path):
    return (
        tiny_clip_file,
        finetuned(tiny_clip_file, tmp_path / "ft1.pt", 1),
        finetuned(tiny_clip_file, tmp_path / "ft2.pt", 2),
    )


def _states(*paths: Path) -> list[dict[str, torch.Tensor]]:
    out = []
    for p in paths:
        raw = torch.load(p, weights_only=True)
        raw = raw.get("state_dict", raw)
        out.append({k.removeprefix("module."): v for k, v in raw.items()})
    return out


def merge_both(inputs, out: Path, monkeypatch, capsys, *lams: str) -> str:
    """``splitbench vlm merge`` of both finetuned copies into ``out``; its stderr (exit 0)."""
    base, ft1, ft2 = inputs
    code, _, err = cli(
        monkeypatch,
        capsys,
        *("vlm", "merge", "--model", TINY_CLIP_NAME, "--base", str(base)),
        *("--checkpoint", str(ft1), "--checkpoint", str(ft2), "-o", str(out)),
        *(a for lam in lams for a in ("--lam", lam)),
    )
    assert code == 0, err
    return err


def test_merge_equals_base_plus_lambda_times_summed_task_vectors(
    inputs, tmp_path, monkeypatch, capsys
):
    base, ft1, ft2 = inputs
    out = tmp_path / "merged.safetensors"
    err = merge_both(inputs, out, monkeypatch, capsys, "0.3")
    assert "merged 2" in err and "λ = 0.3, 0.3" in err
    from safetensors.torch import load_file

    merged = load_file(str(out))
    t0, t1, t2 = _states(base, ft1, ft2)
    assert set(merged) == set(t0)
    floats = 0
    for k, theta0 in t0.items():
        if not theta0.is_floating_point():
            assert torch.equal(merged[k], theta0)
            continue
        floats += 1
        b, a, c = theta0.double(), t1[k].double(), t2[k].double()
        expect = b + 0.3 * ((a - b) + (c - b))  # θ₀ + λ(τ₁ + τ₂)
        assert merged[k].dtype == theta0.dtype
        # float64 arithmetic rounded once to float32: within half an ulp of the exact value
        torch.testing.assert_close(merged[k].double(), expect, rtol=2**-24, atol=1e-12)
        assert not torch.equal(merged[k], theta0)  # the task vectors really moved it
    assert floats > 10
    manifest = read_manifest(out)
    assert manifest is not None and manifest.lambdas == (0.3, 0.3)
    assert manifest.base.sha256 == file_sha256(base)
    assert [c.sha256 for c in manifest.checkpoints] == [file_sha256(ft1), file_sha256(ft2)]


def test_per_checkpoint_lambdas_and_lambda_zero_is_the_base(inputs):
    base, ft1, ft2 = inputs
    t0, t1, t2 = _states(base, ft1, ft2)
    m = task_arithmetic(t0, [("a", t1), ("b", t2)], [0.5, -0.25])
    k = next(k for k, v in t0.items() if v.is_floating_point() and v.ndim == 2)
    exact = t0[k].double() + 0.5 * (t1[k].double() - t0[k].double())
    exact = exact - 0.25 * (t2[k].double() - t0[k].double())
    assert torch.equal(m[k], exact.float())
    zero = task_arithmetic(t0, [("a", t1)], [0.0])
    assert all(torch.equal(zero[k], t0[k]) for k in t0)
    one = task_arithmetic(t0, [("a", t1)], [1.0])
    assert all(torch.allclose(one[k], t1[k], atol=1e-6) for k in t0)


def test_merged_model_loads_as_merged_clip_with_its_identity(inputs, tmp_path, monkeypatch, capsys):
    base, _, ft2 = inputs
    out = tmp_path / "m.safetensors"
    merge_both(inputs, out, monkeypatch, capsys, "0.5", "0.2")
    for spec in (f"merged-clip:{out}", f"clip:{TINY_CLIP_NAME}/{out}"):
        vlm = load_vlm(spec)
        ident = vlm.identity()
        assert vlm.family == "merged-clip" and vlm.spec == f"merged-clip:{out.resolve()}"
        assert ident["merge"]["lambdas"] == [0.5, 0.2]
        assert ident["merge"]["checkpoints"][1]["sha256"] == file_sha256(ft2)
        assert ident["weights_sha256"] == file_sha256(out)
    plain = load_vlm(f"clip:{TINY_CLIP_NAME}/{base}")
    assert plain.family == "clip" and "merge" not in plain.identity()


def test_merge_errors_are_one_line(inputs, tmp_path, monkeypatch, capsys):
    base, ft1, ft2 = inputs
    state = torch.load(base, weights_only=True)
    key = next(iter(state))
    renamed = tmp_path / "renamed.pt"
    torch.save({("x" + k if k == key else k): v for k, v in state.items()}, renamed)
    t0 = _states(base)[0]
    with pytest.raises(DataError, match=r"renamed.pt: not the base's architecture .*missing keys"):
        task_arithmetic(t0, [(str(renamed), _states(renamed)[0])], [1.0])
    wide = dict(t0)
    wide["text_projection"] = torch.zeros(64, 48)
    with pytest.raises(DataError, match="shape mismatches text_projection"):
        task_arithmetic(t0, [("wide", wide)], [1.0])
    cases = [
        (["--lam", "0.1", "--lam", "0.2", "--lam", "0.3"], "3 values for 2 checkpoints"),
        (["--lam", "nan"], "finite"),
        (["-o", str(tmp_path / "m.bin")], "written as .safetensors"),
        (["--checkpoint", str(renamed)], "not the base's architecture"),
    ]
    for extra, expect in cases:
        args = ["vlm", "merge", "--model", TINY_CLIP_NAME, "--base", str(base)]
        args += ["--checkpoint", str(ft1), "--checkpoint", str(ft2)]
        if "-o" not in extra:
            args += ["-o", str(tmp_path / "out.safetensors")]
        code, _, err = cli(monkeypatch, capsys, *args, *extra)
        assert code == 2 and expect in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(ConfigError, match="no splitbench_merge metadata"):
        from safetensors.torch import save_file

        plain = tmp_path / "plain.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, str(plain))
        load_vlm(f"merged-clip:{plain}")
    with pytest.raises(ConfigError, match="does not exist"):
        load_vlm(f"merged-clip:{tmp_path / 'absent.safetensors'}")
