"""Unit results and leaderboards as a Hub dataset, the lm-eval way.

Folder (one dataset repository that grows by one run per push)::

    README.md                           card: configs, runs, the latest leaderboard
    splitbench-results.json             format marker
    data/<benchmark>-<subset>/<run>.parquet   one row per unit result of that run
    leaderboards/<run>.md               the leaderboard rendered from that run's results

Each benchmark subset is one config; its splits are the runs that have results for it
(named by run id, a UTC timestamp such as ``2026_04_01T12_00_00``) plus ``latest``, which
points at the newest run. Rows keep the full :class:`UnitResult` JSON, so splitbench reads
them back losslessly; flat columns are there for ``datasets`` users.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import ValidationError

from splitbench.errors import ConfigError, DataError
from splitbench.hub import cards
from splitbench.hub.folder import (
    WrittenFolder,
    config_files,
    configs_card_field,
    features_of,
    read_card_configs,
    read_json,
    read_parquet,
    write_json,
    write_parquet,
    written,
)
from splitbench.hub.source import resolve_folder
from splitbench.results.io import schema_error
from splitbench.results.schema import SCHEMA_VERSION, UnitResult

FORMAT = "splitbench.hub.results/1"
MARKER = "splitbench-results.json"
LATEST = "latest"
_RUN_ID = re.compile(r"^[A-Za-z0-9]\w*$")
_DATA_FILE = re.compile(r"^data/(?P<config>[^/]+)/(?P<run>[A-Za-z0-9]\w*)\.parquet$")

_S, _I, _F, _B = pa.string(), pa.int64(), pa.float64(), pa.bool_()
RESULT_COLUMNS: dict[str, pa.DataType] = {
    "method": _S,
    "method_version": _S,
    "config_hash": _S,
    "shots": _I,
    "benchmark": _S,
    "benchmark_version": _S,
    "benchmark_revision": _S,
    "simulation": _B,
    "subset": _S,
    "target": _S,
    "target_index": _I,
    "target_key": _S,
    "k": _I,
    "seed": _I,
    "protocol": _S,
    "store_key": _S,
    "generality": _F,
    "locality": _F,
    "mean": _F,
    "equivalent_correct": _I,
    "equivalent_total": _I,
    "unrelated_correct_edited": _I,
    "unrelated_correct_original": _I,
    "unrelated_changed": _I,
    "unrelated_total": _I,
    "date": _S,
    "result_json": _S,
}


def config_name(benchmark: str, subset: str) -> str:
    """Config of a benchmark subset, e.g. ``ssv2-split-A``."""
    return f"{benchmark}-{subset}"


def run_id_of(results: Sequence[UnitResult]) -> str:
    """A run id from the newest result date (UTC), e.g. ``2026_04_01T12_00_00``.

    Deterministic: the same results give the same id.
    """
    newest = max(dt.datetime.fromisoformat(r.environment.date) for r in results)
    if newest.tzinfo is not None:
        newest = newest.astimezone(dt.UTC)
    return newest.strftime("%Y_%m_%dT%H_%M_%S")


def _row(r: UnitResult) -> dict[str, Any]:
    u, c, m = r.unit, r.counts, r.metrics
    return {
        "method": u.method,
        "method_version": u.method_version,
        "config_hash": u.config_hash,
        "shots": u.shots,
        "benchmark": u.benchmark,
        "benchmark_version": u.benchmark_version,
        "benchmark_revision": u.benchmark_revision,
        "simulation": u.simulation,
        "subset": u.subset,
        "target": u.target,
        "target_index": u.target_index,
        "target_key": u.target_key,
        "k": u.k,
        "seed": u.seed,
        "protocol": r.protocol,
        "store_key": r.features.store_key,
        "generality": m.generality,
        "locality": m.locality,
        "mean": m.mean,
        **c.model_dump(),
        "date": r.environment.date,
        "result_json": r.model_dump_json(),
    }


def _sort_key(r: UnitResult) -> tuple[Any, ...]:
    u = r.unit
    return (u.method, u.config_hash, u.target_index, u.seed)


def write_results_folder(
    results: Sequence[UnitResult],
    out: Path,
    repo_id: str,
    *,
    run_id: str | None = None,
    existing: Iterable[str] = (),
    license: str | None = None,
) -> WrittenFolder:
    """Add one run of ``results`` to a results folder and regenerate its card.

    Args:
        results: Unit results (e.g. :func:`splitbench.results.io.load_results`).
        out: The folder; earlier runs already in it are kept and listed in the card.
        repo_id: ``ORG/NAME`` used in the card's snippets.
        run_id: Split name of this run; default :func:`run_id_of` ``results``.
        existing: Files the repository already holds elsewhere (e.g. on the Hub), so the
            card lists their runs too.
        license: Card licence id (default ``unknown``: the publisher states none).

    Raises:
        ConfigError: for no results or a run id that is not a valid split name.
        DataError: when ``out`` holds files but is not a results folder.
    """
    from splitbench.results.aggregate import aggregate
    from splitbench.results.render import render_leaderboard

    if not results:
        raise ConfigError("no unit results to publish")
    run = run_id or run_id_of(results)
    if not _RUN_ID.match(run) or run == LATEST:
        raise ConfigError(f"run id {run!r}: expected letters, digits and '_' (and not 'latest')")
    if out.exists() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise DataError(f"{out}: folder is not empty and holds no {MARKER}; choose another")
    out.mkdir(parents=True, exist_ok=True)
    features = features_of(RESULT_COLUMNS)
    groups: dict[str, list[UnitResult]] = {}
    for r in results:
        groups.setdefault(config_name(r.unit.benchmark, r.unit.subset), []).append(r)
    for cfg, rs in sorted(groups.items()):
        rows = [_row(r) for r in sorted(rs, key=_sort_key)]
        table = pa.table(
            {n: pa.array([row[n] for row in rows], t) for n, t in RESULT_COLUMNS.items()}
        )
        write_parquet(out / "data" / cfg / f"{run}.parquet", table, features)
    leaderboard = render_leaderboard(aggregate(list(results)))
    (out / "leaderboards").mkdir(exist_ok=True)
    (out / "leaderboards" / f"{run}.md").write_text(leaderboard, encoding="utf-8")
    write_json(out / MARKER, {"format": FORMAT})
    here = written(out).files
    runs = _runs_by_config(set(existing) | set(here))
    results_card(repo_id, runs, run, leaderboard, license, len(results), sorted(groups)).save(
        out / "README.md"
    )
    return written(out)


def _runs_by_config(files: Iterable[str]) -> dict[str, list[str]]:
    runs: dict[str, list[str]] = {}
    for f in files:
        m = _DATA_FILE.match(f)
        if m:
            runs.setdefault(m["config"], []).append(m["run"])
    return {c: sorted(set(r)) for c, r in sorted(runs.items())}


def results_layout(runs: Mapping[str, Sequence[str]]) -> dict[str, dict[str, list[str]]]:
    """Config → split → files: one split per run plus ``latest`` (the newest run)."""
    layout: dict[str, dict[str, list[str]]] = {}
    for cfg, rs in runs.items():
        splits = {r: [f"data/{cfg}/{r}.parquet"] for r in rs}
        splits[LATEST] = [f"data/{cfg}/{max(rs)}.parquet"]
        layout[cfg] = splits
    return layout


def results_card(
    repo_id: str,
    runs: Mapping[str, Sequence[str]],
    run: str,
    leaderboard: str,
    license: str | None,
    units: int,
    run_configs: Sequence[str],
) -> Any:
    """Render the results dataset's card."""
    all_runs = sorted({r for rs in runs.values() for r in rs}, reverse=True)
    data = cards.card_data(
        pretty_name=f"splitbench results: {repo_id}",
        license=license or "unknown",
        task_categories=["video-classification"],
        tags=["splitbench", "leaderboard", "evaluation-results", "category-splitting"],
        configs=configs_card_field(results_layout(runs)),
    )
    return cards.render_card(
        "results.md",
        data,
        repo_id=repo_id,
        run=run,
        units=units,
        run_configs=list(run_configs),
        runs=[{"id": r, "configs": [c for c, rs in runs.items() if r in rs]} for r in all_runs],
        configs=list(runs),
        leaderboard=leaderboard,
        license_given=license is not None,
        format=FORMAT,
        schema_version=SCHEMA_VERSION,
    )


