"""--jobs > 1: seed-level preparations run ahead in a helper process (issue 19)."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import ClassVar

import torch

from splitbench.evaluation import evaluate
from splitbench.protocol import Method, MethodMeta, NewRows, ahead, artefacts, shared
from splitbench.protocol.artefacts import Artefact, shared_artefact
from splitbench.results.io import iter_result_files

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


class WaitsForTheHelper(Method):
    """Runs first and waits until every offset exists: only the helper can have made them."""

    meta = MethodMeta("waits", "Waits", "waits for the helper", shots=0)
    deterministic = True
    log: ClassVar[Path]
    expected: ClassVar[int]

    def prepare(self, ctx, seed):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = self.log.read_text().splitlines() if self.log.is_file() else []
            if len(done) >= self.expected:
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
    Offsets.log = WaitsForTheHelper.log = log
    return log


def _counts(root: Path) -> dict[tuple[str, str, str, int], object]:
    import json

    out = {}
    for p in iter_result_files(root):
        d = json.loads(p.read_text())
        u = d["unit"]
        out[(u["subset"], u["method"], u["target_key"], u["seed"])] = d["counts"]
    return out


def test_helper_prepares_every_seed_once_and_changes_no_number(
    tmp_path, monkeypatch, synthetic, synthetic_stores
) -> None:  # type: ignore[no-untyped-def]
    WaitsForTheHelper.expected = len(SUBSETS) * len(SEEDS)
    log = _fresh(tmp_path, monkeypatch, "parallel")
    kw = {"stores": synthetic_stores, "subsets": SUBSETS, "seeds": SEEDS}
    run = evaluate(
        [WaitsForTheHelper(), Offsets()], synthetic, output_dir=tmp_path / "p", jobs=2, **kw
    )
    assert not run.failures
    built = [line.split() for line in log.read_text().splitlines()]
    # built once each, all by the helper, while the first method was still waiting for them
    assert sorted((s, int(seed)) for s, seed, _, _ in built) == [
        (s, seed) for s in SUBSETS for seed in SEEDS
    ]
    assert {name for *_, name in built} == {"splitbench-prepare-ahead"}
    assert not mp.active_children()  # the helper was stopped

    serial_log = _fresh(tmp_path, monkeypatch, "serial")
    WaitsForTheHelper.expected = 0  # no helper with --jobs 1
    serial = evaluate(
        [WaitsForTheHelper(), Offsets()], synthetic, output_dir=tmp_path / "s", jobs=1, **kw
    )
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


class HangsInTheHelper(Offsets):
    meta = MethodMeta("hangs", "Hangs", "prepare hangs, in the helper only", shots=0)

    def prepare(self, ctx, seed):  # type: ignore[no-untyped-def]
        if mp.current_process().name == "splitbench-prepare-ahead":
            time.sleep(3600)


def test_failures_are_the_runs_and_a_hung_helper_is_ended(
    tmp_path, monkeypatch, synthetic, synthetic_stores
) -> None:  # type: ignore[no-untyped-def]
    _fresh(tmp_path, monkeypatch, "fails")
    monkeypatch.setattr(ahead, "CLOSE_WAIT_S", 0.2)
    kw = {"stores": synthetic_stores, "subsets": ["A"], "seeds": SEEDS, "jobs": 2}
    run = evaluate([PrepareFails()], synthetic, output_dir=tmp_path / "f", **kw)
    assert len(run.failures) == len(synthetic.subset("A").targets) * len(SEEDS)
    assert all("prepare failed: RuntimeError: no map for seed" in o.error for _, o in run.failures)
    t = time.monotonic()
    hung = evaluate([HangsInTheHelper()], synthetic, output_dir=tmp_path / "h", **kw)
    assert not hung.failures and time.monotonic() - t < 60
    assert not mp.active_children()
