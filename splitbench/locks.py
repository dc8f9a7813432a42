"""An inter-process lock for cache folders that several processes may fill at once.

``fcntl.flock`` on a lock file next to the folder: the first process generates, the others
wait and then find the folder finished. The OS drops the lock when a holder dies, so a
killed generator never leaves a stale lock. On platforms without ``fcntl`` the lock is a
no-op and the callers' atomic rename still keeps the cache whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<parent>/.<name>.lock`` for the block."""
    try:
        import fcntl
    except ImportError:  # Windows: rely on the atomic rename alone
        yield
        return
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
