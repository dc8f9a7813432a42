"""The GPU check script runs in its reduced CPU mode and writes its figures as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_cpu_smoke_writes_every_figure(tmp_path):
    out = tmp_path / "check.json"
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", str(ROOT / "bench" / "gpu_check.sh"), "--cpu-smoke", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "REDUCED ViT" in done.stdout and "end to end extraction" in done.stdout
    figures = json.loads(out.read_text())
    for key in (
        "decode_only_videos_per_s",
        "decode_views_videos_per_s",
        "end_to_end_videos_per_s",
        "decode_bound_ratio",
    ):
        assert figures[key] > 0, key
    ratio = figures["end_to_end_videos_per_s"] / figures["decode_views_videos_per_s"]
    assert abs(figures["decode_bound_ratio"] - ratio) < 0.01 * ratio  # of the rounded figures
    assert figures["machine"]["device"] == "cpu" and figures["settings"]["videos"] == 4
    assert "REDUCED" in figures["model"]["label"]
