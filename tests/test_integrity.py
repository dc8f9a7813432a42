"""Integrity beyond one-line errors: contained plugins, round-tripping configs, a safe cache."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from extract_helpers import cli

from splitbench.protocol import Method, MethodMeta, NewRows, SessionSupport
from splitbench.protocol.context import load_val_features
from splitbench.protocol.runner import Runner
from splitbench.protocol.session_runner import SessionRunner
from splitbench.protocol.shared import shared_state
from splitbench.results.io import load_results

MUTATOR = textwrap.dedent("""
    from splitbench.protocol import Method, MethodMeta, NewRows, SessionSupport

    class Mutator(Method):
        meta = MethodMeta("mutator", "Mutator", "scales the base head in place", shots=0)
        deterministic = True

        def prepare(self, ctx, seed):
            ctx.bias.add_(1.0)

        def edit(self, task, ctx, seed):
            c = task.coarse_index
            rows = NewRows(ctx.weight[c].repeat(task.k, 1).clone(), ctx.bias[c].repeat(task.k))
            ctx.weight.mul_(3.0)  # in place: must not reach the scorer or later units
            ctx.weight[c + 1].neg_()
            return rows
""")


def _sb(*args: str) -> subprocess.CompletedProcess[str]:
    # a subprocess each: a plugin file registers its methods once per process
    return subprocess.run(
        [sys.executable, "-m", "splitbench", *args], capture_output=True, text=True
    )


def test_plugin_mutating_the_head_gets_the_same_result_alone_and_in_a_full_run(
    tmp_path: Path,
) -> None:
    plugin = tmp_path / "mutator.py"
    plugin.write_text(MUTATOR)
    base = ["run", "-m", "mutator", "--plugin", str(plugin), "-s", "A", "--seeds", "0", "-q"]
    out = _sb(*base, "-o", str(tmp_path / "full"))
    assert out.returncode == 0, out.stderr
    full = {r.unit.target_index: r for r in load_results(tmp_path / "full")}
    from splitbench.benchmarks.synthetic import synthetic_benchmark

    last = synthetic_benchmark().subset("A").targets[-1].coarse_index  # run after all others
    out = _sb(*base, "--targets", str(last), "-o", str(tmp_path / "alone"))
    assert out.returncode == 0, out.stderr
    (alone,) = load_results(tmp_path / "alone")
    assert alone.counts == full[last].counts and alone.metrics == full[last].metrics
    assert len(full) == 11


class FeatureMutator(Method):
    """Writes into the shared val features on chosen targets; its rows depend on all of them."""

    meta = MethodMeta("feature_mutator", "FeatureMutator", "writes val features", shots=0)
    deterministic = True
    mutate: ClassVar[dict[int, str]] = {}  # coarse index -> how (set per instance)

    def edit(self, task, ctx, seed):  # type: ignore[no-untyped-def]
        feats = ctx.val_features()
        how = self.mutate.get(task.coarse_index)
        if how == "torch":
            feats.mul_(2.0)
        elif how == "view":
            feats[:, 0].zero_()
        elif how == "numpy":  # bypasses torch's version counter; the fingerprint sees it
            values = feats.numpy()
            values *= -1.0
        c = task.coarse_index
        shift = 0.1 * feats.mean((0, 1))  # every later unit would see a change
        return NewRows(ctx.weight[c].repeat(task.k, 1) + shift, ctx.bias[c].repeat(task.k))


def test_plugin_mutating_val_features_fails_its_unit_and_changes_no_other(
    tmp_path: Path, synthetic, synthetic_stores
) -> None:
    targets = synthetic.subset("A").targets
    bad = {targets[0].coarse_index: "torch", targets[1].coarse_index: "numpy"}
    bad[targets[2].coarse_index] = "view"

    def run(out: str, mutate: dict[int, str], only: list[str] | None = None):  # type: ignore[no-untyped-def]
        method = FeatureMutator()
        method.mutate = mutate
        runner = Runner(method, synthetic, synthetic_stores, tmp_path / out, progress=False)
        return runner.run(["A"], [0], only)

    report = run("mutated", bad)
    failed = {o.target.coarse_index: o.error for o in report.by_status("failed")}
    assert sorted(failed) == sorted(bad)
    assert all("changed the shared val features in place" in e for e in failed.values()), failed
    clean = run("clean", {})
    assert not clean.by_status("failed")
    got = {r.unit.target_index: r.counts for r in load_results(tmp_path / "mutated")}
    want = {r.unit.target_index: r.counts for r in load_results(tmp_path / "clean")}
    assert len(got) == len(targets) - 3 and got == {i: want[i] for i in got}
    last = targets[-1].coarse_index  # alone, in a fresh runner: the same counts again
    run("alone", {}, [str(last)])
    (alone,) = load_results(tmp_path / "alone")
    assert alone.counts == got[last]
    subset, store = synthetic.subset("A"), synthetic_stores["A"]
    shared = shared_state(subset, store).features  # what the next runner in this process gets
    assert torch.equal(shared, load_val_features(subset, store))


class SessionHeadMutator(Method):
    """Scales the head it is given in place; its rows depend on the last row of that head."""

    meta = MethodMeta("session_head_mutator", "SessionHeadMutator", "scales the head", shots=0)
    deterministic = True
    session_support = SessionSupport(batch=True, sequential=True)
    mutate: ClassVar[bool] = False

    def edit(self, task, ctx, seed):  # type: ignore[no-untyped-def]
        c = task.coarse_index
        w = ctx.weight[c].repeat(task.k, 1) + 0.01 * ctx.weight[-1]
        rows = NewRows(w, ctx.bias[c].repeat(task.k).clone())
        if self.mutate:
            ctx.weight.mul_(3.0)  # the batch track hands out the context's own head
            ctx.bias.add_(1.0)
        return rows


@pytest.mark.parametrize("track", ["batch", "sequential"])
def test_session_plugin_mutating_the_head_changes_nothing(
    track: str, tmp_path: Path, synthetic, synthetic_stores
) -> None:
    counts = []
    for mutate in (True, False):
        method = SessionHeadMutator()
        method.mutate = mutate
        out = tmp_path / str(mutate)
        runner = SessionRunner(method, synthetic, synthetic_stores, out, track)  # type: ignore[arg-type]
        report = runner.run(["A"], [3], 1, [0])
        (done,) = report.by_status("done")
        assert done.result is not None
        counts.append((done.result.targets, done.result.locality))
    assert counts[0] == counts[1]


def test_recorded_config_reproduces_the_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = ["run", "-m", "modifier_retrieval", "-s", "A", "--targets", "23", "-q"]
    code, _, err = cli(monkeypatch, capsys, *run, "-c", "alpha=0.25", "-o", str(tmp_path / "a"))
    assert code == 0, err
    (first,) = load_results(tmp_path / "a")
    cfg = tmp_path / "recorded.json"
    cfg.write_text(json.dumps(first.unit.config))
    code, _, err = cli(
        monkeypatch, capsys, *run, "--config-file", str(cfg), "-o", str(tmp_path / "b")
    )
    assert code == 0, err
    (second,) = load_results(tmp_path / "b")
    assert second.unit.config_hash == first.unit.config_hash
    assert second.unit.config == first.unit.config and first.unit.config["alpha"] == 0.25


GENERATE = textwrap.dedent("""
    import sys
    from splitbench.benchmarks.synthetic import SyntheticConfig
    from splitbench.features.simulate import synthetic_stores

    stores = synthetic_stores(SyntheticConfig(dim=16, seed=int(sys.argv[1])))
    print(stores["A"].meta.key, stores["B"].meta.key)
