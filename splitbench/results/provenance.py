"""Capture the software environment once per run."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as md
import platform
import subprocess
from functools import lru_cache
from pathlib import Path

from splitbench.results.schema import Environment
from splitbench.version import __version__

_LIBRARIES = ("torch", "numpy", "pyarrow", "sentence-transformers", "open_clip_torch", "datasets")


@lru_cache(maxsize=1)
def git_state() -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the splitbench source checkout, or ``(None, None)``."""
    root = Path(__file__).resolve().parent.parent.parent
    if not (root / ".git").exists():
        return None, None
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, None
    return head or None, bool(dirty)


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that can change numbers."""
    out = {}
    for name in _LIBRARIES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return out


def environment(device: str, deterministic: bool) -> Environment:
    """The current environment as an :class:`Environment` record."""
    commit, dirty = git_state()
    return Environment(
        splitbench_version=__version__,
        git_hash=commit,
        git_dirty=dirty,
        python=platform.python_version(),
        platform=platform.platform(),
        libraries=library_versions(),
        device=device,
        deterministic_algorithms=deterministic,
        date=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    )
