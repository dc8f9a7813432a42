"""The README's Python examples run as written: the method example and the facade."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_block(section: str) -> str:
    text = README.read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", body, re.S)
    assert match, f"no python block under '## {section}'"
    return match.group(1)


def test_method_example_is_short_and_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = _python_block("Writing a method")
    assert len(code.strip().splitlines()) <= 30
    ns: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), ns)
    import splitbench

    monkeypatch.chdir(tmp_path)
    method = ns["Halfway"](ns["HalfwayConfig"](0.25))  # type: ignore[operator]
    ev = splitbench.evaluate([method], "synthetic", subsets=["A"], seeds=[0])
    assert len(ev.produced) == len(ev.benchmark.subset("A").targets) and not ev.failures
    assert [c.method for c in ev.cells] == ["halfway"]


def test_facade_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _python_block("From Python")
    assert len(code.strip().splitlines()) <= 12
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert re.search(r"^\d+ computed, 0 reused, 0 failed$", out, re.M)
    assert "| coarse_copy" in out and "| modifier_retrieval" in out
    assert (tmp_path / "splitbench-results" / "synthetic").is_dir()
