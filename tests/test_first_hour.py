"""The small things a new user meets in the first hour (issue 10), through the real CLI."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cli_support import sb

ROOT = Path(__file__).resolve().parents[1]


def test_list_methods_is_a_valid_markdown_table():
    out = sb("list", "methods")
    assert out.returncode == 0
    lines = out.stdout.strip().splitlines()
    cells = {line.replace("\\|", "").count("|") for line in lines}
    assert len(cells) == 1, "an unescaped | breaks a row"
    low = next(line for line in lines if line.startswith("| lowshot_finetune "))
    assert "| 1 (configurable)" in low and "config " not in low.split("|")[2]


def test_info_notes_fit_the_benchmark(official_root):
    out = sb("info", "finegym-split", "--annotations", str(official_root), "--no-targets")
    assert out.returncode == 0
    assert "429" not in out.stdout and "173.8 is printed as 173" in out.stdout


def test_info_synthetic_has_no_paper_note():
    out = sb("info", "synthetic", "--no-targets")
    assert out.returncode == 0 and "printed as" not in out.stdout


def test_unknown_benchmark_reads_as_two_sentences():
    out = sb("info", "nope")
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: unknown benchmark 'nope'. Available: ")


def test_bad_shots_names_every_accepted_form(tmp_path):
    out = sb("run", "-m", "lowshot_finetune", "-c", "shots=abc", "-o", str(tmp_path))
    assert out.returncode == 2
    assert "expected int or 'all', got 'abc'" in out.stderr


def test_cache_and_head_follow_the_umask(tmp_path):
    cache = tmp_path / "cache"
    out = sb(
        "run", "-m", "coarse_copy", "-q", "-o", str(tmp_path / "r"),
        env={"SPLITBENCH_CACHE": str(cache)},
        umask=0o022,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    heads = list(cache.rglob("head.safetensors"))
    assert heads
    for head in heads:
        assert stat.S_IMODE(head.stat().st_mode) == 0o644, head
        for folder in head.relative_to(cache).parents:
            if str(folder) != ".":
                assert stat.S_IMODE((cache / folder).stat().st_mode) == 0o755, folder
    results = list((tmp_path / "r").rglob("*.json"))
    assert results and all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in results)


def _python310() -> Path | None:
    found = sorted((Path.home() / ".pyenv" / "versions").glob("3.10*/bin/python"))
    which = shutil.which("python3.10")
    return found[0] if found else (Path(which) if which else None)


def test_make_refuses_python_310_in_one_line(tmp_path):
    py310 = _python310()
    if py310 is None or shutil.which("make") is None:
        pytest.skip("needs make and a Python 3.10 interpreter (pyenv or python3.10 on PATH)")
    out = subprocess.run(
        ["make", "-C", str(ROOT), "setup", f"PYTHON={py310}", f"VENV={tmp_path / 'venv'}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert "error: splitbench needs Python >= 3.11" in out.stderr
    assert not (tmp_path / "venv").exists()
