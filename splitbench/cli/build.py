"""``splitbench build-benchmark``: build a benchmark folder, or rebuild the official ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from splitbench.cli import options as opt
from splitbench.cli.common import err

_IN = opt.in_panel("Inputs")


def build_benchmark(
    name: Annotated[
        str | None,
        typer.Argument(
            help="Benchmark (folder) name, e.g. MyData-Split. Not with --from-official."
        ),
    ] = None,
    labels: Annotated[
        Path | None, _IN("--labels", help="Fine labels in the dataset's order.")
    ] = None,
    train: Annotated[Path | None, _IN("--train", help="Train videos with fine labels.")] = None,
    val: Annotated[Path | None, _IN("--val", help="Val videos with fine labels.")] = None,
    groups: Annotated[
        Path | None,
        _IN(
            "--groups",
            help="Group scheme (group_scheme.json shape); without A/B a partition is proposed.",
        ),
    ] = None,
    fmt: Annotated[str, _IN("--format", help="Input format: simple, ssv2 or gym288.")] = "simple",
    exclude: Annotated[
        Path | None, _IN("--exclude", help="JSON of labels and videos to drop first.")
    ] = None,
    modifiers: Annotated[
        Path | None,
        _IN(
            "--modifiers",
            help="Modifier table (group,fine_label,modifier,source) copied into the folder.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of a proposed partition.")] = 0,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where <name>/ is written (default: here)."),
    ] = None,
    from_official: Annotated[
        Path | None,
        typer.Option(
            "--from-official",
            help="Recover the inputs of every benchmark folder in this official 'Datasets' "
            "folder and rebuild it.",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="With --from-official: compare every rebuilt file with the official one; "
            "exit 1 unless all match.",
        ),
    ] = False,
) -> None:
    """Build a benchmark folder in the official layout from fine-labelled video lists.

    Run 'splitbench info PATH/<name>' on the result; every command takes the folder as
    --benchmark. See docs/building-benchmarks.md.
    """
    from splitbench.errors import ConfigError

    if from_official is not None:
        if name or any(x is not None for x in (labels, train, val, groups, exclude, modifiers)):
            raise ConfigError("--from-official takes no NAME and no input files")
        if not check and output is None:
            raise ConfigError("--from-official needs --check, --output DIR or both")
        _rebuild(from_official, output, check)
        return
    if check:
        raise ConfigError("--check compares with official files; use it with --from-official")
    missing = [
        opt
        for opt, v in (
            ("NAME", name),
            ("--labels", labels),
            ("--train", train),
            ("--val", val),
            ("--groups", groups),
        )
        if v is None
    ]
    if missing:
        raise ConfigError(f"build-benchmark needs {', '.join(missing)} (or --from-official DIR)")
    from splitbench.benchmarks.builder.pipeline import build_from_files

    assert name and labels and train and val and groups
    report = build_from_files(
        name,
        labels=labels,
        train=train,
        val=val,
        groups=groups,
        fmt=fmt,
        exclude=exclude,
        modifiers=modifiers,
        seed=seed,
        output=output or Path("."),
    )
    bench = report.benchmark
    how = f"proposed (seed {seed})" if report.proposed else f"given in {groups}"
    print(f"built {report.folder}")
    for s in bench.subsets.values():
        print(
            f"  {s.name}: {s.num_labels} base labels, {len(s.targets)} split targets, "
            f"{len(s.train)} train and {len(s.val)} val videos"
        )
    print(f"partition {how}:")
    for line in report.balance.lines():
        print(f"  {line}")
    for line in report.built.dropped:
        print(f"dropped: {line}")
    for line in report.built.findings:
        print(f"finding: {line}")
    print(f"read back by the official reader: ok ({bench.revision})")


def _rebuild(root: Path, output: Path | None, check: bool) -> None:
    from splitbench.benchmarks.builder.check import summarise
    from splitbench.benchmarks.builder.pipeline import rebuild_official

    results = rebuild_official(root, output)
    for r in results:
        if output is not None:
            print(f"rebuilt {output / r.name}")
        if check:
            for line in summarise(r.name, r.checks):
                print(line)
        for line in r.balance.lines():
            print(f"balance: {r.name}: {line}")
        for line in r.built.findings:
            print(f"finding: {r.name}: {line}")
    if check:
        total = sum(len(r.checks) for r in results)
        bad = sum(not c.matches for r in results for c in r.checks)
        err(f"{total - bad}/{total} files match in {', '.join(r.name for r in results)}")
        if bad:
            raise typer.Exit(1)
