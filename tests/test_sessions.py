"""The multi-target session track: hand-checked cases, m = 1 parity, sequential heads, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from splitbench.benchmarks.model import SplitTarget, VideoSet
from splitbench.errors import ConfigError
from splitbench.protocol import Method, MethodMeta, NewRows, SessionSupport, load_methods
from splitbench.protocol.runner import Runner
from splitbench.protocol.scoring import SubsetScorer
from splitbench.protocol.session import (
    SessionEdit,
    parse_sizes,
    score_session,
    session_order,
    shift_target,
)
from splitbench.protocol.session_runner import SessionRunner
from splitbench.results.session_schema import SessionResult
from splitbench.results.sessions import aggregate_sessions, load_sessions, render_sessions

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"
CASES = json.loads((DATA / "session_cases.json").read_text())["cases"]


def _case_targets(case: dict, n_videos: int) -> list[SplitTarget]:
    c = case["C"]
    base = np.array(case["base_labels"], dtype=np.int64)
    out = []
    for spec in case["targets"]:
        eq_rows = np.array(spec["equivalent"]["rows"], dtype=np.int64)
        eq_labels = c + np.array(spec["equivalent"]["subcategories"], dtype=np.int64)
        unrelated = np.array(
            [i for i in range(n_videos) if base[i] != spec["coarse"] and i not in eq_rows],
            dtype=np.int64,
        )
        empty = np.zeros(0, dtype=np.int64)
        out.append(
            SplitTarget(
                subset="A",
                name=f"coarse {spec['coarse']}",
                coarse_index=spec["coarse"],
                fine_labels=tuple(f"sub {j}" for j in range(spec["k"])),
                fine_indices=tuple(c + j for j in range(spec["k"])),
                modifiers=tuple(f"m{j}" for j in range(spec["k"])),
                ft=VideoSet("ft", "train", empty, empty),
                equivalent=VideoSet("equivalent", "val", eq_rows, eq_labels),
                unrelated=VideoSet("unrelated", "val", unrelated, base[unrelated]),
            )
        )
    return out


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_session_cases(case):
    logits = torch.tensor(case["logits"], dtype=torch.float32)[:, None, :]  # one view
    c, d = case["C"], logits.shape[-1]
    eye = torch.eye(d)
    scorer = SubsetScorer(logits, eye[:c], torch.zeros(c))
    targets, offset = [], 0
    for t in _case_targets(case, len(logits)):
        targets.append(shift_target(t, offset))
        offset += t.k
    edit = SessionEdit(eye[c:], torch.zeros(d - c), tuple(targets), tuple({} for _ in targets))
    counts, _, _ = score_session(scorer, edit, case["track"])
    got = [
        {
            "column": t.column,
            "equivalent_correct": t.equivalent_correct,
            "equivalent_total": t.equivalent_total,
            "correct_after_edit": t.correct_after_edit,
        }
        for t in counts.targets
    ]
    assert got == case["expected_targets"]
    # edited, original, changed, total: the schema's field order
    assert list(counts.outside.model_dump().values()) == case["expected_locality"]
    for metric, want in case["expected_metrics"].items():
        value = getattr(counts, metric)
        assert (value is None) if want is None else value == pytest.approx(want)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("1,,3", "empty item"),
        ("0", "outside 1..5"),
        ("6", "outside 1..5"),
        ("two", "not a whole number"),
        ("²", "not a whole number"),
    ],
)
def test_bad_session_sizes(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_sizes(spec, 5)


def test_session_sizes_and_orders():
    assert parse_sizes("all,1,3,3", 5) == [1, 3, 5]
    targets = list(range(7))
    first, again, other = (
        session_order(targets, 0),
        session_order(targets, 0),
        session_order(targets, 1),
    )
    assert first == again and sorted(first) == targets and first != other


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from splitbench.catalog import load_benchmark
    from splitbench.cli.common import resolve_stores

    bench = load_benchmark("synthetic", None)
    return bench, resolve_stores(bench.name, None, ["A"])


def _method(name: str) -> Method:
    cls = load_methods().get(name)
    return cls()


@pytest.mark.parametrize("track", ["batch", "sequential"])
def test_size_one_equals_single_split(synthetic, tmp_path, track):
    """Every m = 1 session reproduces the single-split unit of its target exactly."""
    bench, stores = synthetic
    method = _method("modifier_retrieval")
    report = SessionRunner(method, bench, stores, tmp_path / "s", track).run(["A"], [1], 4, [0])
    single = Runner(method, bench, stores, tmp_path / "u", progress=False).run(["A"], [0])
    units = {o.target.key: o.result for o in single.outcomes}
    assert len(report.by_status("done")) == 4
    for o in report.outcomes:
        assert o.result is not None
        (t,) = o.result.targets
        u = units[t.key]
        assert u is not None
        assert (t.equivalent_correct, t.equivalent_total) == (
            u.counts.equivalent_correct,
            u.counts.equivalent_total,
        )
        loc = o.result.locality
        assert loc.model_dump() == {
            k: v for k, v in u.counts.model_dump().items() if k.startswith("unrelated")
        }
        assert o.result.metrics.generality == u.metrics.generality
        assert o.result.metrics.locality == u.metrics.locality


class _Recorder(Method):
    """Head editor that records the head size it was shown and copies the coarse row."""

    meta = MethodMeta("recorder", "Recorder", "Records head shapes.", shots=0)
    deterministic = True
    session_support = SessionSupport(batch=True, sequential=True, note="test")
    seen: list[tuple[int, int]] = []  # noqa: RUF012 - test probe

    def edit(self, task, ctx, seed):
        type(self).seen.append((int(ctx.weight.shape[0]), task.target.fine_indices[0]))
        c = task.coarse_index
        return NewRows(weight=ctx.weight[c].repeat(task.k, 1), bias=ctx.bias[c].repeat(task.k))


@pytest.mark.parametrize("track", ["batch", "sequential"])
def test_sequential_methods_see_earlier_rows(synthetic, tmp_path, track):
    bench, stores = synthetic
    _Recorder.seen = []
    SessionRunner(_Recorder(), bench, stores, tmp_path, track).run(["A"], [3], 1, [0])
    subset = bench.subset("A")
    order = session_order(subset.targets, 0)[:3]
    n = subset.num_labels
    heads, columns = zip(*_Recorder.seen, strict=True)
    ks = [t.k for t in order]
    assert list(columns) == [n, n + ks[0], n + ks[0] + ks[1]]
    if track == "sequential":
        assert list(heads) == [n, n + ks[0], n + ks[0] + ks[1]]
    else:
        assert list(heads) == [n, n, n]


def test_resume_and_refusal(synthetic, tmp_path):
    bench, stores = synthetic
    method = _method("coarse_copy")
    runner = SessionRunner(method, bench, stores, tmp_path, "sequential")
    first = runner.run(["A"], [1, 2], 2, [0])
    again = runner.run(["A"], [1, 2], 2, [0])
    assert len(first.by_status("done")) == 4 and len(again.by_status("skipped")) == 4
    results = load_sessions(tmp_path)
    assert len(results) == 4 and all(isinstance(r, SessionResult) for r in results)
    table = render_sessions(aggregate_sessions(results))
    assert "| coarse_copy" in table and "Simulation" in table
    with pytest.raises(ConfigError, match="does not take part in sequential sessions"):
        SessionRunner(_method("clip_cascade"), bench, stores, tmp_path, "sequential")


def test_session_result_schema_golden():
    schema = json.dumps(SessionResult.model_json_schema(), indent=2, sort_keys=True) + "\n"
    golden = GOLDEN / "session_result_schema.json"
    if os.environ.get("SPLITBENCH_UPDATE_GOLDEN"):
        golden.write_text(schema)
    assert schema == golden.read_text()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "splitbench", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "TQDM_DISABLE": "1"},
        timeout=600,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "seeds"),
    [("modifier_retrieval", "0"), ("modifier_alignment", "0"), ("lowshot_finetune", "0")],
)
def test_cli_sequential_track(tmp_path, method, seeds):
    """The issue's command for each paper method: a table on stdout and a plot on disk."""
    proc = _cli(
        "run", "-m", method, "--track", "sequential", "--session-sizes", "1,3,all",
        "--orders", "2", "--seeds", seeds, "-s", "A", "-q", "-o", str(tmp_path), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "multi-target sessions (simulation)" in proc.stdout
    assert f"| {method}" in proc.stdout and "Retention" in proc.stdout
    assert (tmp_path / "synthetic" / "sessions-synthetic-A.png").is_file()
    assert "Traceback" not in proc.stderr


def test_cli_track_errors(tmp_path):
    bad = _cli("run", "-m", "clip_cascade", "--track", "batch", "-s", "A", "-o", str(tmp_path),
               cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 2 and "does not take part in batch sessions" in bad.stderr
    assert "Traceback" not in bad.stderr
    bad = _cli("run", "-m", "coarse_copy", "--track", "chain", cwd=tmp_path)
    assert bad.returncode == 2 and "--track 'chain'" in bad.stderr
    bad = _cli("run", "-m", "coarse_copy", "--track", "batch", "--session-sizes", "1,,2",
               cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 2 and "empty item" in bad.stderr


def test_leaderboard_sessions_command(synthetic, tmp_path):
    bench, stores = synthetic
    for name in ("coarse_copy", "modifier_retrieval"):
        SessionRunner(_method(name), bench, stores, tmp_path / "r", "sequential").run(
            ["A"], [1, 2], 2, [0]
        )
    proc = _cli("leaderboard", "sessions", str(tmp_path / "r"), "--plot-dir", str(tmp_path / "p"),
                cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "| coarse_copy" in proc.stdout and "| modifier_retrieval" in proc.stdout
    assert (tmp_path / "p" / "sessions-synthetic-A.png").is_file()
    empty = _cli("leaderboard", "sessions", str(tmp_path / "p"), cwd=tmp_path)
    assert empty.returncode == 2 and "no session results" in empty.stderr
