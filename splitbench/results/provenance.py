"""Capture the software environment once per run."""

from __future__ import annotations

import datetime as _dt
import platform

from splitbench.core.provenance import git_state, library_versions
from splitbench.results.schema import Environment
from splitbench.version import __version__


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


__all__ = ["environment", "git_state", "library_versions"]
