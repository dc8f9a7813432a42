"""--jobs, the shared per-subset state, the seed-level artefact cache and the pool that
prepares ahead (issue 19)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import time
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from splitbench.errors import ConfigError
from splitbench.evaluation import evaluate
from splitbench.protocol import (
    Method,
    MethodMeta,
    NewRows,
    artefacts,
    load_methods,
    shared,
)
from splitbench.protocol.artefacts import Artefact, shared_artefact
from splitbench.protocol.parallel import effective_jobs
from splitbench.protocol.pool import CHUNK_UNITS, plan_tasks
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


def test_a_unit_written_before_its_message_was_lost_is_done(
    tmp_path, monkeypatch, synthetic, synthetic_stores
):
    """A worker killed after writing a result, before its queued message left, loses the
    message; the whole result on disk counts as done, a missing one fails the unit."""
    from splitbench.protocol import pool
    from splitbench.results.io import failure_path

    real, lost = pool.run_forked, []
    runner = Runner(Dies(), synthetic, synthetic_stores, tmp_path, progress=False, jobs=2)

    def losing(parts, work, on_message):
        def drop_two(msg):
            if isinstance(msg, tuple) and isinstance(msg[0], int) and len(lost) < 2:
                lost.append(msg)
            else:
                on_message(msg)

        problems = real(parts, work, drop_two)
        _, seed, key, *_ = lost[1]
        target = next(t for t in synthetic.subset("A").targets if t.key == key)
        runner.path_for("A", target, seed).unlink()  # this one never reached the disk
        return problems

    monkeypatch.setattr(pool, "run_forked", losing)
    report = runner.run(["A"], [0, 1])
    status = {(o.seed, o.target.key): o for o in report.outcomes}
    kept, gone = (status[(m[1], m[2])] for m in lost)
    assert kept.status == "done" and kept.result is not None and kept.path.is_file()
    assert not failure_path(kept.path).exists()
    assert gone.status == "failed" and "before finishing this unit" in (gone.error or "")
    assert [o for o in report.outcomes if o.status == "failed"] == [gone]
    rerun = Runner(Dies(), synthetic, synthetic_stores, tmp_path, progress=False, jobs=1)
    assert [(o.seed, o.target.key) for o in rerun.run(["A"], [0, 1]).by_status("done")] == [
        (gone.seed, gone.target.key)
    ]


def test_effective_jobs():
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


# -- --jobs > 1: one pool per subset; seed-level preparations run ahead ---------------

SEEDS = [0, 1, 2]
SUBSETS = ["A", "B"]


class Offsets(Method):
    """Prepares a per-(subset, seed) offset as a shared artefact; edits with it."""

    meta = MethodMeta("offsets", "Offsets", "a prepared offset per seed", shots=0)
    prepare_ahead = True
    log: ClassVar[Path]

    def _offset(self, ctx, seed):  # type: ignore[no-untyped-def]
        def build() -> Artefact:
            with open(self.log, "a") as f:
                f.write(f"{ctx.subset.name} {seed} {os.getpid()} {mp.current_process().name}\n")
            time.sleep(0.2)  # long enough for the other worker to find it busy
            gen = torch.Generator().manual_seed(seed)
            return Artefact({"v": torch.randn(ctx.dim, generator=gen) * 0.5}, {})

        parts = {"subset": ctx.subset.name, "seed": seed, "w": ctx.weight}
        return shared_artefact("offsets-test", parts, build).tensors["v"]

    def prepare(self, ctx, seed):  # type: ignore[no-untyped-def]
        self._offset(ctx, seed)

    def edit(self, task, ctx, seed):  # type: ignore[no-untyped-def]
        c, k = task.coarse_index, task.k
        rows = ctx.weight[c].repeat(k, 1) + self._offset(ctx, seed) * torch.arange(k)[:, None]
        return NewRows(rows, ctx.bias[c].repeat(k))


class SameOffsets(Offsets):
    """A second method that needs the same artefacts (as low-shot MA init needs MA's map)."""

    meta = MethodMeta("same_offsets", "SameOffsets", "the same offsets", shots=0)


class WaitsForTheOffsets(Method):
    """Runs first and waits until the subset's offsets exist: only preparations ahead,
    on the other worker, can have made them by then."""

    meta = MethodMeta("waits", "Waits", "waits for the offsets", shots=0)
    deterministic = True
    log: ClassVar[Path]
    expected: ClassVar[int]

    def prepare(self, ctx, seed):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            lines = self.log.read_text().splitlines() if self.log.is_file() else []
            if sum(line.split()[0] == ctx.subset.name for line in lines) >= self.expected:
                return
            time.sleep(0.05)

    def edit(self, task, ctx, seed):  # type: ignore[no-untyped-def]
        c = task.coarse_index
        return NewRows(ctx.weight[c].repeat(task.k, 1), ctx.bias[c].repeat(task.k))


def _fresh(tmp_path: Path, monkeypatch, name: str) -> Path:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SPLITBENCH_CACHE", str(tmp_path / f"cache-{name}"))
    artefacts.clear_memory()
    shared.clear_shared_state()
    log = tmp_path / f"{name}.log"
    Offsets.log = WaitsForTheOffsets.log = log
    return log


def test_tasks_prepare_ahead_first_then_units_in_serial_order(
    tmp_path, synthetic, synthetic_stores
):
    runners = [
        Runner(m, synthetic, synthetic_stores, tmp_path, progress=False)
        for m in (WaitsForTheOffsets(), Offsets())
    ]
    plans = [r.begin(["A"], SEEDS, None).plans[0] for r in runners]
    tasks = plan_tasks(list(zip(runners, plans, strict=True)))
    prepares = [t for t in tasks if t.kind == "prepare"]
    assert tasks[: len(prepares)] == prepares
    assert [(t.job, t.seed) for t in prepares] == [(1, s) for s in SEEDS]  # prepare_ahead only
    units = [(t.job, t.seed, u.key) for t in tasks[len(prepares) :] for u in t.targets]
    serial = [(j, s, u.key) for j, p in enumerate(plans) for s, ts in p.pending.items() for u in ts]
    assert units == serial
    assert all(0 < len(t.targets) <= CHUNK_UNITS for t in tasks if t.kind == "units")


def test_pool_prepares_every_seed_once_ahead_and_changes_no_number(
    tmp_path, monkeypatch, synthetic, synthetic_stores
) -> None:  # type: ignore[no-untyped-def]
    WaitsForTheOffsets.expected = len(SEEDS)
    log = _fresh(tmp_path, monkeypatch, "parallel")
    kw = {"stores": synthetic_stores, "subsets": SUBSETS, "seeds": SEEDS}
    methods = [WaitsForTheOffsets(), Offsets(), SameOffsets()]
    run = evaluate(methods, synthetic, output_dir=tmp_path / "p", jobs=2, **kw)
    assert not run.failures
    built = [line.split() for line in log.read_text().splitlines()]
    # built once each (two methods need each one), in the workers, while the first method's
    # units were still waiting for them
    assert sorted((s, int(seed)) for s, seed, _, _ in built) == [
        (s, seed) for s in SUBSETS for seed in SEEDS
    ]
    assert "MainProcess" not in {name for *_, name in built}
    assert not mp.active_children()  # the workers are gone
    assert all(r.report is not None and r.report.jobs == 2 for r in run.runs)

    serial_log = _fresh(tmp_path, monkeypatch, "serial")
    WaitsForTheOffsets.expected = 0
    methods = [WaitsForTheOffsets(), Offsets(), SameOffsets()]
    serial = evaluate(methods, synthetic, output_dir=tmp_path / "s", jobs=1, **kw)
    assert not serial.failures
    assert {line.split()[3] for line in serial_log.read_text().splitlines()} == {"MainProcess"}
    a, b = _counts(tmp_path / "s"), _counts(tmp_path / "p")
    assert len(a) == len(serial.produced) > 0 and a == b


class PrepareFails(Method):
    meta = MethodMeta("prepare_fails", "PrepareFails", "prepare raises", shots=0)
    prepare_ahead = True

    def prepare(self, ctx, seed):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"no map for seed {seed}")

    def edit(self, task, ctx, seed):  # type: ignore[no-untyped-def]
        raise AssertionError("not reached")


def test_a_failed_preparation_ahead_is_the_units_failure(
    tmp_path, monkeypatch, synthetic, synthetic_stores
) -> None:  # type: ignore[no-untyped-def]
    _fresh(tmp_path, monkeypatch, "fails")
    kw = {"stores": synthetic_stores, "subsets": ["A"], "seeds": SEEDS, "jobs": 2}
    run = evaluate([PrepareFails(), Offsets()], synthetic, output_dir=tmp_path / "f", **kw)
    n = len(synthetic.subset("A").targets) * len(SEEDS)
    assert len(run.failures) == n  # the other method's units are unaffected
    assert all("prepare failed: RuntimeError: no map for seed" in o.error for _, o in run.failures)
    assert len(run.produced) == n
