"""Plugin containment: what a method's ``prepare`` and ``edit`` calls may and may not do.

* Each call sees a private copy of the base head (``ctx.weight``, ``ctx.bias``), so a method
  that edits it in place cannot change what the scorer or later units see: a unit gets the
  same result run alone as in a full run.
* ``SystemExit`` and other ``BaseException`` subclasses raised by a method fail its unit
  (as a :class:`MethodError`) instead of ending the run silently or with a traceback;
  ``KeyboardInterrupt`` stops the run (the CLI says so and exits 130).
* An optional per-call time limit (``--unit-timeout``) stops a method that runs too long.
  It uses ``SIGALRM``, so it needs the main thread of a POSIX process; it interrupts Python
  code and sleeps at once, and a long native call (one big matmul) when that call returns.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import torch

from splitbench.errors import ConfigError, MethodError

T = TypeVar("T")


# A BaseException, so that `except Exception` in a plugin cannot swallow it.
class UnitTimeout(BaseException):
    """Raised inside a method call that outlived the unit time limit."""


def check_timeout(seconds: float | None) -> None:
    """Check that a time limit can be enforced here.

    Raises:
        ConfigError: for a non-positive or non-finite limit, or a platform/thread where
            ``SIGALRM`` is unavailable.
    """
    if seconds is None:
        return
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"--unit-timeout {seconds!r}: expected a positive number of seconds")
    if not hasattr(signal, "setitimer"):
        raise ConfigError("--unit-timeout needs SIGALRM, which this platform lacks")
    if threading.current_thread() is not threading.main_thread():
        raise ConfigError("--unit-timeout works only when the run is in the main thread")


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    if seconds is None:
        yield
        return

    def _expired(signum: int, frame: object) -> None:
        raise UnitTimeout

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def contained(
    call: Callable[[], T], *, what: str, timeout: float | None = None, head: object = None
) -> T:
    """Run one method call under the containment rules.

    Args:
        call: The call (``lambda: method.edit(task, ctx, seed)``).
        what: How to name it in errors (``"modifier_retrieval.edit"``).
        timeout: Seconds before it is stopped; None for no limit.
        head: A :class:`PrivateHead` to refresh before the call, if any.

    Raises:
        MethodError: when the call exits, times out or raises a non-``Exception``.
        KeyboardInterrupt: passed on, to stop the run.
        Exception: whatever the method raised (the runner records it for the unit).
    """
    if isinstance(head, PrivateHead):
        head.refresh()
    try:
        with _time_limit(timeout):
            return call()
    except KeyboardInterrupt:
        raise
    except UnitTimeout:
        raise MethodError(
            f"{what} ran longer than --unit-timeout {timeout:g} s and was stopped"
        ) from None
    except SystemExit as exc:
        raise MethodError(
            f"{what} called sys.exit({exc.code!r}); a method must return or raise, never exit"
        ) from None
    except Exception:
        raise
    except BaseException as exc:
        raise MethodError(f"{what} raised {type(exc).__name__}: {exc}") from exc


class PrivateHead:
    """Hands each method call its own copy of the base head.

    Args:
        ctx: The subset context whose ``weight`` and ``bias`` are replaced per call.
        weight: The pristine base weight (kept by the harness, never handed out).
        bias: The pristine base bias.
    """

    def __init__(self, ctx: object, weight: torch.Tensor, bias: torch.Tensor) -> None:
        self.ctx = ctx
        self._weight = weight.detach().cpu().numpy().copy()
        self._bias = bias.detach().cpu().numpy().copy()

    def refresh(self) -> None:
        """Give the context fresh copies of the pristine head.

        Copied with NumPy: on a busy 2-core machine ``torch.clone`` of a (119, 384) head took
        0.7-10 ms (intra-op thread start-up), a NumPy copy 35-50 µs (bench_protocol.py).
        """
        self.ctx.weight = torch.from_numpy(self._weight.copy())  # type: ignore[attr-defined]
        self.ctx.bias = torch.from_numpy(self._bias.copy())  # type: ignore[attr-defined]
