"""``--jobs N``: a subset's units shared out over forked worker processes.

The parent builds the subset's state (features, base logits) first and then forks, so the
workers read it copy-on-write instead of each building or holding its own. The pending
units, in the serial order, are cut into ``N`` contiguous chunks, one per worker; a worker
seeds and runs its units exactly as a serial run does (every unit is seeded on its own,
so which process runs it changes no number) and sends each finished unit back to the
parent, which records it, updates the progress bar and calls the ``on_unit`` hook, as a
serial run does. Each worker gets ``threads // N`` intra-op threads (at least one), so
``N`` workers never oversubscribe the cores.

A worker that dies (killed, out of memory) fails the units it had not finished, with a
one-line error; the next run retries them.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import traceback
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

#: Fewer pending units than this per worker are run serially (forking costs more).
MIN_UNITS_PER_JOB = 4


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask, else ``os.cpu_count()``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_jobs() -> int:
    """The default ``--jobs``: one worker per usable CPU."""
    return max(1, available_cpus())


def effective_jobs(jobs: int, units: int) -> int:
    """Workers actually used for ``units`` pending units (1 = serial, no fork)."""
    if jobs < 1:
        from splitbench.errors import ConfigError

        raise ConfigError(f"--jobs {jobs}: expected a positive integer")
    if "fork" not in mp.get_all_start_methods():  # pragma: no cover - not POSIX
        return 1
    return max(1, min(jobs, units // MIN_UNITS_PER_JOB))


def chunks(items: Sequence[T], n: int) -> list[list[T]]:
    """``items`` cut into ``n`` contiguous, nearly equal chunks (earlier ones one longer)."""
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(list(items[start:end]))
        start = end
    return out


def run_forked(
    parts: Sequence[Sequence[T]],
    work: Callable[[Sequence[T], Callable[[Any], None]], None],
    on_message: Callable[[Any], None],
) -> dict[int, str]:
    """Run ``work(part, emit)`` in one forked process per part; relay what they emit.

    ``on_message`` is called in the parent, in arrival order, with each object a worker
    passed to ``emit`` (it must pickle).

    Returns:
        Part index → one-line reason, for every worker that did not finish cleanly.
    """
    ctx = mp.get_context("fork")
    q: Any = ctx.Queue()
    threads = _threads_per_worker(len(parts))

    def main(i: int, part: Sequence[T]) -> None:
        import torch

        torch.set_num_threads(threads)
        try:
            work(part, lambda msg: q.put(("msg", i, msg)))
            q.put(("done", i, None))
        except BaseException as exc:  # report, then exit non-zero
            q.put(("error", i, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
            raise

    procs = [ctx.Process(target=main, args=(i, p), daemon=True) for i, p in enumerate(parts)]
    for p in procs:
        p.start()
    finished: set[int] = set()
    problems: dict[int, str] = {}
    while len(finished) < len(procs):
        try:
            kind, i, payload = q.get(timeout=0.5)
        except queue.Empty:
            for i, p in enumerate(procs):
                if i not in finished and not p.is_alive() and q.empty():
                    finished.add(i)
                    problems[i] = f"worker process {i} exited with code {p.exitcode}"
            continue
        if kind == "msg":
            on_message(payload)
        else:
            finished.add(i)
            if kind == "error":
                problems[i] = f"worker process {i} raised {payload.splitlines()[0]}"
    for p in procs:
        p.join()
    return problems


def _threads_per_worker(jobs: int) -> int:
    import torch

    return max(1, torch.get_num_threads() // jobs)
