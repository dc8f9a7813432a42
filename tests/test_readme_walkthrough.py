"""The README can't rot: every runnable command it shows runs (tools/readme_walkthrough.py).

By default without the official files (their commands are listed as skipped): about a
minute. With them the walk-through also simulates both SSv2-Split stores and runs on them,
about ten minutes on two cores, so that one is opt-in: ``SPLITBENCH_README_OFFICIAL=1``
(or ``make readme-check``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _walk(tmp_path: Path, annotations: Path | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("SPLITBENCH_ANNOTATIONS", None)
    args = [sys.executable, str(ROOT / "tools" / "readme_walkthrough.py"), "--workdir"]
    args.append(str(tmp_path))
    if annotations is not None:
        args += ["--annotations", str(annotations)]
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1800)
    print(out.stdout)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    assert "commands ran without error or traceback" in out.stdout
    return out


@pytest.mark.slow
def test_readme_walkthrough_without_official_files(tmp_path):
    out = _walk(tmp_path, None)
    assert out.stderr.count("run   ") >= 9
    assert "needs the official annotation files" in out.stdout


@pytest.mark.slow
@pytest.mark.official
def test_readme_walkthrough_with_official_files(tmp_path, official_root):
    if os.environ.get("SPLITBENCH_README_OFFICIAL") != "1":
        pytest.skip("about ten minutes: set SPLITBENCH_README_OFFICIAL=1 (make readme-check)")
    out = _walk(tmp_path, official_root)
    assert out.stderr.count("run   ") >= 12
