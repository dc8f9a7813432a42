"""A results folder holding several benchmarks (or data revisions): pick one, never mix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_support import sb


@pytest.fixture(scope="module")
def two_revisions(tmp_path_factory) -> Path:
    """Synthetic results, plus a copy relabelled as another data revision of the benchmark."""
    root = tmp_path_factory.mktemp("mixed")
    for method in ("coarse_copy", "modifier_retrieval"):
        out = sb("run", "-m", method, "-q", "-o", str(root / "r"), "--log-samples")
        assert out.returncode == 0, out.stderr
    other = root / "r" / "synthetic-other"
    shutil.copytree(root / "r" / "synthetic", other)
    for path in other.rglob("*.json"):
        data = json.loads(path.read_text())
        data["unit"]["benchmark_revision"] = "synthetic:0000other0000"
        path.write_text(json.dumps(data))
    return root / "r"


def test_compare_breakdown_and_plot_name_the_choices(two_revisions, tmp_path):
    from splitbench.catalog import load_benchmark

    revision = load_benchmark("synthetic", None).revision
    for args in (
        ("leaderboard", "compare", str(two_revisions), str(two_revisions),
         "--method-a", "coarse_copy", "--method-b", "modifier_retrieval"),
        ("leaderboard", "breakdown", str(two_revisions), "--by", "k"),
        ("leaderboard", "show", str(two_revisions), "--plot", str(tmp_path / "x.png")),
    ):  # fmt: skip
        out = sb(*args)
        assert out.returncode == 2, out.stderr
        line = out.stderr.strip()
        assert "\n" not in line and "choose one with --benchmark" in line
        assert "synthetic@synthetic:0000other0000" in line and f"synthetic@{revision}" in line
    assert not (tmp_path / "x.png").exists()


def test_benchmark_option_selects(two_revisions, tmp_path):
    pick = "synthetic@synthetic:0000other"
    out = sb(
        "leaderboard", "compare", str(two_revisions), str(two_revisions), "-b", pick,
        "--method-a", "coarse_copy", "--method-b", "modifier_retrieval", "--replicates", "200",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    out = sb("leaderboard", "breakdown", str(two_revisions), "--by", "k", "-b", pick)
    assert out.returncode == 0, out.stderr
    plot = tmp_path / "scatter.png"
    out = sb("leaderboard", "show", str(two_revisions), "-b", pick, "--plot", str(plot))
    assert out.returncode == 0 and plot.is_file(), out.stderr
    assert (
        out.stdout.count("### ")
        == sb("leaderboard", "show", str(two_revisions)).stdout.count("### ") // 2
    )  # one revision's tables, not both
    out = sb("rescore", str(two_revisions), "-b", "nope")
    assert out.returncode == 2 and "it holds synthetic@" in out.stderr
