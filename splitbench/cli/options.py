"""Option types shared by several commands (defined once, so help stays consistent)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer


def in_panel(name: str) -> Callable[..., Any]:
    """``typer.Option`` listed in the ``--help`` panel ``name`` (each panel spelled once)."""
    return functools.partial(typer.Option, rich_help_panel=name)


DATA = in_panel("Data")
METHOD = in_panel("Method")
OUTPUT = in_panel("Output")
SESSIONS = in_panel("Sessions")

Benchmark = Annotated[
    str,
    DATA(
        "--benchmark",
        "-b",
        help="synthetic | ssv2-split | finegym-split | hf://ORG/NAME[@REV] | hub folder | "
        "benchmark folder (official layout, e.g. built by build-benchmark)",
    ),
]
Annotations = Annotated[
    Path | None,
    DATA("--annotations", help="The official 'Datasets' folder (or $SPLITBENCH_ANNOTATIONS)."),
]
Subset = Annotated[str, DATA("--subset", "-s", help="A, B or all.")]
Features = Annotated[
    Path | None,
    DATA(
        "--features",
        help="Feature store folder (one store, or one per subset in "
        "A/ and B/), hf://ORG/NAME[@REV] or a hub feature folder. Not needed for the "
        "synthetic benchmark.",
    ),
]
Jobs = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        help="Worker processes per subset (default: one per usable CPU; 1 = serial). "
        "Every unit's numbers are the same for any value.",
        min=1,
    ),
]