""")


def test_two_processes_generating_the_same_cache_agree(tmp_path: Path) -> None:
    env = {**__import__("os").environ, "SPLITBENCH_CACHE": str(tmp_path / "cache")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", GENERATE, "7"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    assert outs[0][0] == outs[1][0] and outs[0][0].strip()
    folders = [p for p in (tmp_path / "cache" / "synthetic").iterdir() if p.is_dir()]
    assert len(folders) == 1 and {"A", "B", ".complete"} <= {p.name for p in folders[0].iterdir()}
    assert not [p for p in (tmp_path / "cache" / "synthetic").glob(".*") if p.is_dir()]


def test_an_incomplete_synthetic_cache_is_regenerated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from splitbench.benchmarks.synthetic import SyntheticConfig
    from splitbench.features.simulate import COMPLETE, synthetic_stores

    monkeypatch.setenv("SPLITBENCH_CACHE", str(tmp_path / "cache"))
    config = SyntheticConfig(dim=16, seed=5)
    keys = {s: store.meta.key for s, store in synthetic_stores(config).items()}
    root = tmp_path / "cache" / "synthetic" / config.key()
    assert (root / COMPLETE).is_file()
    (root / "B" / "store.json").unlink()  # cut short: B never finished
    (root / COMPLETE).unlink()
    again = synthetic_stores(config)  # used to keep the folder and then fail to open B
    assert {s: store.meta.key for s, store in again.items()} == keys
    assert (root / COMPLETE).is_file() and (root / "B" / "store.json").is_file()
