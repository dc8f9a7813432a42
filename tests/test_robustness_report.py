"""The text-robustness report on the default benchmark (small: two targets, one subset)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from splitbench.cli.app import main


def test_robustness_command_table_and_plot(
    tmp_path: Path, synthetic_stores, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    png = tmp_path / "rob.png"
    argv = ["splitbench", "leaderboard", "robustness", "--subset", "A", "--targets", "0,7"]
    argv += ["--methods", "modifier_retrieval", "--encoders", "minilm", "--variants", "typo:0.3"]
    monkeypatch.setattr(sys, "argv", [*argv, "-o", str(tmp_path / "r"), "--plot", str(png)])
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None)
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| modifier_retrieval")]
    assert len(rows) == 2 and "clean" in rows[0] and "typo:0.3" in rows[1]
    assert "+0.0 [+0.0, +0.0]" in rows[0]  # clean vs itself: no drop
    assert "simulation" in out
    assert png.read_bytes()[:4] == b"\x89PNG"
    # each variant has its own results folder (its own data revision)
    assert {p.name for p in (tmp_path / "r").iterdir()} == {"clean", "typo_0.3"}


def test_robustness_refuses_a_method_without_text(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    argv = ["splitbench", "leaderboard", "robustness", "--methods", "coarse_copy"]
    monkeypatch.setattr(sys, "argv", [*argv, "-o", str(tmp_path)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    assert "text-using methods" in capsys.readouterr().err


def test_a_wider_earlier_run_in_the_folder_does_not_unpair_the_report(
    tmp_path: Path, synthetic_stores, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    """Clean units of targets the variant was not run on are left out of both means."""
    base = ["splitbench", "leaderboard", "robustness", "--subset", "A", "-o", str(tmp_path)]
    base += ["--methods", "modifier_retrieval", "--encoders", "minilm"]
    for extra in (["--targets", "0,7", "--variants", ""], ["--targets", "0", "--variants", "fr"]):
        monkeypatch.setattr(sys, "argv", [*base, *extra])
        try:
            main()
        except SystemExit as exc:
            assert exc.code in (0, None)
    out = capsys.readouterr().out.split("### Text robustness")[-1]
    rows = [line for line in out.splitlines() if line.startswith("| modifier_retrieval")]
    assert len(rows) == 2 and "fr" in rows[1]
    assert "nan" not in out
