"""The CLI as a user drives it: list, info, run, leaderboard, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_support import sb


def test_help_is_fast_and_lists_commands():
    out = sb("--help")
    assert out.returncode == 0
    for cmd in ("run", "info", "list", "leaderboard", "simulate"):
        assert cmd in out.stdout


def test_list_methods_shows_origin():
    out = sb("list", "methods")
    assert out.returncode == 0
    assert "modifier_retrieval" in out.stdout and "splitbench-methods" in out.stdout
    assert "coarse_copy" in out.stdout and "splitbench-baselines" in out.stdout


def test_list_benchmarks_and_text_encoders():
    assert "ssv2-split" in sb("list", "benchmarks").stdout
    assert "minilm" in sb("list", "text-encoders").stdout


def test_run_and_leaderboard(tmp_path):
    out = sb("run", "-m", "coarse_copy", "-o", str(tmp_path / "r"), "-q")
    assert out.returncode == 0, out.stderr
    assert "**Simulation.**" in out.stdout and "coarse_copy" in out.stdout
    assert "units computed" in out.stderr
    again = sb("run", "-m", "coarse_copy", "-o", str(tmp_path / "r"), "-q")
    assert "0 units computed" in again.stderr and "already done" in again.stderr
    lb = sb("leaderboard", str(tmp_path / "r"), "--output", str(tmp_path / "lb.md"))
    assert lb.returncode == 0 and (tmp_path / "lb.md").read_text() == lb.stdout[:-1]


def test_info_synthetic_is_labelled():
    out = sb("info", "synthetic")
    assert out.returncode == 0 and "Simulation" in out.stdout and "Subcategories" in out.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("run", "-m", "modifer_retrieval"), "did you mean 'modifier_retrieval'"),
        (("run", "-m", "coarse_copy", "-b", "ssv2-split"), "needs the official annotation files"),
        (("run", "-m", "coarse_copy", "--subset", "C"), "--subset 'C': expected one of A, B"),
        (("run", "-m", "coarse_copy", "--config", "x=1"), "has no field 'x'"),
        (("run", "-m", "coarse_copy", "--seeds", "a"), "expected comma-separated integers"),
        (("info", "nope"), "unknown benchmark 'nope'"),
    ],
)
def test_bad_input_gives_one_line_error(tmp_path, args, fragment):
    out = sb(*args, "-o", str(tmp_path)) if args[0] == "run" else sb(*args)
    assert out.returncode == 2
    err = out.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and fragment in err
    assert "Traceback" not in out.stderr


@pytest.mark.official
def test_official_benchmark_without_features_says_what_to_do(official_root, tmp_path):
    out = sb(
        "run",
        "-m",
        "coarse_copy",
        "-b",
        "ssv2-split",
        "--annotations",
        str(official_root),
        "-o",
        str(tmp_path),
    )
    assert out.returncode == 2
    assert "has no features yet" in out.stderr and "splitbench simulate" in out.stderr


@pytest.mark.official
def test_info_official_prints_table1(official_root):
    out = sb("info", "finegym-split", "--annotations", str(official_root))
    assert out.returncode == 0
    assert "| A        | 178" in out.stdout.replace("  ", " ") or "178" in out.stdout
    assert "173.8" in out.stdout and "7988.0" in out.stdout and "findings" in out.stdout


def test_feature_dimension_mismatch_is_one_line(tmp_path, synthetic_stores):
    import json
    import shutil

    store = tmp_path / "A"
    shutil.copytree(synthetic_stores["A"].path, store)
    meta = json.loads((store / "store.json").read_text())
    meta["dim"] = 32
    (store / "store.json").write_text(json.dumps(meta))
    out = sb(
        "run",
        "-m",
        "coarse_copy",
        "--features",
        str(tmp_path),
        "--subset",
        "A",
        "-o",
        str(tmp_path / "r"),
    )
    assert out.returncode == 2
    assert "head has weight" in out.stderr and "dimension 32" in out.stderr


def test_plugin_that_raises_is_reported_and_run_continues(tmp_path):
    plugin = Path(__file__).with_name("failing_plugin.py")
    out = sb(
        "run",
        "-m",
        "exploding",
        "--plugin",
        str(plugin),
        "--subset",
        "A",
        "-o",
        str(tmp_path / "r"),
        "-q",
    )
    assert out.returncode == 1
    assert "1 failed" in out.stderr and "ValueError: plugin bug" in out.stderr
    assert "exploding" in out.stdout and "(incomplete)" in out.stdout


EXTERNAL_PYPROJECT = textwrap.dedent("""
    [build-system]
    requires = ["setuptools>=61"]
    build-backend = "setuptools.build_meta"

    [project]
    name = "splitbench-external-demo"
    version = "0.0.1"

    [project.entry-points."splitbench.methods"]
    halfway = "external_demo:Halfway"
""")
EXTERNAL_MODULE = textwrap.dedent('''
    from splitbench.protocol import Method, MethodMeta, NewRows

    class Halfway(Method):
        """New rows halfway between the coarse row and zero."""

        meta = MethodMeta("halfway", "Halfway", "an out-of-tree test method", shots=0)
        deterministic = True

        def edit(self, task, ctx, seed):
            c = task.coarse_index
            return NewRows(0.5 * ctx.weight[c].repeat(task.k, 1), ctx.bias[c].repeat(task.k))
''')


@pytest.mark.slow
def test_separately_installed_plugin_package_is_discovered(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "pyproject.toml").write_text(EXTERNAL_PYPROJECT)
    (src / "external_demo.py").write_text(EXTERNAL_MODULE)
    site = tmp_path / "site"
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(site),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pip.returncode == 0, pip.stderr
    env = {"PYTHONPATH": str(site)}
    listed = sb("list", "methods", env=env)
    assert "halfway" in listed.stdout and "splitbench-external-demo 0.0.1" in listed.stdout
    out = sb("run", "-m", "halfway", "-o", str(tmp_path / "r"), "-q", env=env)
    assert out.returncode == 0, out.stderr
    assert "| halfway" in out.stdout
