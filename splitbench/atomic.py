"""Atomic file writes: write to a temp file in the target's folder, then rename.

Used by every writer whose output must never be seen half-written (unit results, per-video
logs, feature-store shards and metadata, hub parquet files), so an interrupted run leaves
either the old file or the new one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temp file in ``path``'s folder to write; renamed to ``path`` when the block succeeds.

    The folder is created if needed. The temp file (a hidden ``.<name>.<random>.tmp``) gets
    the permissions a plainly created file would get (``0666`` less the umask, not
    ``mkstemp``'s ``0600``) and is removed when the block raises, so a folder never holds
    half a file.

    Example:
        >>> with atomic_path(out / "table.parquet") as tmp:  # doctest: +SKIP
        ...     pq.write_table(table, tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        tmp.chmod(plain_mode())
        yield tmp
        # again: some writers (safetensors) replace the file and its 0600 mode with it
        tmp.chmod(plain_mode())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def plain_mode(*, directory: bool = False) -> int:
    """The mode a plainly created file (``0666``) or folder (``0777``) gets under the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def make_temp_dir(parent: Path, prefix: str) -> Path:
    """``mkdtemp`` in ``parent`` with a plain folder's mode instead of ``0700``.

    For folders built in place and renamed into their final name when complete.
    """
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
    tmp.chmod(plain_mode(directory=True))
    return tmp


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