def load_hub_results(
    spec: str | Path, split: str = LATEST, configs: Sequence[str] | None = None
) -> list[UnitResult]:
    """Unit results of one split (a run id, or ``latest``) from a results dataset.

    Args:
        spec: ``hf://ORG/NAME[@REVISION]`` or a local results folder.
        split: Run id or ``latest``.
        configs: Configs to read (default every config that has ``split``).

    Raises:
        DataError: one line naming the missing config, split, file or column, or the row
            whose result JSON does not validate.
    """
    where = resolve_folder(spec, MARKER, "results")
    read_json(where.path / MARKER, FORMAT)
    declared = read_card_configs(where.path)
    names = list(configs) if configs else [c for c, s in declared.items() if split in s]
    if not names:
        raise DataError(f"{where.path / 'README.md'}: no config has a split {split!r}")
    out: list[UnitResult] = []
    for cfg in names:
        for path in config_files(where.path, declared, cfg, split):
            column = read_parquet([path], RESULT_COLUMNS).column("result_json").to_pylist()
            for i, text in enumerate(column):
                try:
                    r = UnitResult.model_validate_json(text)
                except ValidationError as exc:
                    raise schema_error(f"{path}: row {i + 1}", exc) from None
                if r.schema_version != SCHEMA_VERSION:
                    raise DataError(
                        f"{path}: row {i + 1}: result schema {r.schema_version!r}, this "
                        f"splitbench reads {SCHEMA_VERSION!r}"
                    )
                out.append(r)
    return out
