"""What produced a number: the source checkout and the library versions (pure helpers).

Leaf module: feature extraction records the library versions in a store's metadata, and
the runner records them, with the git state, in every result's environment
(:func:`splitbench.results.provenance.environment`).
"""

from __future__ import annotations

import importlib.metadata as md
import subprocess
from functools import lru_cache
from pathlib import Path

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
