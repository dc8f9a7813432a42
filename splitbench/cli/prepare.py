"""``splitbench prepare-videos``: resized copies of a benchmark's videos (FineGym: 480×270)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from splitbench.cli import options as opt
from splitbench.cli.common import err


def prepare_videos(
    benchmark: opt.Benchmark,
    videos: Annotated[Path, typer.Option("--videos", help="Folder with the original videos.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the resized copies (<stem>.mp4).")
    ],
    annotations: opt.Annotations = None,
) -> None:
    """Write the videos at the benchmark's source size, as its official preprocessing did.

    Optional: 'splitbench extract' applies the same scaling on the fly. The copies are
    scaled with the same scaler and encoded losslessly, so both give the same views.
    Rerunning resumes (existing copies are kept).
    """
    from splitbench.catalog import load_benchmark
    from splitbench.errors import ConfigError
    from splitbench.video.prepare import prepare_folder

    bench = load_benchmark(benchmark, annotations)
    if bench.video_size is None:
        raise ConfigError(
            f"{bench.name} uses its videos as they are (no source resizing); nothing to prepare"
        )
    w, h = bench.video_size
    report = prepare_folder(videos, output, bench.video_size)
    err(
        f"{bench.name}: {report.resized} videos resized to {w}x{h}, {report.copied} already "
        f"{w}x{h} (copied), {report.existing} done before; copies in {output}"
    )
