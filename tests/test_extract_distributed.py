"""Distributed extraction on CPU: ``torchrun`` with 2 gloo processes seals a store equal to
the single-process one, bit for bit; a rank interrupted mid-run resumes its own slice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from extract_helpers import OVERRIDES, TINY_VIEWS, Tiny, build_tiny, extract_args

from splitbench.features.distributed import ProcessGroup, rank_dir
from splitbench.features.extract import ExtractConfig, extract_subset
from splitbench.features.extract_plan import RankSlice
from splitbench.features.store import FeatureStore
from splitbench.models.base_model import load_base_model

CHUNK = 2


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Tiny:
    return build_tiny(tmp_path_factory.mktemp("tiny-dist"))


def cli_args(tiny: Tiny, out: Path) -> list[str]:
    return extract_args(tiny, out, "--chunk-size", str(CHUNK), "--device", "cpu")


def env() -> dict[str, str]:
    # the same intra-op threads in every process, so the float sums run the same way
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def assert_same_store(a: FeatureStore, b: FeatureStore) -> None:
    """Same shards, rows, bits and metadata (the log of runs aside)."""
    for split in ("val", "train"):
        sa, sb = a.split(split), b.split(split)
        assert list(sa.videos) == list(sb.videos)
        assert sa.features.dtype == sb.features.dtype
        assert np.asarray(sa.features).tobytes() == np.asarray(sb.features).tobytes()  # bits
    assert all(np.array_equal(x, y) for x, y in zip(a.head(), b.head(), strict=True))
    ma, mb = json.loads(a.meta.to_json()), json.loads(b.meta.to_json())
    ma["extra"].pop("runs"), mb["extra"].pop("runs")
    assert ma == mb


def test_torchrun_two_gloo_ranks_seal_the_single_process_store(tiny, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    done = subprocess.run(
        [sys.executable, "-m", "splitbench", *cli_args(tiny, one)],
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",  # what the torchrun script runs
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "splitbench",
            *cli_args(tiny, two),
        ],
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "2 ranks)" in done.stderr and done.stderr.count("store at") == 1  # rank 0 reports
    a, b = FeatureStore(one / "A"), FeatureStore(two / "A")
    assert_same_store(a, b)
    assert a.meta.backbone_passes == b.meta.backbone_passes > 0
    last = b.meta.extra["runs"][-1]
    assert last["world_size"] == 2 and [r["rank"] for r in last["ranks"]] == [0, 1]
    assert sum(r["videos_run"] for r in last["ranks"]) == last["videos_run"]
    assert not (two / "A" / "ranks").exists()  # rank stores are removed once sealed


class Killed(Exception):
    pass


def run_ranks(tiny: Tiny, out: Path, kill_rank: int | None = None) -> dict[int, object]:
    """Both ranks of a world of 2 as threads meeting at a barrier (the process group's role).

    ``kill_rank`` dies after writing its first chunk; the barrier is broken for the other.
    """
    subset = tiny.bench.subset("A")
    barrier = threading.Barrier(2)
    results: dict[int, object] = {}

    def rank(r: int) -> None:
        base = load_base_model(tiny.checkpoints["A"], trust=True, overrides=OVERRIDES)
        group = ProcessGroup(RankSlice(r, 2), 0, lambda: barrier.wait(timeout=120))

        def on_chunk(split: str, chunk: int) -> None:
            if r == kill_rank:
                raise Killed

        cfg = ExtractConfig(workers=0, chunk_size=CHUNK, progress=False)
        try:
            results[r] = extract_subset(
                tiny.bench, subset, base, tiny.data.videos, out, TINY_VIEWS, cfg,
                on_chunk=on_chunk, group=group,
            )  # fmt: skip
        except (Killed, threading.BrokenBarrierError) as exc:
            barrier.abort()
            results[r] = exc

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results


def test_an_interrupted_rank_resumes_its_own_slice(tiny, tmp_path):
    subset = tiny.bench.subset("A")
    base = load_base_model(tiny.checkpoints["A"], trust=True, overrides=OVERRIDES)
    cfg = ExtractConfig(workers=0, chunk_size=CHUNK, progress=False)
    whole = extract_subset(
        tiny.bench, subset, base, tiny.data.videos, tmp_path / "one", TINY_VIEWS, cfg
    )

    out = tmp_path / "two"
    first = run_ranks(tiny, out, kill_rank=1)
    assert isinstance(first[1], Killed)
    rank1 = FeatureStore(rank_dir(out, RankSlice(1, 2)))
    kept = sum(len(s.shards) for s in rank1.meta.splits.values())
    assert kept == 1  # the chunk finished before the kill is on disk

    second = run_ranks(tiny, out)
    assert all(not isinstance(r, BaseException) for r in second.values()), second
    sealed = FeatureStore(out)
    assert_same_store(whole.store, sealed)
    ranks = sealed.meta.extra["runs"][-1]["ranks"]
    mine = {s: -(-n // CHUNK) for s, n in whole.planned.items()}  # chunks per split
    rank1_chunks = sum(len(range(1, n, 2)) for n in mine.values())
    assert ranks[1]["chunks_run"] == rank1_chunks - 1  # it redid none of its finished work
