"""The evaluation facade: one pipeline for run, grid and leaderboard build."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import splitbench
from splitbench.cli.app import main
from splitbench.evaluation import MethodSpec, evaluate
from splitbench.protocol.needs import UnmetNeedsError


def test_evaluate_runs_then_reuses_and_aggregates(tmp_path: Path, synthetic_stores) -> None:  # type: ignore[no-untyped-def]
    ev = splitbench.evaluate(["coarse_copy"], "synthetic", seeds=[0, 1], output_dir=tmp_path)
    n = sum(len(ev.benchmark.subset(s).targets) for s in ev.subsets)
    assert len(ev.produced) == n and not ev.reused and not ev.failures
    assert ev.runs[0].report is not None and ev.runs[0].report.seeds == [0]  # deterministic
    assert len(ev.cells) == len(ev.subsets) and all(c.complete for c in ev.cells)
    again = evaluate([MethodSpec("coarse_copy")], "synthetic", seeds=[0], output_dir=tmp_path)
    assert len(again.reused) == n and not again.produced
    assert [c.mean for c in again.cells] == [c.mean for c in ev.cells]
    assert "coarse_copy" in again.leaderboard().to_markdown()


def test_results_of_other_cells_in_the_folder_are_not_mixed_in(tmp_path: Path) -> None:
    evaluate(["coarse_copy"], "synthetic", seeds=[0], output_dir=tmp_path)
    ev = evaluate(["modifier_retrieval"], "synthetic", subsets=["A"], output_dir=tmp_path)
    assert {c.method for c in ev.cells} == {"modifier_retrieval"}
    assert {r.unit.subset for r in ev.results} == {"A"}


def test_config_overrides_and_labels(tmp_path: Path, synthetic) -> None:  # type: ignore[no-untyped-def]
    first_two = [str(t.coarse_index) for t in synthetic.subset("A").targets[:2]]
    ev = evaluate(
        [MethodSpec("lowshot_finetune", {"shots": "2", "max_epochs": "2"}, label="ft (2-shot)")],
        "synthetic",
        subsets=["A"],
        seeds=[0],
        targets=first_two,
        output_dir=tmp_path,
    )
    assert ev.runs[0].method.config.shots == 2
    assert len(ev.produced) == 2
    assert "ft (2-shot)" in ev.leaderboard().to_markdown()


@pytest.mark.parametrize(
    ("argv", "needs"),
    [
        (["-m", "text_head"], "a base head in a text-embedding space"),
        (["-m", "vlm_cascade"], "a choice of VLM space"),
    ],
)
def test_unmet_needs_fail_once_up_front(argv, needs, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", ["splitbench", "run", *argv, "-q", "-o", str(out)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {argv[1]} cannot run on synthetic")
    assert needs in err[0] and "no unit was run" in err[0]
    assert not list(out.rglob("*.failed.json")) and not list(out.rglob("seed*.json"))


def test_all_methods_are_checked_before_any_runs(tmp_path: Path) -> None:
    with pytest.raises(UnmetNeedsError, match="text_head"):
        evaluate(["coarse_copy", "text_head"], "synthetic", seeds=[0], output_dir=tmp_path)
    assert not list(tmp_path.rglob("*.json"))  # coarse_copy did not run either
    ev = evaluate(
        ["coarse_copy", "text_head"], "synthetic", seeds=[0], output_dir=tmp_path, unmet="skip"
    )
    assert [r.method.name for r in ev.runs] == ["coarse_copy"]
    assert [r.method.name for r in ev.not_applicable] == ["text_head"]
    assert ev.not_applicable[0].unmet == ["a base head in a text-embedding space"]


def test_failures_are_reported_once(tmp_path: Path, synthetic) -> None:  # type: ignore[no-untyped-def]
    from splitbench.protocol import Method, MethodMeta

    class Broken(Method):
        meta = MethodMeta("broken", "Broken", "always raises", shots=0)
        deterministic = True

        def edit(self, task, ctx, seed):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    first = str(synthetic.subset("A").targets[0].coarse_index)
    ev = evaluate([Broken()], "synthetic", subsets=["A"], targets=[first], output_dir=tmp_path)
    (line,) = ev.failure_lines()
    assert line.startswith(f"  failed: broken subset A target {first} seed 0: RuntimeError: boom")
    assert "seed0.failed.json" in line
    assert not ev.cells
