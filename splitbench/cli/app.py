"""The Typer application: ``splitbench run | info | list | leaderboard | rescore | ...``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from splitbench.cli import options as opt
from splitbench.cli.build import build_benchmark as _build_benchmark
from splitbench.cli.common import err, parse_subsets
from splitbench.cli.extract import extract as _extract_command
from splitbench.cli.grid import grid as _grid
from splitbench.cli.hub import hub_app
from splitbench.cli.leaderboard import leaderboard_app
from splitbench.cli.prepare import prepare_videos
from splitbench.cli.rescore import rescore
from splitbench.cli.run import run
from splitbench.cli.simulate import simulate
from splitbench.cli.vlm import vlm_app
from splitbench.errors import SplitbenchError

app = typer.Typer(
    name="splitbench",
    help="Benchmark harness for category splitting of video classifiers (Liu & Doughty, "
    "ICLR 2026).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


app.command("run")(run)


@app.command()
def info(
    benchmark: Annotated[str, typer.Argument(help="synthetic | ssv2-split | finegym-split")],
    annotations: opt.Annotations = None,
    subset: opt.Subset = "all",
    targets: Annotated[
        bool, typer.Option("--targets/--no-targets", help="Print the per-target table.")
    ] = True,
) -> None:
    """Print Table 1 statistics, per-target sizes and data findings of a benchmark."""
    from splitbench.benchmarks.stats import render_info
    from splitbench.catalog import BENCHMARKS, load_benchmark

    bench = load_benchmark(benchmark, annotations)
    subsets = parse_subsets(subset, list(bench.subsets))
    print(render_info(bench, subsets, per_target=targets))
    name = benchmark.partition(":")[0]  # synthetic:KNOB=VALUE carries simulation knobs
    entry = BENCHMARKS.get(name) if name in BENCHMARKS else None  # hub ids too
    if entry is not None and entry.extra_info is not None:
        print(entry.extra_info(subsets))


@app.command("list")
def list_(
    what: Annotated[str, typer.Argument(help="methods | benchmarks | text-encoders")],
) -> None:
    """List registered methods, benchmarks or text encoders and where each comes from."""
    from tabulate import tabulate

    from splitbench.errors import ConfigError

    if what == "methods":
        from splitbench.cli.method_listing import HEADERS, method_rows

        rows = [[c.replace("|", "\\|") for c in row] for row in method_rows()]  # markdown
        print(tabulate(rows, headers=list(HEADERS), tablefmt="github"))
    elif what == "benchmarks":
        from splitbench.catalog import BENCHMARKS

        rows = [
            [
                n,
                "yes" if BENCHMARKS.get(n).simulation else "no",
                "yes" if BENCHMARKS.get(n).needs_annotations else "no",
                BENCHMARKS.get(n).description,
            ]
            for n in BENCHMARKS.names()
        ]
        print(
            tabulate(
                rows,
                headers=["benchmark", "simulation", "needs annotations", "description"],
                tablefmt="github",
            )
        )
    elif what in ("text-encoders", "text_encoders"):
        from splitbench.models.text import TEXT_ENCODERS

        rows = [[n, TEXT_ENCODERS.origin(n)] for n in TEXT_ENCODERS.names()]
        print(tabulate(rows, headers=["text encoder", "from"], tablefmt="github"))
    else:
        raise ConfigError(f"list {what!r}: expected methods, benchmarks or text-encoders")


# Commands that live in their own modules (registered in the order --help lists them).
app.command("simulate")(simulate)
app.command("extract")(_extract_command)
app.command("grid")(_grid)
app.command("rescore")(rescore)
app.command("build-benchmark")(_build_benchmark)
app.command("prepare-videos")(prepare_videos)
app.add_typer(leaderboard_app, name="leaderboard")
app.add_typer(hub_app, name="hub")
app.add_typer(vlm_app, name="vlm")


INTERRUPTED = "interrupted: finished units are saved; rerun the same command to resume"


def _click_types(name: str) -> tuple[type[BaseException], ...]:
    """``name`` from every click the installed Typer may use: its own copy and/or click.

    Typer >= 0.2x vendors click as ``typer._click``; older ones use the click package. An
    exception is one of them, so checking only one misses usage errors on the other.
    """
    found: list[type[BaseException]] = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            mod = __import__(module, fromlist=[name])
        except ImportError:
            continue
        cls = getattr(mod, name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException) and cls not in found:
            found.append(cls)
    return tuple(found)


def main() -> None:
    """Console entry point: one-line errors for bad input, no tracebacks.

    Usage mistakes print click's usage line and one ``Error:`` line (exit 2); bare
    ``splitbench`` prints the help; bad input prints ``error: ...`` (exit 2); Ctrl-C says
    what was kept (exit 130).
    """
    click_error = _click_types("ClickException")
    no_args_help = _click_types("NoArgsIsHelpError")
    interrupts: tuple[type[BaseException], ...] = (KeyboardInterrupt, typer.Abort)
    interrupts += _click_types("Abort")
    try:
        code = app(standalone_mode=False)
    except SplitbenchError as exc:
        err(f"error: {exc}")
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except interrupts:  # older Typer turns Ctrl-C into Abort
        err(INTERRUPTED)
        sys.exit(130)
    except OSError as exc:  # unreadable, looping or unwritable paths, a full disk
        from splitbench.cli.validate import os_error_line

        err(f"error: {os_error_line(exc)}")
        sys.exit(2)
    except click_error as exc:
        exc.show()  # type: ignore[attr-defined]
        sys.exit(0 if isinstance(exc, no_args_help) else exc.exit_code)  # type: ignore[attr-defined]
    if code == 130:  # Typer >= 0.2x turns Ctrl-C into Exit(130), returned in this mode
        err(INTERRUPTED)
    if isinstance(code, int) and code:
        sys.exit(code)
