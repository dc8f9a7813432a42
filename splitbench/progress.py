"""Progress bars: one switch for ``-q`` and quiet third-party loading bars.

Every bar in splitbench is a tqdm bar created with ``disable=not progress``; the libraries
underneath (transformers' "Loading weights", huggingface_hub's transfers) draw their own.
:func:`silence` turns all of them off for ``-q``; :func:`no_loading_bars` turns off only
the model-loading bar that would otherwise break into splitbench's own bars. Neither
touches logging or warnings, so errors still show.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

_depth = 0  # how many bars enclose the next one (nested progress, e.g. grid → units)


def silence() -> None:
    """``-q``: no progress bar from splitbench or any library, for the rest of the process.

    tqdm (>= 4.66) reads ``TQDM_DISABLE`` for every bar it creates; huggingface_hub and
    transformers read ``HF_HUB_DISABLE_PROGRESS_BARS`` when imported, and are told directly
    when they already are.
    """
    os.environ["TQDM_DISABLE"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars  # type: ignore[attr-defined]

        disable_progress_bars()  # type: ignore[no-untyped-call]
    no_loading_bars()


def no_loading_bars() -> None:
    """Hide transformers' model-loading bar (seconds for a local model, and it garbles ours)."""
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]


def bar(**kwargs: Any) -> Any:
    """A tqdm bar on stderr that honours :func:`silence` and nesting.

    Inside :func:`nested` the bar sits on the line below its parent and is cleared when
    done, so a grid shows one line for the grid and one for the method running now.
    """
    from tqdm.auto import tqdm

    if os.environ.get("TQDM_DISABLE") == "1":
        kwargs["disable"] = True
    kwargs.setdefault("dynamic_ncols", True)
    if _depth:
        kwargs.setdefault("position", _depth)
        kwargs.setdefault("leave", False)
    return tqdm(**kwargs)


@contextlib.contextmanager
def nested() -> Iterator[None]:
    """Bars created inside go one line below the current one."""
    global _depth
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1


def write(message: str) -> None:
    """Print a line to stderr above any active bars (plain ``print`` would cut into them)."""
    from tqdm.auto import tqdm

    tqdm.write(message, file=sys.stderr)
