"""Aggregation, rendering and the result schema (golden files)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from splitbench.protocol.runner import METRIC_META
from splitbench.protocol.scoring import PROTOCOL_ID
from splitbench.results.aggregate import aggregate
from splitbench.results.io import load_results, unit_path, write_result
from splitbench.results.render import render_leaderboard
from splitbench.results.schema import (
    Environment,
    FeatureProvenance,
    Timings,
    UnitCounts,
    UnitIdentity,
    UnitMetrics,
    UnitResult,
)

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("SPLITBENCH_UPDATE_GOLDEN") == "1"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text)
    assert path.read_text() == text, f"{name} changed; rerun with SPLITBENCH_UPDATE_GOLDEN=1"


def make_result(
    method: str,
    target: int,
    seed: int,
    eq: tuple[int, int],
    un: tuple[int, int, int],
    n_targets: int = 2,
    simulation: bool = True,
    protocol: str = PROTOCOL_ID,
) -> UnitResult:
    counts = UnitCounts(
        equivalent_correct=eq[0],
        equivalent_total=eq[1],
        unrelated_correct_edited=un[0],
        unrelated_correct_original=un[1],
        unrelated_changed=0,
        unrelated_total=un[2],
    )
    g = eq[0] / eq[1]
    loc = un[0] / un[1]
    return UnitResult(
        protocol=protocol,
        unit=UnitIdentity(
            method=method,
            method_version="1",
            method_origin="tests",
            shots=0,
            config={"x": 1},
            config_hash=f"{method[:4]}00000000",
            benchmark="synthetic",
            benchmark_version="1",
            benchmark_revision="synthetic:test",
            simulation=simulation,
            subset="A",
            subset_targets=n_targets,
            target=f"Target {target}",
            target_index=target,
            target_key=f"{target:03d}-target",
            k=2,
            seed=seed,
        ),
        features=FeatureProvenance(
            store_key="store0",
            model={"name": "m"},
            view_protocol={},
            backbone_passes=0,
            simulation=simulation,
        ),
        counts=counts,
        metrics=UnitMetrics(generality=g, locality=loc, mean=(g + loc) / 2),
        metric_meta=METRIC_META,
        environment=Environment(
            splitbench_version="0",
            git_hash=None,
            git_dirty=None,
            python="3",
            platform="p",
            libraries={},
            device="cpu",
            deterministic_algorithms=True,
            date="2026-01-01",
        ),
        timings=Timings(prepare_s=0, edit_s=0, score_s=0),
    )


def results_fixture() -> list[UnitResult]:
    return [
        # method a: 2 targets × 2 seeds
        make_result("alpha", 1, 0, (5, 10), (90, 100, 120)),
        make_result("alpha", 2, 0, (7, 10), (95, 100, 120)),
        make_result("alpha", 1, 1, (6, 10), (92, 100, 120)),
        make_result("alpha", 2, 1, (8, 10), (96, 100, 120)),
        # method b: complete, one seed
        make_result("beta", 1, 0, (3, 10), (99, 100, 120)),
        make_result("beta", 2, 0, (3, 10), (100, 100, 120)),
        # method c: incomplete (seed 1 misses target 2)
        make_result("gamma", 1, 0, (9, 10), (50, 100, 120)),
        make_result("gamma", 2, 0, (9, 10), (50, 100, 120)),
        make_result("gamma", 1, 1, (9, 10), (50, 100, 120)),
    ]


def test_mean_over_targets_then_seeds():
    cells = {c.method: c for c in aggregate(results_fixture())}
    a = cells["alpha"]
    assert a.complete and a.seeds == [0, 1]
    # seed 0: (0.5 + 0.7)/2 = 0.6; seed 1: (0.6 + 0.8)/2 = 0.7 → 0.65 ± std(0.6, 0.7)
    assert a.generality == pytest.approx(0.65)
    assert a.generality_std == pytest.approx(0.0707106781)
    assert a.locality == pytest.approx((0.925 + 0.94) / 2)
    assert a.mean == pytest.approx((a.generality + a.locality) / 2)
    b = cells["beta"]
    assert b.generality_std is None and b.coverage == "2/2 × 1 seed"


def test_incomplete_cells_get_no_average():
    c = {c.method: c for c in aggregate(results_fixture())}["gamma"]
    assert not c.complete
    assert c.generality is None and c.locality is None and c.mean is None
    assert c.coverage == "2/2, 1/2"


def test_protocols_are_never_mixed():
    rs = [
        *results_fixture()[:2],
        make_result("alpha", 1, 1, (6, 10), (92, 100, 120), protocol="other/1"),
    ]
    cells = aggregate(rs)
    assert len(cells) == 2
    assert {c.key["protocol"] for c in cells} == {PROTOCOL_ID, "other/1"}


def test_leaderboard_golden():
    text = render_leaderboard(aggregate(results_fixture()), per_target=True)
    assert "**Simulation.**" in text
    check_golden("leaderboard.md", text)


def test_result_schema_golden():
    schema = json.dumps(UnitResult.model_json_schema(), indent=2, sort_keys=True) + "\n"
    check_golden("unit_result.schema.json", schema)


def test_result_files_round_trip(tmp_path):
    r = results_fixture()[0]
    p = unit_path(tmp_path, "synthetic", "A", "alpha", r.unit.config_hash, r.unit.target_key, 0)
    write_result(p, r)
    assert load_results(tmp_path) == [r]


def test_malformed_result_file_names_the_field(tmp_path):
    from splitbench.errors import DataError

    r = results_fixture()[0]
    p = unit_path(tmp_path, "synthetic", "A", "alpha", r.unit.config_hash, r.unit.target_key, 0)
    write_result(p, r)
    raw = json.loads(p.read_text())
    del raw["counts"]["equivalent_total"]
    p.write_text(json.dumps(raw))
    with pytest.raises(DataError, match=r"field 'counts.equivalent_total'"):
        load_results(tmp_path)


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    """Result files are readable like any other file (mkstemp alone would make them 0600)."""
    r = results_fixture()[0]
    p = unit_path(tmp_path, "synthetic", "A", "alpha", r.unit.config_hash, r.unit.target_key, 0)
    write_result(p, r)
    umask = os.umask(0)
    os.umask(umask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~umask
    assert not list(p.parent.glob("*.tmp"))
