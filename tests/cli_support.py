"""Running the installed ``splitbench`` console script from tests, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / "splitbench"


def sb(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    umask: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """``splitbench *args`` in a subprocess (output captured, 300 s limit).

    Args:
        args: The command line after ``splitbench``.
        env: Variables added to this process's environment.
        cwd: Working folder.
        umask: A umask for the child (checks the modes of files it creates).
    """
    return subprocess.run(
        [str(BIN), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=300,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )
