"""Results as Hub datasets: runs as splits plus latest, round trip, card, pull-results."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hub_support import check_golden, load_dataset_in
from typer.testing import CliRunner

from splitbench.cli.app import app
from splitbench.errors import ConfigError, DataError
from splitbench.hub.results import load_hub_results, run_id_of, write_results_folder
from splitbench.results.io import load_results, unit_path, write_result
from splitbench.results.schema import (
    Environment,
    FeatureProvenance,
    MetricMeta,
    Timings,
    UnitCounts,
    UnitIdentity,
    UnitMetrics,
    UnitResult,
)

REPO = "splitbench-test/results"
TARGETS = [(3, "Folding something"), (7, "Dropping something")]


def make_result(
    method: str, subset: str, target: tuple[int, str], seed: int, correct: int, date: str
) -> UnitResult:
    """A unit result with hand-made counts (no method or scoring involved)."""
    index, name = target
    counts = UnitCounts(
        equivalent_correct=correct,
        equivalent_total=40,
        unrelated_correct_edited=90,
        unrelated_correct_original=100,
        unrelated_changed=12,
        unrelated_total=120,
    )
    g, loc = correct / 40, 90 / 100
    return UnitResult(
        protocol="splitbench.protocol/1",
        unit=UnitIdentity(
            method=method,
            method_version="1",
            method_origin="tests",
            shots=0,
            config={"alpha": 1},
            config_hash=f"{method[:4]}00000000",
            benchmark="toy-split",
            benchmark_version="1",
            benchmark_revision="sha256:0000000000000000",
            simulation=False,
            subset=subset,
            subset_targets=len(TARGETS),
            target=name,
            target_index=index,
            target_key=f"{index:03d}-{name.lower().replace(' ', '-')}",
            k=3,
            seed=seed,
        ),
        features=FeatureProvenance(
            store_key="feedfacefeedface",
            model={"name": "toy"},
            view_protocol={"views": 1},
            backbone_passes=0,
            simulation=False,
        ),
        counts=counts,
        metrics=UnitMetrics(generality=g, locality=loc, mean=(g + loc) / 2),
        metric_meta={
            "generality": MetricMeta(
                protocol="splitbench.protocol/1", scorer="acc", comparable_group="g"
            )
        },
        environment=Environment(
            splitbench_version="0.1.0",
            git_hash=None,
            git_dirty=None,
            python="3.11",
            platform="test",
            libraries={},
            device="cpu",
            deterministic_algorithms=True,
            date=date,
        ),
        timings=Timings(prepare_s=0.0, edit_s=0.0, score_s=0.0),
    )


def run_results(methods: list[str], date: str, correct: int = 20) -> list[UnitResult]:
    return [
        make_result(m, s, t, seed, correct + seed + t[0], date)
        for m in methods
        for s in ("A", "B")
        for t in TARGETS
        for seed in (0, 1)
    ]


def dump(results: list[UnitResult]) -> list[str]:
    return sorted(r.model_dump_json() for r in results)


def test_run_id_is_the_newest_utc_time() -> None:
    rs = [
        make_result("m", "A", TARGETS[0], 0, 1, "2026-03-01T10:00:00+02:00"),
        make_result("m", "A", TARGETS[0], 1, 1, "2026-03-01T08:30:05+00:00"),
    ]
    assert run_id_of(rs) == "2026_03_01T08_30_05"


def test_two_runs_round_trip_and_card(tmp_path: Path) -> None:
    first = run_results(["alpha"], "2026-03-01T08:00:00+00:00")
    second = run_results(["alpha", "beta"], "2026-03-02T09:00:00+00:00", correct=25)
    out = tmp_path / "results"
    write_results_folder(first, out, REPO)
    written = write_results_folder(second, out, REPO, license="cc-by-4.0")
    assert "data/toy-split-A/2026_03_01T08_00_00.parquet" in written.files
    assert "leaderboards/2026_03_02T09_00_00.md" in written.files
    check_golden("results-card.md", (out / "README.md").read_text())

    assert dump(load_hub_results(out)) == dump(second)
    assert dump(load_hub_results(out, "2026_03_01T08_00_00")) == dump(first)
    only_b = load_hub_results(out, configs=["toy-split-B"])
    assert {r.unit.subset for r in only_b} == {"B"}

    latest = load_dataset_in(tmp_path, str(out), name="toy-split-A", split="latest")
    assert latest.num_rows == len([r for r in second if r.unit.subset == "A"])
    assert sorted(set(latest["method"])) == ["alpha", "beta"]
    splits = load_dataset_in(tmp_path, str(out), name="toy-split-B")
    assert sorted(splits) == ["2026_03_01T08_00_00", "2026_03_02T09_00_00", "latest"]


def test_push_and_pull_through_the_cli(tmp_path: Path) -> None:
    src = tmp_path / "runs"
    results = run_results(["alpha"], "2026-03-01T08:00:00+00:00")
    for r in results:
        u = r.unit
        write_result(
            unit_path(src, u.benchmark, u.subset, u.method, u.config_hash, u.target_key, u.seed), r
        )
    runner = CliRunner()
    pushed = runner.invoke(
        app,
        ["hub", "push-results", str(src), "--repo-id", REPO, "--local-dir", str(tmp_path / "hub")],
    )
    assert pushed.exit_code == 0, pushed.output
    pulled = runner.invoke(
        app, ["hub", "pull-results", str(tmp_path / "hub"), "-o", str(tmp_path / "back")]
    )
    assert pulled.exit_code == 0, pulled.output
    assert dump(load_results(tmp_path / "back")) == dump(results)
    shown = runner.invoke(app, ["leaderboard", str(tmp_path / "back")])
    original = runner.invoke(app, ["leaderboard", str(src)])
    assert shown.output == original.output


def test_bad_inputs(tmp_path: Path) -> None:
    results = run_results(["alpha"], "2026-03-01T08:00:00+00:00")
    with pytest.raises(ConfigError, match="no unit results"):
        write_results_folder([], tmp_path / "x", REPO)
    with pytest.raises(ConfigError, match="run id 'latest'"):
        write_results_folder(results, tmp_path / "x", REPO, run_id="latest")
    out = tmp_path / "ok"
    write_results_folder(results, out, REPO)
    with pytest.raises(DataError, match=r"no config has a split 'v2'"):
        load_hub_results(out, "v2")
    with pytest.raises(DataError, match=r"config 'toy-split-C' is missing from the card"):
        load_hub_results(out, configs=["toy-split-C"])

    path = out / "data" / "toy-split-A" / "2026_03_01T08_00_00.parquet"
    table = pq.read_table(path)
    raw = json.loads(table["result_json"][0].as_py())
    del raw["counts"]
    texts = table["result_json"].to_pylist()
    texts[0] = json.dumps(raw)
    column = table.schema.get_field_index("result_json")
    pq.write_table(table.set_column(column, "result_json", pa.array(texts)), path)
    with pytest.raises(DataError) as info:
        load_hub_results(out)
    assert str(info.value) == f"{path}: row 1: field 'counts': Field required"
