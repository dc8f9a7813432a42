"""The runner: results per unit, resume, failures isolated, output validated."""

from __future__ import annotations

import json

import pytest
import torch
from failing_plugin import Exploding

from splitbench.protocol import Method, MethodMeta, NewRows, VideoProbabilities, load_methods
from splitbench.protocol.runner import Runner
from splitbench.results.io import iter_result_files, load_results


def _method(name: str):
    return load_methods().get(name)()


def test_run_writes_one_file_per_unit(tmp_path, synthetic, synthetic_stores):
    runner = Runner(_method("coarse_copy"), synthetic, synthetic_stores, tmp_path, progress=False)
    report = runner.run(["A", "B"], [0, 1, 2])
    # deterministic: one seed only
    assert report.seeds == [0]
    n = len(synthetic.subset("A").targets) + len(synthetic.subset("B").targets)
    assert len(report.by_status("done")) == n
    files = list(iter_result_files(tmp_path))
    assert len(files) == n
    r = load_results(tmp_path)[0]
    assert r.unit.simulation and r.features.simulation
    assert r.counts.equivalent_total > 0
    assert r.metric_meta["locality"].protocol == r.protocol


def test_rerun_only_runs_missing_units(tmp_path, synthetic, synthetic_stores):
    class Interrupting(Method):
        meta = MethodMeta("interrupting", "Interrupting", "raises KeyboardInterrupt", shots=0)
        calls = 0

        def edit(self, task, ctx, seed):
            Interrupting.calls += 1
            if Interrupting.calls == 4:
                raise KeyboardInterrupt
            c = task.coarse_index
            return NewRows(ctx.weight[c].repeat(task.k, 1), ctx.bias[c].repeat(task.k))

    m = Interrupting()
    with pytest.raises(KeyboardInterrupt):
        Runner(m, synthetic, synthetic_stores, tmp_path, progress=False).run(["A"], [0, 1])
    assert len(list(iter_result_files(tmp_path))) == 3
    report = Runner(m, synthetic, synthetic_stores, tmp_path, progress=False).run(["A"], [0, 1])
    n = 2 * len(synthetic.subset("A").targets)
    assert len(report.by_status("skipped")) == 3
    assert len(report.by_status("done")) == n - 3
    assert Interrupting.calls == 4 + (n - 3)
    assert len(list(iter_result_files(tmp_path))) == n


def test_failing_unit_is_recorded_and_others_continue(tmp_path, synthetic, synthetic_stores):
    report = Runner(Exploding(), synthetic, synthetic_stores, tmp_path, progress=False).run(
        ["A"], [0]
    )
    failed = report.by_status("failed")
    assert len(failed) == 1 and "ValueError: plugin bug" in failed[0].error
    assert len(report.by_status("done")) == len(synthetic.subset("A").targets) - 1
    record = json.loads(failed[0].path.with_name("seed0.failed.json").read_text())
    assert "plugin bug" in record["traceback"]
    # the failed unit is retried next time
    again = Runner(Exploding(), synthetic, synthetic_stores, tmp_path, progress=False).run(
        ["A"], [0]
    )
    assert len(again.by_status("failed")) == 1 and len(again.by_status("done")) == 0


class WrongShape(Method):
    meta = MethodMeta("wrong_shape", "Wrong shape", "returns k+1 rows", shots=0)

    def edit(self, task, ctx, seed):
        return NewRows(torch.zeros(task.k + 1, ctx.dim), torch.zeros(task.k + 1))


class BadProbs(Method):
    meta = MethodMeta("bad_probs", "Bad probabilities", "wrong column count", shots=0)

    def edit(self, task, ctx, seed):
        return VideoProbabilities(torch.ones(len(task.subset.val), ctx.num_classes))


@pytest.mark.parametrize(("cls", "fragment"), [(WrongShape, "needs ("), (BadProbs, "expected (")])
def test_bad_method_output_fails_the_unit(tmp_path, synthetic, synthetic_stores, cls, fragment):
    report = Runner(cls(), synthetic, synthetic_stores, tmp_path, progress=False).run(
        ["A"], [0], targets=[str(synthetic.subset("A").targets[0].coarse_index)]
    )
    (o,) = report.outcomes
    assert o.status == "failed" and "MethodError" in o.error and fragment in o.error


