"""``splitbench leaderboard build``: run every registered method and regenerate the board."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from splitbench.cli import options as opt
from splitbench.cli.common import err, parse_ints
from splitbench.cli.leaderboard_common import Replicates
from splitbench.errors import ConfigError

if TYPE_CHECKING:
    from splitbench.boards import BuiltBoard


def build(
    output: Annotated[
        Path, typer.Option("--output", help="Folder of the committed leaderboard files.")
    ] = Path("leaderboard"),
    results: Annotated[
        Path,
        typer.Option("--results", help="Where the unit results go (missing units are run)."),
    ] = Path("splitbench-results/leaderboard"),
    readme: Annotated[
        str,
        typer.Option("--readme", help="README whose marked region is updated ('' for none)."),
    ] = "README.md",
    seeds: Annotated[str, typer.Option("--seeds", help="Comma-separated seeds.")] = "0,1,2",
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Write nothing; exit 1 if the files on disk differ from a rebuild."
        ),
    ] = False,
    plots: Annotated[
        Path | None, typer.Option("--plots", help="Also write the PNG figures to this folder.")
    ] = None,
    replicates: Replicates = 1000,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    jobs: opt.Jobs = None,
) -> None:
    """Run every registered method on the synthetic benchmark and render the leaderboards.

    Missing units are run (default config plus the variants each method declares), with
    per-video logs; finished ones are reused. The files are regenerated idempotently.
    """
    import difflib

    from splitbench.boards import build_board, write_changed
    from splitbench.progress import silence
    from splitbench.protocol import load_methods
    from splitbench.protocol.parallel import default_jobs
    from splitbench.results.board import replace_region

    if quiet:
        silence()
    seed_list = list(dict.fromkeys(parse_ints(seeds, "--seeds")))
    built = build_board(
        load_methods(),
        results,
        seed_list,
        replicates=replicates,
        quiet=quiet,
        log=err,
        jobs=jobs if jobs is not None else default_jobs(),
    )
    board = built.board
    targets: dict[Path, str] = {output / n: text for n, text in board.files.items()}
    if readme:
        path = Path(readme)
        if not path.is_file():
            raise ConfigError(f"{path}: README not found (pass --readme '' to skip it)")
        old = path.read_text(encoding="utf-8")
        targets[path] = replace_region(old, board.readme, where=str(path))
    if check:
        stale = []
        for path, text in targets.items():
            old = path.read_text(encoding="utf-8") if path.is_file() else ""
            if old != text:
                stale.append(path)
                diff = difflib.unified_diff(
                    old.splitlines(), text.splitlines(), str(path), "rebuilt", lineterm="", n=0
                )
                err("\n".join(list(diff)[:20]))
        if stale:
            err(f"leaderboard differs from a rebuild: {', '.join(map(str, stale))}")
            raise typer.Exit(1)
        err(f"leaderboard up to date: {len(targets)} files identical to a rebuild")
    else:
        changed = write_changed(targets)
        err(
            f"leaderboard: {len(built.entries)} method configs, {len(built.units)} units; "
            f"{len(changed)} of {len(targets)} files changed"
            + (f" ({', '.join(map(str, changed))})" if changed else "")
        )
    if plots is not None:
        _plots(plots, built)


def _plots(folder: Path, built: BuiltBoard) -> None:
    from splitbench.results.breakdown import by_k, by_split_type, split_type_table
    from splitbench.results.frame import target_means
    from splitbench.results.plots import bars_by_group, scatter_generality_locality

    labels = {(e.method, e.config_hash): e.label for e in built.entries}
    order = sorted(set(labels.values()))
    tm = target_means(built.units, labels)
    name = built.benchmark.name
    written = [
        scatter_generality_locality(
            built.cells, folder / f"{name}-scatter.png", ci=built.ci, labels=labels
        ),
        bars_by_group(
            by_split_type(tm, split_type_table(built.benchmark)),
            "split_type",
            folder / f"{name}-split-types.png",
            labels_order=order,
        ),
        bars_by_group(by_k(tm), "k", folder / f"{name}-k.png", labels_order=order),
    ]
    err(f"wrote {', '.join(map(str, written))}")
