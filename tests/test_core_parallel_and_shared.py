"""--jobs, the shared per-subset state and the seed-level artefact cache (issue 19)."""

from __future__ import annotations

import json
import os
import shutil
import signal

import pytest
import torch

from splitbench.errors import ConfigError
from splitbench.protocol import Method, MethodMeta, NewRows, artefacts, load_methods, shared
from splitbench.protocol.parallel import chunks, effective_jobs
from splitbench.protocol.runner import Runner
from splitbench.results.io import iter_result_files


def _counts(root):
    out = {}
    for p in iter_result_files(root):
        d = json.loads(p.read_text())
        u = d["unit"]
        out[(u["subset"], u["method"], u["target_key"], u["seed"])] = d["counts"]
    return out


def test_parallel_counts_equal_serial_unit_by_unit(tmp_path, synthetic, synthetic_stores):
    method = "lowshot_finetune"  # MA init: prepare (map training) and edit (training) both

    def run(jobs, out):
        shared.clear_shared_state()
        artefacts.clear_memory()
        cls = load_methods().get(method)
        r = Runner(cls(), synthetic, synthetic_stores, out, progress=False, jobs=jobs)
        return r.run(["A", "B"], [0, 1, 2])

    serial, parallel = run(1, tmp_path / "s"), run(2, tmp_path / "p")
    assert serial.jobs == 1 and parallel.jobs == 2
    assert [(o.subset, o.target.key, o.seed) for o in serial.outcomes] == [
        (o.subset, o.target.key, o.seed) for o in parallel.outcomes
    ]
    a, b = _counts(tmp_path / "s"), _counts(tmp_path / "p")
    assert len(a) == len(serial.by_status("done")) > 0
    assert a == b


class Dies(Method):
    meta = MethodMeta("dies", "Dies", "kills its worker on one target", shots=0)

    def edit(self, task, ctx, seed):
        if seed == 2 and os.getpid() != PARENT:
            os.kill(os.getpid(), signal.SIGKILL)
        c = task.coarse_index
        return NewRows(ctx.weight[c].repeat(task.k, 1), ctx.bias[c].repeat(task.k))


PARENT = os.getpid()


def test_dead_worker_fails_only_its_unfinished_units(tmp_path, synthetic, synthetic_stores):
    report = Runner(Dies(), synthetic, synthetic_stores, tmp_path, progress=False, jobs=2).run(
        ["A"], [0, 1, 2]
    )
    failed = report.by_status("failed")
    assert failed and all(o.seed in (1, 2) for o in failed)
    assert all("exited with code" in (o.error or "") for o in failed)
    assert {o.seed for o in report.by_status("done")} >= {0}
    rerun = Runner(Dies(), synthetic, synthetic_stores, tmp_path, progress=False, jobs=1).run(
        ["A"], [0, 1, 2]
    )
    assert len(rerun.by_status("done")) == len(failed)  # only the failed units rerun


def test_chunks_and_effective_jobs():
    assert chunks(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert effective_jobs(2, 3) == 1  # too few units to fork for
    assert effective_jobs(2, 100) == 2
    with pytest.raises(ConfigError, match="--jobs 0"):
        effective_jobs(0, 10)


def test_shared_state_built_once_and_replaced(synthetic, synthetic_stores):
    shared.clear_shared_state()
    a = synthetic.subset("A")
    s1 = shared.shared_state(a, synthetic_stores["A"])
    assert shared.shared_state(a, synthetic_stores["A"]) is s1
    s2 = shared.shared_state(synthetic.subset("B"), synthetic_stores["B"])
    assert s2 is not s1 and s2.key != s1.key
    assert shared.shared_state(a, synthetic_stores["A"]) is not s1  # A was freed for B


def test_shared_state_closes_the_store_splits(synthetic, synthetic_stores):
    """The memory-mapped splits are not kept open once copied (their pages stay resident)."""
    from splitbench.protocol.context import load_val_features

    shared.clear_shared_state()
    store_a, a = synthetic_stores["A"], synthetic.subset("A")
    val, train = store_a.split("val"), store_a.split("train")
    s1 = shared.shared_state(a, store_a)
    assert store_a.split("val") is not val  # closed after the float32 copy; reopens on demand
    assert store_a.split("train") is train
    shared.shared_state(synthetic.subset("B"), synthetic_stores["B"])
    assert store_a.split("train") is not train  # A's splits closed when B's state was built
    assert torch.equal(s1.features, load_val_features(a, store_a))  # still valid if held


def test_artefact_cache_memory_disk_and_key(tmp_path, monkeypatch):
    monkeypatch.setenv("SPLITBENCH_CACHE", str(tmp_path))
    artefacts.clear_memory()
    calls = []

    def build():
        calls.append(1)
        return artefacts.Artefact({"w": torch.arange(3.0)}, {"epochs": 7})

    parts = {"seed": 0, "x": torch.ones(2)}
    a = artefacts.shared_artefact("t", parts, build)
    assert artefacts.shared_artefact("t", parts, build) is a  # memory
    artefacts.clear_memory()
    b = artefacts.shared_artefact("t", parts, build)  # disk
    assert calls == [1] and torch.equal(b.tensors["w"], a.tensors["w"]) and b.record == a.record
    artefacts.shared_artefact("t", {"seed": 0, "x": torch.ones(2) * 2}, build)  # input changed
    assert calls == [1, 1]
    path = artefacts.artefact_path("t", artefacts.artefact_key(parts))
    path.write_bytes(b"truncated")
    artefacts.clear_memory()
    artefacts.shared_artefact("t", parts, build)  # unreadable file: rebuilt and replaced
    assert calls == [1, 1, 1]


def test_lowshot_ma_init_reuses_the_ma_map(tmp_path, synthetic, synthetic_stores, monkeypatch):
    import splitbench_methods.modifier_alignment as ma

    from splitbench.paths import cache_dir

    shutil.rmtree(cache_dir() / "artefacts", ignore_errors=True)
    artefacts.clear_memory()
    trained = []
    real = ma.fit_alignment
    monkeypatch.setattr(ma, "fit_alignment", lambda *a: trained.append(1) or real(*a))
    reg = load_methods()
    for name in ("modifier_alignment", "lowshot_finetune"):
        Runner(reg.get(name)(), synthetic, synthetic_stores, tmp_path, progress=False).run(
            ["A"], [0, 1]
        )
    assert len(trained) == 2  # one map per seed, shared by both methods
