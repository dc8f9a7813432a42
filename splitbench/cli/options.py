"""Option types shared by several commands (defined once, so help stays consistent)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Benchmark = Annotated[
    str,
    typer.Option(
        "--benchmark",
        "-b",
        help="synthetic | ssv2-split | finegym-split | hf://ORG/NAME[@REV] | hub folder | "
        "benchmark folder (official layout, e.g. built by build-benchmark)",
        rich_help_panel="Data",
    ),
]
Annotations = Annotated[
    Path | None,
    typer.Option(
        "--annotations",
        help="The official 'Datasets' folder (or $SPLITBENCH_ANNOTATIONS).",
        rich_help_panel="Data",
    ),
]
Subset = Annotated[
    str,
    typer.Option("--subset", "-s", help="A, B or all.", rich_help_panel="Data"),
]
Features = Annotated[
    Path | None,
    typer.Option(
        "--features",
        help="Feature store folder (one store, or one per subset in "
        "A/ and B/), hf://ORG/NAME[@REV] or a hub feature folder. Not needed for the "
        "synthetic benchmark.",
        rich_help_panel="Data",
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
