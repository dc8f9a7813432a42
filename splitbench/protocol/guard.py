"""Plugin containment: what a method's ``prepare`` and ``edit`` calls may and may not do.

* Each call sees a private copy of the base head (``ctx.weight``, ``ctx.bias``), so a method
  that edits it in place cannot change what the scorer or later units see: a unit gets the
  same result run alone as in a full run.
* The val features (``ctx.val_features()``) are one shared tensor (a copy per call would
  double the memory of an SSv2-size subset), checked after every call instead: a call that
  changed them fails its unit, and they are reloaded from the store before the next call
  (see :class:`SharedFeatures` for what the check sees). Other context tensors
  (``support_features``, VLM val features, text embeddings) are built fresh per call.
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

import numpy as np
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
    call: Callable[[], T],
    *,
    what: str,
    timeout: float | None = None,
    head: ContextGuard | None = None,
) -> T:
    """Run one method call under the containment rules.

    Args:
        call: The call (``lambda: method.edit(task, ctx, seed)``).
        what: How to name it in errors (``"modifier_retrieval.edit"``).
        timeout: Seconds before it is stopped; None for no limit.
        head: The context's :class:`ContextGuard`: it hands out a fresh head before the
            call and checks the shared val features after it.

    Raises:
        MethodError: when the call exits, times out, raises a non-``Exception``, or changed
            the shared val features (they are restored first).
        KeyboardInterrupt: passed on, to stop the run.
        Exception: whatever the method raised (the runner records it for the unit).
    """
    if head is not None:
        head.refresh()
    try:
        out = _call(call, what, timeout)
    except KeyboardInterrupt:
        if head is not None:
            head.check(what, report=False)
        raise
    except BaseException:
        if head is not None:
            head.check(what)  # a changed store is the more important message
        raise
    if head is not None:
        head.check(what)
    return out


def _call(call: Callable[[], T], what: str, timeout: float | None) -> T:
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


class SharedFeatures:
    """Watches one shared tensor that methods must treat as read-only.

    Torch has no read-only tensors (``torch.from_numpy`` of a non-writeable array warns and
    then writes through it), so changes are detected after the fact, at O(1)-ish cost:

    * the tensor's version counter, which every torch in-place operation bumps, also through
      views, slices, ``detach()``, indexing assignment and ``out=``;
    * a fingerprint of :data:`SAMPLES` values spread evenly over the tensor, which catches
      writes that bypass the counter (through ``.numpy()`` or ``.data``) when they touch
      much of it (scaling, normalising, adding noise). A write through NumPy to a handful
      of values between sample points is not seen.

    Args:
        tensor: The shared tensor.
        reload: Rebuilds its pristine values (from the store) when a change was seen.
    """

    SAMPLES = 4096

    def __init__(self, tensor: torch.Tensor, reload: Callable[[], torch.Tensor]) -> None:
        self.tensor = tensor
        self._reload = reload
        flat = tensor.detach().reshape(-1)
        n = int(flat.numel())
        self._at = np.unique(np.linspace(0, max(n - 1, 0), min(n, self.SAMPLES)).astype(np.int64))
        self._record()

    def _fingerprint(self) -> bytes:
        values: np.ndarray = self.tensor.detach().reshape(-1).numpy()
        return values[self._at].tobytes()

    def _record(self) -> None:
        self._version = self.tensor._version
        self._print = self._fingerprint()

    def changed(self) -> bool:
        """Whether the tensor was written since the last check."""
        return self.tensor._version != self._version or self._fingerprint() != self._print

    def restore(self) -> None:
        """Put the pristine values back, in place (every holder sees them again)."""
        with torch.no_grad():
            self.tensor.copy_(self._reload())
        self._record()


class ContextGuard:
    """Hands each method call its own copy of the base head and watches the val features.

    Args:
        ctx: The subset context whose ``weight`` and ``bias`` are replaced per call.
        weight: The pristine base weight (kept by the harness, never handed out).
        bias: The pristine base bias.
        features: The shared val features, watched by a :class:`SharedFeatures`; None to
            leave them unwatched.
    """

    def __init__(
        self,
        ctx: object,
        weight: torch.Tensor,
        bias: torch.Tensor,
        features: SharedFeatures | None = None,
    ) -> None:
        self.ctx = ctx
        self._weight = weight.detach().cpu().numpy().copy()
        self._bias = bias.detach().cpu().numpy().copy()
        self.features = features

    def refresh(self) -> None:
        """Give the context fresh copies of the pristine head (and the shared features).

        Copied with NumPy: on a busy 2-core machine ``torch.clone`` of a (119, 384) head took
        0.7-10 ms (intra-op thread start-up), a NumPy copy 35-50 µs (bench_protocol.py).
        """
        self.ctx.weight = torch.from_numpy(self._weight.copy())  # type: ignore[attr-defined]
        self.ctx.bias = torch.from_numpy(self._bias.copy())  # type: ignore[attr-defined]
        if self.features is not None:
            self.ctx._val = self.features.tensor  # type: ignore[attr-defined]

    def check(self, what: str, *, report: bool = True) -> None:
        """Restore the val features if the call changed them, and fail it.

        Raises:
            MethodError: when they changed and ``report`` is set.
        """
        if self.features is None or not self.features.changed():
            return
        self.features.restore()
        if report:
            raise MethodError(
                f"{what} changed the shared val features in place (ctx.val_features()); "
                f"they were restored from the store and this unit failed: copy them first "
                f"(feats = ctx.val_features().clone())"
            )
