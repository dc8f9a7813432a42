"""The import contract (``[tool.importlinter]`` in pyproject.toml, run by ``make lint``).

Each case copies the package, adds one import that breaks a rule of docs/architecture.md's
layers, and shows that ``lint-imports`` fails naming it; the unchanged copy passes, so the
failure is the added import's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CASES = [
    # (file, added line, text the report must contain)
    pytest.param(
        "splitbench/core/hashing.py",
        "from splitbench.errors import DataError",
        "splitbench.core.hashing -> splitbench.errors",
        id="core-is-the-leaf",
    ),
    pytest.param(
        "splitbench/benchmarks/model.py",
        "import splitbench.features.store",
        "splitbench.benchmarks.model -> splitbench.features.store",
        id="benchmarks-below-features",
    ),
    pytest.param(
        "splitbench/features/extract_plan.py",
        "import splitbench.protocol.api",
        "splitbench.features.extract_plan -> splitbench.protocol.api",
        id="features-below-protocol",
    ),
    pytest.param(
        "splitbench/results/aggregate.py",
        "import splitbench.protocol.runner",
        "splitbench.results.aggregate -> splitbench.protocol.runner",
        id="results-never-run-methods",
    ),
    pytest.param(
        "splitbench/protocol/api.py",
        "import splitbench.cli.app",
        "splitbench.protocol.api -> splitbench.cli.app",
        id="nothing-imports-the-cli",
    ),
    pytest.param(
        "splitbench/results/schema.py",
        "import splitbench.results.io",
        "No cycles are allowed in splitbench.results",
        id="no-cycles",
    ),
    pytest.param(
        "splitbench/unplaced.py",
        "import splitbench.errors",
        "splitbench.unplaced",
        id="every-module-has-a-layer",
    ),
]


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "splitbench",
        tmp_path / "splitbench",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "data"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    code = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run(
        [sys.executable, "-c", code, "--no-cache", "--no-logo"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_unchanged_copy_keeps_the_contract(tmp_path: Path) -> None:
    proc = _lint(_copy(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


@pytest.mark.parametrize(("file", "line", "reported"), CASES)
def test_a_layer_violation_fails_the_contract(
    tmp_path: Path, file: str, line: str, reported: str
) -> None:
    root = _copy(tmp_path)
    target = root / file
    before = target.read_text(encoding="utf-8") if target.exists() else ""
    target.write_text(before + f"\n{line}  # deliberate violation\n", encoding="utf-8")
    proc = _lint(root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert reported in proc.stdout, proc.stdout
