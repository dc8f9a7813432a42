"""``--jobs N``: how many workers, and forked worker processes that report back.

:func:`effective_jobs` decides how many workers a run gets; :func:`run_forked` forks them
and relays what they send to the parent. What the workers do, and how the work is shared
out among them, is :mod:`splitbench.protocol.pool`'s job.
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
