"""The VLM cascades and text_head on the synthetic benchmark's simulated VLM spaces, checked
against quantities computed independently here (routing, coarse recall, locality against the
unmasked and the masked base model, the VLM's decision)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from splitbench.benchmarks.synthetic import SimulatedVLM, SyntheticConfig, build_world
from splitbench.errors import ConfigError, DataError
from splitbench.features.simulate import simulated_vlm_features
from splitbench.features.vlm import open_vlm_space, vlm_names
from splitbench.features.vlm_classifier import vlm_classifier_store
from splitbench.models.text import get_text_encoder
from splitbench.protocol import build_config, load_methods
from splitbench.protocol.context import SplitTask, SubsetContext
from splitbench.protocol.runner import Runner
from splitbench.protocol.scoring import reference_probabilities


def run(method_name, synthetic, stores, out, targets=None, **config):
    cls = load_methods().get(method_name)
    method = cls(build_config(cls.config_class, config))
    report = Runner(method, synthetic, stores, out, progress=False).run(["A", "B"], [0], targets)
    return method, report


@pytest.fixture(scope="module")
def cascade_runs(synthetic, synthetic_stores, tmp_path_factory):
    out = tmp_path_factory.mktemp("cascade-results")
    return {
        name: run(name, synthetic, synthetic_stores, out)[1]
        for name in ("clip_cascade", "viclip_cascade")
    }


def base_probabilities(store):
    w, b = (torch.from_numpy(a) for a in store.head())
    x = torch.from_numpy(store.split("val").features.astype(np.float32))
    logits = x @ w.T + b
    return torch.softmax(logits, -1).mean(1).numpy(), logits.numpy()


@pytest.mark.parametrize("method", ["clip_cascade", "viclip_cascade"])
def test_cascade_against_independent_computation(method, cascade_runs, synthetic, synthetic_stores):
    report = cascade_runs[method]
    assert not report.by_status("failed") and len(report.by_status("done")) == 22
    enc = get_text_encoder("minilm")
    family = method.split("_")[0]
    for o in report.by_status("done"):
        store, subset, t, r = (
            synthetic_stores[o.subset],
            synthetic.subset(o.subset),
            o.target,
            o.result,
        )
        probs, logits = base_probabilities(store)
        pred = probs.argmax(1)  # unmasked routing
        c, eq, un = t.coarse_index, t.equivalent.rows, t.unrelated.rows
        routed = pred == c
        # the VLM's decision among the k subcategories, from the simulated space
        vfeat = open_vlm_space(store, family).val_features(subset).numpy()
        text = enc.encode(list(t.fine_labels))
        text /= np.linalg.norm(text, axis=1, keepdims=True)
        sims = vfeat @ text.T
        q = np.exp(sims) / np.exp(sims).sum(-1, keepdims=True)
        vlm_pred = q.mean(1).argmax(1) + t.fine_indices[0]
        cascade = np.where(routed, vlm_pred, pred)
        gen = float((cascade[eq] == t.equivalent.labels).mean())
        recall = float(routed[eq].mean())
        assert r.metrics.generality == pytest.approx(gen, abs=1e-12)
        assert r.metrics.generality <= recall  # at most the base model's coarse-level recall
        # locality is exactly 100 % against the unmasked base model (the released code's view)
        unmasked_correct = int((pred[un] == t.unrelated.labels).sum())
        assert r.counts.unrelated_correct_edited == unmasked_correct
        assert r.counts.unrelated_correct_edited == int((cascade[un] == t.unrelated.labels).sum())
        # ... and the harness divides by the masked original (paper-brief §3), as for all methods
        masked = reference_probabilities(logits, c).argmax(1)
        masked_correct = int((masked[un] == t.unrelated.labels).sum())
        assert r.counts.unrelated_correct_original == masked_correct
        lost = int((routed[un] & (masked[un] == t.unrelated.labels)).sum())
        assert r.metrics.locality == pytest.approx(unmasked_correct / masked_correct)
        if not ((pred[un] != masked[un]) & ~routed[un]).any():
            assert unmasked_correct == masked_correct - lost
        assert r.method_info["routed_videos"] == int(routed.sum())
        assert r.method_info["vlm_simulated"] is True and "SIMULATED" in r.method_info["vlm"]
        assert r.unit.simulation and r.unit.shots == 0


def test_cascade_locality_is_unmasked_exact_and_masked_near_100(cascade_runs):
    for report in cascade_runs.values():
        locs = [o.result.metrics.locality for o in report.by_status("done")]
        assert 0.99 < np.mean(locs) <= 1.0 + 1e-9


def test_cascade_prompts_are_configurable_and_recorded(synthetic, synthetic_stores, tmp_path):
    method, report = run(
        "clip_cascade", synthetic, synthetic_stores, tmp_path, prompts="kinetics700"
    )
    r = report.by_status("done")[0].result
    assert r.unit.config == {"vlm": "clip", "prompts": "kinetics700", "logit_scale": 1.0}
    assert len(r.method_info["prompt_templates"]) == 28
    raw_cls = load_methods().get("clip_cascade")
    assert method.config_hash() != raw_cls().config_hash()
    with pytest.raises(ConfigError, match="expected one of"):
        build_config(raw_cls.config_class, {"prompts": "imagenet"})


def test_generic_cascade_needs_a_space_and_names_the_available_ones(
    synthetic, synthetic_stores, tmp_path
):
    from splitbench.protocol.needs import UnmetNeedsError

    # refused up front, before any unit: one error, no failure records
    with pytest.raises(
        UnmetNeedsError,
        match=r"a choice of VLM space \(--config vlm=NAME; the store has clip, fgclip, "
        r"merged-clip, viclip, videoprism\)",
    ):
        run("vlm_cascade", synthetic, synthetic_stores, tmp_path)
    assert not list(tmp_path.rglob("*.failed.json"))
    spaces = "clip, fgclip, merged-clip, viclip, videoprism"
    _, report = run("vlm_cascade", synthetic, synthetic_stores, tmp_path / "v", vlm="viclip")
    assert len(report.by_status("done")) == 22
    with pytest.raises(DataError, match=f"no VLM space 'siglip' \\(has {spaces}\\)"):
        open_vlm_space(synthetic_stores["A"], "siglip")


def test_synthetic_stores_hold_labelled_simulated_vlm_spaces(synthetic_stores):
    for store in synthetic_stores.values():
        assert vlm_names(store) == ["clip", "fgclip", "merged-clip", "viclip", "videoprism"]
        space = open_vlm_space(store, "clip")
        assert space.simulation and space.info["text_encoder"] == "minilm"
        assert space.store.meta.model["vlm"]["name"] == "clip"
        assert space.store.meta.splits["val"].count == store.meta.splits["val"].count
        # the newer spaces reuse the knobs of their kind, with their own noise draws
        knobs = {n: open_vlm_space(store, n).store.meta.model["vlm"] for n in vlm_names(store)}
        for twin, kind in (("fgclip", "clip"), ("merged-clip", "clip"), ("videoprism", "viclip")):
            assert {**knobs[twin], "name": kind} == knobs[kind]
            a, b = (open_vlm_space(store, n).store.split("val").features[:5] for n in (twin, kind))
            assert not np.array_equal(a, b)


def test_simulated_vlm_knobs():
    cfg = SyntheticConfig()
    world = build_world(cfg)
    rng = np.random.default_rng(0)
    labels = rng.normal(size=(len(world.classes), 16))
    unit = labels / np.linalg.norm(labels, axis=1, keepdims=True)
    exact = simulated_vlm_features(
        world, SimulatedVLM("x", noise=0.0, view_noise=0.0, indistinguishability=0.0), labels
    )
    assert np.allclose(exact[:, 0], unit[world.val_class], atol=1e-6)  # aligned with its label
    blind = simulated_vlm_features(
        world, SimulatedVLM("x", noise=0.0, view_noise=0.0, indistinguishability=1.0), labels
    )
    groups = np.array([world.classes[c].group for c in world.val_class])
    g = groups[0]
    same = blind[groups == g, 0]
    assert np.allclose(same, same[0], atol=1e-6)  # a group's members look identical
    # temporal indistinguishability only touches direction / manner-or-speed classes
    temporal = simulated_vlm_features(
        world,
        SimulatedVLM(
            "x",
            noise=0.0,
            view_noise=0.0,
            indistinguishability=0.0,
            temporal_indistinguishability=1.0,
        ),
        labels,
    )
    from splitbench.benchmarks import taxonomy as tx

    kinds = np.array(
        [
            tx.CONCEPTS[world.classes[c].concept].split_type if world.classes[c].concept else ""
            for c in world.val_class
        ]
    )
    still = ~np.isin(kinds, ["direction", "manner or speed"])
    assert np.allclose(temporal[still, 0], exact[still, 0], atol=1e-6)
    assert not np.allclose(temporal[~still, 0], exact[~still, 0], atol=1e-3)
    # the knobs are part of the synthetic cache key
    assert SyntheticConfig().key() != dataclasses.replace(cfg, vlms=()).key()


def test_text_head_refuses_a_video_trained_head(synthetic, synthetic_stores, tmp_path):
    from splitbench.protocol.needs import UnmetNeedsError

    # refused up front from the declared need, before any unit: one line, no failure records
    with pytest.raises(UnmetNeedsError) as exc:
        run("text_head", synthetic, synthetic_stores, tmp_path)
    msg = str(exc.value)
    assert "\n" not in msg and "a base head in a text-embedding space" in msg
    assert "model.head_space" in msg and "no unit was run" in msg
    assert not list(tmp_path.rglob("*.failed.json"))


def test_text_head_on_a_vlm_classifier(synthetic, synthetic_stores, tmp_path):
    subset = synthetic.subset("A")
    store = vlm_classifier_store(
        synthetic_stores["A"], subset, "viclip", tmp_path / "A", scale=50.0
    )
    assert store.meta.model["head_space"]["kind"] == "text" and store.meta.simulation
    assert vlm_names(store) == ["viclip"]
    w, b = store.head()
    assert np.allclose(np.linalg.norm(w, axis=1), 50.0, atol=1e-3) and not b.any()
    cls = load_methods().get("text_head")
    method = cls()
    ctx = SubsetContext(
        benchmark=synthetic,
        subset=subset,
        _store=store,
        weight=torch.from_numpy(w),
        bias=torch.from_numpy(b),
    )
    method.prepare(ctx, 0)
    task = SplitTask(subset.targets[0], subset)
    rows = method.edit(task, ctx, 0)
    text = get_text_encoder("minilm").encode(list(task.fine_labels))
    expect = 50.0 * text / np.linalg.norm(text, axis=1, keepdims=True)
    assert np.allclose(rows.weight.numpy(), expect, atol=1e-3)
    assert rows.info["prompts"] == "raw" and rows.info["head_space"]["vlm"] == "viclip"
    # the same store runs the full protocol for both the text head and the cascade
    report = Runner(method, synthetic, {"A": store}, tmp_path / "r", progress=False).run(["A"], [0])
    assert len(report.by_status("done")) == 11
    with pytest.raises(DataError, match="already exists"):
        vlm_classifier_store(synthetic_stores["A"], subset, "viclip", tmp_path / "A")


def test_list_methods_shows_needs():
    out = subprocess.run(
        [str(Path(sys.executable).parent / "splitbench"), "list", "methods"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    rows = {
        line.split("|")[1].strip(): line
        for line in out.stdout.splitlines()
        if line.startswith("| ")
    }
    assert "text-space head" in rows["text_head"]
    assert "VLM space" in rows["clip_cascade"] and "cascade" in rows["viclip_cascade"]
    assert "VLM space" in rows["vlm_cascade"] and "splitbench-baselines" in rows["vlm_cascade"]
