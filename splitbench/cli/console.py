"""The ``splitbench`` console script: :func:`splitbench.cli.app.main`, then a quick exit.

Tearing the interpreter down after a command that imported torch takes a large share of a
short command: torch's operator libraries are deregistered and every module is cleared. On
the 2-core machine a warm ``make run`` job used 6.4 CPU seconds with the teardown and 4.1
without it (min of 4 interleaved runs each, ``-j 1``, loaded machine). When the command is
over nothing is left for that teardown to do: results are written atomically and closed by
the code that wrote them. So the console script does what a normal exit does first (waits
for non-daemon threads, runs the ``atexit`` handlers, flushes stdout and stderr) and then
leaves with :func:`os._exit`.

Only the console script and ``python -m splitbench`` exit this way; :func:`main` itself
returns or raises ``SystemExit`` as before, so it can be called in-process (tests do).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

from splitbench.cli.app import main


def console() -> NoReturn:
    """Run the CLI and exit with its status without the interpreter's teardown."""
    try:
        main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): printed, status 1
        print(code, file=sys.stderr)
        code = 1
    quick_exit(code)


def quick_exit(code: int) -> NoReturn:
    """Exit as the interpreter would, minus finalizing modules and C++ state."""
    me = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not me and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed pipe or full disk: what Python exits with
            code = code or 120
    os._exit(code)
