"""Integrity beyond one-line errors: contained plugins, round-tripping configs, a safe cache."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from extract_helpers import cli

from splitbench.results.io import load_results

MUTATOR = textwrap.dedent("""
    from splitbench.protocol import Method, MethodMeta, NewRows

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
    assert len(folders) == 1 and sorted(p.name for p in folders[0].iterdir())[:2] == ["A", "B"]
    assert not [p for p in (tmp_path / "cache" / "synthetic").glob(".*") if p.is_dir()]