def test_probability_methods_are_scored_like_head_edits(tmp_path, synthetic, synthetic_stores):
    """A method returning the masked probabilities of coarse_copy gets coarse_copy's counts."""

    class CopyAsProbs(Method):
        meta = MethodMeta("copy_probs", "Copy as probabilities", "", shots=0)

        def edit(self, task, ctx, seed):
            from splitbench.protocol.scoring import SubsetScorer

            c = task.coarse_index
            sc = SubsetScorer(ctx.val_features(), ctx.weight, ctx.bias)
            w, b = ctx.weight[c].repeat(task.k, 1), ctx.bias[c].repeat(task.k)
            return VideoProbabilities(sc.probabilities(c, sc.new_logits(w, b)))

    target = [str(synthetic.subset("B").targets[2].coarse_index)]
    a = Runner(CopyAsProbs(), synthetic, synthetic_stores, tmp_path / "p", progress=False)
    b = Runner(_method("coarse_copy"), synthetic, synthetic_stores, tmp_path / "c", progress=False)
    ra = a.run(["B"], [0], targets=target).outcomes[0].result
    rb = b.run(["B"], [0], targets=target).outcomes[0].result
    assert ra.counts == rb.counts


def test_store_from_another_run_is_not_mixed(tmp_path, synthetic, synthetic_stores):
    m = _method("coarse_copy")
    Runner(m, synthetic, synthetic_stores, tmp_path, progress=False).run(["A"], [0])
    path = next(iter_result_files(tmp_path))
    raw = json.loads(path.read_text())
    raw["features"]["store_key"] = "0" * 16
    path.write_text(json.dumps(raw))
    from splitbench.errors import DataError

    with pytest.raises(DataError, match="another protocol, feature store"):
        Runner(m, synthetic, synthetic_stores, tmp_path, progress=False).run(["A"], [0])


def test_modifier_retrieval_beats_the_floor(tmp_path, synthetic, synthetic_stores):
    """The paper's zero-shot ordering on the simulation: MR > coarse_copy on generality."""
    from splitbench.results.aggregate import aggregate

    for name in ("modifier_retrieval", "coarse_copy"):
        Runner(_method(name), synthetic, synthetic_stores, tmp_path, progress=False).run(
            ["A", "B"], [0]
        )
    cells = {(c.method, c.key["subset"]): c for c in aggregate(load_results(tmp_path))}
    for s in ("A", "B"):
        mr, cc = cells["modifier_retrieval", s], cells["coarse_copy", s]
        assert mr.complete and cc.complete
        assert mr.generality > cc.generality
        assert mr.locality >= 0.95
    mr_unit = next(r for r in load_results(tmp_path) if r.unit.method == "modifier_retrieval")
    assert mr_unit.method_info["assignments"]
    assert mr_unit.resources["text_encoder:minilm"].startswith("minilm:")


def test_oracle_bounds_the_methods(tmp_path, synthetic, synthetic_stores):
    """The ground-truth oracle of the simulation is above a real method's generality."""
    from splitbench.features.sim_report import synthetic_oracle
    from splitbench.results.aggregate import aggregate

    Runner(
        _method("modifier_retrieval"), synthetic, synthetic_stores, tmp_path, progress=False
    ).run(["A", "B"], [0])
    oracle = synthetic_oracle()
    for cell in aggregate(load_results(tmp_path)):
        assert 0 < cell.generality < oracle[cell.key["subset"]] <= 1


def test_unmet_requirements_come_from_declared_needs(synthetic_stores):
    """Applicability is decided from declarations and the store, never from method names."""
    store = synthetic_stores["A"]
    reg = load_methods()
    assert reg.get("coarse_copy")().unmet_requirements(store) == []
    assert reg.get("clip_cascade")().unmet_requirements(store) == []
    (text_head,) = reg.get("text_head")().unmet_requirements(store)
    assert "text-embedding space" in text_head
    (generic,) = reg.get("vlm_cascade")().unmet_requirements(store)
    assert "--config vlm=NAME" in generic and "clip" in generic
