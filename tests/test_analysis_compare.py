"""splitbench leaderboard compare: paired deltas, intervals, tests, and refusals."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _analysis_support import NoisyCopy, SplitCascade, run_methods
from typer.testing import CliRunner

import splitbench.results
from splitbench.cli.app import app, main
from splitbench.errors import ConfigError
from splitbench.results.bootstrap import paired_bootstrap_ci
from splitbench.results.compare import IncomparableError, compare, select


@pytest.fixture(scope="module")
def runs(tmp_path_factory, synthetic, synthetic_stores) -> tuple[Path, Path]:
    a = tmp_path_factory.mktemp("run_a")
    b = tmp_path_factory.mktemp("run_b")
    run_methods([SplitCascade()], synthetic, synthetic_stores, a, [0], log_samples=False)
    run_methods(
        [NoisyCopy()], synthetic, synthetic_stores, b, [0, 1], log_samples=False, subsets=("A", "B")
    )
    return a, b


def _sides(a: Path, b: Path):
    da, db = splitbench.results.load(a), splitbench.results.load(b)
    return select(da, a, "A", None), select(db, b, "B", None)


def test_deltas_are_b_minus_a_per_target(runs):
    a, b = runs
    sa, sb = _sides(*runs)
    cmp = compare(sa, sb, replicates=2000)
    # only subset A is in both runs; subset B targets are unpaired
    assert set(cmp.per_target["subset"]) == {"A"} and len(cmp.per_target) == 11
    assert {u[0] for u in cmp.unpaired} == {"B"} and len(cmp.unpaired) == 11
    da, db = splitbench.results.load(a), splitbench.results.load(b)
    for row in cmp.per_target.itertuples():
        ga = da[(da["subset"] == "A") & (da["target_index"] == row.target_index)]["generality"]
        gb = db[(db["subset"] == "A") & (db["target_index"] == row.target_index)]["generality"]
        assert row.generality_a == pytest.approx(ga.mean())
        assert row.generality_b == pytest.approx(gb.mean())  # mean over the two seeds
        assert row.generality_delta == pytest.approx(gb.mean() - ga.mean())
    s = cmp.summary.set_index(["scope", "metric"]).loc[("A", "generality")]
    assert s.mean_delta == pytest.approx(cmp.per_target["generality_delta"].mean())
    assert s.ci_lo <= s.mean_delta <= s.ci_hi
    assert s.b_higher + s.ties + s.b_lower == 11
    assert 0 < s.wilcoxon_p <= 1 and 0 < s.sign_p <= 1


def test_swapping_sides_negates_the_deltas(runs):
    sa, sb = _sides(*runs)
    ab = compare(sa, sb, replicates=500).summary.set_index(["scope", "metric"])
    ba = compare(
        select(sb.units, sb.run, "A", None), select(sa.units, sa.run, "B", None), replicates=500
    ).summary.set_index(["scope", "metric"])
    assert np.allclose(ab["mean_delta"], -ba["mean_delta"])
    assert np.allclose(ab["wilcoxon_p"], ba["wilcoxon_p"])
    assert (ab["b_higher"] == ba["b_lower"]).all()


def test_a_run_against_itself_shows_no_difference(runs):
    a, _ = runs
    sa, _ = _sides(*runs)
    cmp = compare(sa, select(sa.units, a, "B", None), replicates=500)
    assert (cmp.summary["mean_delta"] == 0).all()
    assert (cmp.summary["wilcoxon_p"] == 1.0).all() and (cmp.summary["ties"] == 11).all()


def test_paired_bootstrap_interval_is_seeded_and_brackets_the_mean():
    d = np.array([0.1, 0.3, -0.05, 0.2, 0.15, 0.0, 0.25])
    lo, hi = paired_bootstrap_ci(d, replicates=5000, seed=3)
    assert (lo, hi) == paired_bootstrap_ci(d, replicates=5000, seed=3)
    assert lo < d.mean() < hi and d.min() <= lo and hi <= d.max()


def _altered_copy(
    results: Path, tmp_path: Path, path: tuple[str, ...], new: Callable[[Any], Any]
) -> Path:
    """A copy of a results folder with one field of every unit result rewritten."""
    altered = tmp_path / "altered"
    shutil.copytree(results, altered)
    for f in altered.rglob("seed*.json"):
        raw = json.loads(f.read_text())
        node = raw
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = new(node[path[-1]])
        f.write_text(json.dumps(raw))
    return altered


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("protocol", ("protocol",)),
        ("benchmark_version", ("unit", "benchmark_version")),
        ("benchmark_revision", ("unit", "benchmark_revision")),
    ],
)
def test_refuses_different_protocols_versions_and_revisions(runs, tmp_path, field, path):
    a, b = runs
    altered = _altered_copy(b, tmp_path, path, lambda old: f"{old}-other")
    res = CliRunner().invoke(app, ["leaderboard", "compare", str(a), str(altered)])
    assert isinstance(res.exception, IncomparableError)
    msg = str(res.exception)
    assert "\n" not in msg and f"{field} differs" in msg and "-other" in msg


def test_cli_prints_one_line_refusal(runs, tmp_path, monkeypatch, capsys):
    a, b = runs
    altered = _altered_copy(b, tmp_path, ("protocol",), lambda _: "splitbench.protocol/999")
    monkeypatch.setattr(sys, "argv", ["splitbench", "leaderboard", "compare", str(a), str(altered)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot compare: protocol differs")


def test_cli_prints_deltas_with_intervals(runs):
    a, b = runs
    res = CliRunner().invoke(app, ["leaderboard", "compare", str(a), str(b), "-s", "A"])
    assert res.exit_code == 0, res.output
    assert "Per-target deltas (B − A, percentage points) (simulation)" in res.output
    assert "95% CI of mean Δ" in res.output and "Wilcoxon p" in res.output
    as_json = CliRunner().invoke(
        app, ["leaderboard", "compare", str(a), str(b), "--format", "json", "--metrics", "mean"]
    )
    tables = json.loads(as_json.stdout)["tables"]
    assert [t["title"] for t in tables] == [
        "Per-target deltas (B − A, percentage points) (simulation)",
        "Paired comparison across targets (simulation)",
    ]
    assert {r["metric"] for r in tables[1]["rows"]} == {"mean"}


def test_selection_needs_a_method_when_a_run_holds_several(runs, tmp_path):
    a, b = runs
    both = tmp_path / "both"
    shutil.copytree(a, both)
    shutil.copytree(b, both, dirs_exist_ok=True)
    df = splitbench.results.load(both)
    with pytest.raises(ConfigError, match="--method-a"):
        select(df, both, "A", None)
    assert select(df, both, "A", "noisy_copy").method == "noisy_copy"
    h = select(df, both, "A", "split_cascade").config_hash
    assert select(df, both, "A", f"split_cascade@{h[:4]}").config_hash == h
    with pytest.raises(ConfigError, match="no results for 'nope'"):
        select(df, both, "A", "nope")
