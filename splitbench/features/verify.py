"""Content checks of feature-store files: SHA-256 digests and finite numbers.

A store records the digest of its head and of every shard when they are written; reading
checks them. A file is hashed at most once per process for one (path, size, mtime, inode),
so a run that opens the same store for several subsets or seeds pays once.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from splitbench.core.hashing import file_sha256
from splitbench.errors import DataError

log = logging.getLogger("splitbench")

_verified: dict[tuple[str, int, int, int], str] = {}
_noted: set[str] = set()


def _stamp(path: Path) -> tuple[str, int, int, int]:
    st = os.stat(path)
    return (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino)


def verify_file(path: Path, expected: str, what: str = "file") -> None:
    """Check that ``path`` hashes to ``expected`` (cached per process for an unchanged file).

    Raises:
        DataError: naming the file when its bytes differ from what was recorded.
    """
    stamp = _stamp(path)
    if _verified.get(stamp) == expected:
        return
    got = file_sha256(path)
    if got != expected:
        raise DataError(
            f"{path}: {what} content does not match the digest recorded when it was written "
            f"(sha256 {got[:12]}…, recorded {expected[:12]}…); the file is damaged or was "
            f"edited — restore or regenerate it"
        )
    _verified[stamp] = expected


def remember_verified(path: Path, digest: str) -> None:
    """Record that ``path`` (just written by this process) has ``digest``."""
    _verified[_stamp(path)] = digest


def note_unverified(where: Path | str, why: str) -> None:
    """Log once per process that ``where`` cannot be verified (made before digests existed)."""
    key = str(where)
    if key not in _noted:
        _noted.add(key)
        log.warning("note: %s: %s; its content is not verified", where, why)


def first_non_finite(values: np.ndarray) -> int | None:
    """Index along axis 0 of the first row holding NaN or ±Inf, or None when all are finite."""
    finite = np.isfinite(values)
    if finite.all():
        return None
    rows = finite.reshape(len(values), -1).all(axis=1) if values.ndim > 1 else finite
    return int(np.flatnonzero(~rows)[0])
