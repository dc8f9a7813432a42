"""``-q`` silences every bar (third-party model loading included); without it bars show."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "splitbench"


@pytest.mark.parametrize("quiet", [True, False], ids=["quiet", "bars"])
def test_quiet_means_quiet(tmp_path, synthetic, quiet):
    target = str(synthetic.subset("A").targets[0].coarse_index)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS")  # the suite's defaults
    }
    args = ["run", "-m", "modifier_alignment", "-s", "A", "--targets", target, "--seeds", "0"]
    out = subprocess.run(
        [str(BIN), *args, "-o", str(tmp_path / "r"), *(["-q"] if quiet else [])],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    # the method loads the MiniLM text encoder (transformers draws "Loading weights" bars)
    assert "Loading weights" not in out.stderr
    bars = "%|" in out.stderr
    assert bars is not quiet
    if quiet:
        assert out.stderr.strip().count("\n") == 0, out.stderr  # just the summary line
