"""``--jobs N`` (N > 1): seed-level preparations run ahead, in a helper process.

Some methods prepare something costly per (subset, seed) and keep it in the shared artefact
cache (:mod:`splitbench.protocol.artefacts`): modifier alignment's map g takes ~1.4 s on one
thread per SSv2-Split subset and seed, and low-shot finetuning's MA initialisation reads
the same map. Such a method says so with ``prepare_ahead = True``
(:class:`~splitbench.protocol.api.Method`). :func:`start` forks one helper process that
calls those methods' ``prepare`` for every subset and seed the evaluation will run, in the
order the run needs them, on one thread, while the run scores units on the other core.
The run's own ``prepare`` then reads the artefact from the cache, or waits on its lock
while the helper finishes it, so nothing is computed twice.

The helper records nothing. An artefact is keyed by every input it depends on, so the run's
numbers are those of a run without the helper; a preparation that fails in the helper is
left for the run to meet, and to record as the failure of its units.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from splitbench.protocol.runner import Runner

#: Seconds :meth:`Ahead.close` waits for the helper's current preparation before ending it.
CLOSE_WAIT_S = 10.0


class Ahead:
    """The running helper process (see :func:`start`)."""

    def __init__(self, process: Any, stop: Any) -> None:
        self._process = process
        self._stop = stop

    def close(self) -> None:
        """Stop the helper after its current preparation (ended if it takes too long)."""
        self._stop.set()
        self._process.join(CLOSE_WAIT_S)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()


def start(
    runners: Sequence[Runner],
    subsets: Sequence[str],
    seeds: Sequence[int],
    targets: Sequence[str] | None,
) -> Ahead | None:
    """Fork the helper for the runners whose method prepares ahead; None when none does.

    Only runners on the CPU take part (forked processes and an initialised GPU do not mix).
    """
    todo = [r for r in runners if r.method.prepare_ahead and r.device == "cpu"]
    if not todo or "fork" not in mp.get_all_start_methods():
        return None
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    process = ctx.Process(
        target=_helper,
        args=(todo, list(subsets), list(seeds), targets, stop),
        daemon=True,
        name="splitbench-prepare-ahead",
    )
    process.start()
    return Ahead(process, stop)


def _helper(
    runners: Sequence[Runner],
    subsets: Sequence[str],
    seeds: Sequence[int],
    targets: Sequence[str] | None,
    stop: Any,
) -> None:
    import torch

    from splitbench.protocol.determinism import use_deterministic_algorithms

    torch.set_num_threads(1)  # the other core scores units
    use_deterministic_algorithms(True, warn_only=True)  # as the runner sets it
    try:
        for subset in subsets:
            for runner in runners:
                for seed in _pending_seeds(runner, subset, seeds, targets):
                    if stop.is_set():
                        return
                    try:
                        _prepare(runner, subset, seed)
                    except Exception:  # the run meets it again and records it
                        continue
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the run reports it
        return


def _pending_seeds(
    runner: Runner, subset: str, seeds: Sequence[int], targets: Sequence[str] | None
) -> list[int]:
    """The seeds of ``subset`` with units still to run (the runner's own plan)."""
    from splitbench.protocol.plan import plan_units

    run_seeds = runner.effective_seeds(seeds)
    try:
        plans = plan_units(
            runner.method,
            runner.benchmark,
            runner.stores,
            runner.output_dir,
            [subset],
            run_seeds,
            targets,
            reuse=runner.overwrite != "always",
            need_samples=runner.sink.log_samples,
        )
    except Exception:  # a damaged result or store: the run reports it
        return []
    return [s for s in run_seeds if any(p.pending.get(s) for p in plans)]


def _prepare(runner: Runner, subset: str, seed: int) -> None:
    """``prepare(ctx, seed)`` on a context of its own (fresh head copies, no val copy)."""
    import torch

    from splitbench.protocol.context import SubsetContext
    from splitbench.protocol.unit import seed_everything

    store = runner.stores[subset]
    weight, bias = store.head()  # fresh arrays: nothing a method does here reaches the run
    ctx = SubsetContext(
        benchmark=runner.benchmark,
        subset=runner.benchmark.subset(subset),
        _store=store,
        weight=torch.from_numpy(weight),
        bias=torch.from_numpy(bias),
        device=torch.device("cpu"),
        text_encoder_factory=runner.text_encoder_factory,
    )
    seed_everything(seed)
    runner.method.prepare(ctx, seed)
