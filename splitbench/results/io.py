"""Reading and writing unit results: one JSON file per unit, written atomically.

Layout::

    <output>/<benchmark>/<subset>/<method>/<config_hash>/<target_key>/seed<S>.json

A unit that raised leaves ``seed<S>.failed.json`` (with the error) instead; it is retried on
the next run and never read as a result.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from splitbench.atomic import atomic_path, atomic_write_text
from splitbench.errors import DataError
from splitbench.results.schema import SCHEMA_VERSION, UnitResult
from splitbench.results.validate import check_result, check_unique

M = TypeVar("M", bound=BaseModel)
__all__ = ["atomic_path", "atomic_write_text"]  # re-exported: callers import them from here


def unit_path(
    output: Path,
    benchmark: str,
    subset: str,
    method: str,
    config_hash: str,
    target_key: str,
    seed: int,
) -> Path:
    """Path of a unit's result file."""
    return output / benchmark / subset / method / config_hash / target_key / f"seed{seed}.json"


def failure_path(result_path: Path) -> Path:
    """Path of the failure record that goes with a result path."""
    return result_path.with_name(result_path.stem + ".failed.json")


def write_result(path: Path, result: UnitResult) -> None:
    """Write one unit result atomically and remove a stale failure record."""
    atomic_write_text(path, result.model_dump_json(indent=2) + "\n")
    failure_path(path).unlink(missing_ok=True)


def read_result(path: Path) -> UnitResult:
    """Read and validate one unit result (schema, and metrics recomputed from counts).

    Raises:
        DataError: naming the file and the first schema problem.
    """
    result = read_versioned(path, UnitResult, SCHEMA_VERSION, "result file", "result schema")
    check_result(result, path)
    return result


def read_versioned(path: Path, model: type[M], version: str, unreadable: str, schema: str) -> M:
    """Read a JSON file, check its ``schema_version`` and validate it as ``model``.

    Args:
        path: The file.
        model: The pydantic model to validate against.
        version: The schema version this splitbench reads.
        unreadable: What an unreadable file is called in the error (``result file``).
        schema: What the schema is called in the error (``result schema``).

    Raises:
        DataError: one line naming the file and the first problem.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: unreadable {unreadable} ({exc})") from None
    found = raw.get("schema_version") if isinstance(raw, dict) else None
    if found != version:
        raise DataError(f"{path}: {schema} {found!r}, this splitbench reads {version!r}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise schema_error(str(path), exc) from None


def schema_error(where: str, exc: ValidationError) -> DataError:
    """One-line DataError for the first problem of a failed result validation.

    Args:
        where: What was read (``<file>`` or ``<file>: row <i>``).
        exc: The validation error.
    """
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return DataError(f"{where}: field {loc!r}: {err['msg']}")


def iter_result_files(root: Path) -> Iterator[Path]:
    """All result files under ``root`` (failure records excluded), sorted."""
    for p in sorted(Path(root).rglob("seed*.json")):
        if not p.name.endswith(".failed.json"):
            yield p


def load_results(root: Path) -> list[UnitResult]:
    """Load every unit result under ``root``.

    Raises:
        DataError: if ``root`` does not exist or a file is malformed.
    """
    return read_results_folder(root)[1]


def read_results_folder(root: Path) -> tuple[list[Path], list[UnitResult]]:
    """Every result file under ``root`` (sorted) and its unit result.

    Raises:
        DataError: if ``root`` does not exist or a file is malformed.
    """
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: results folder does not exist")
    paths = list(iter_result_files(root))
    results = [read_result(p) for p in paths]
    check_unique(paths, results)
    return paths, results


def read_for_resume(path: Path) -> UnitResult:
    """Read a result that a resumed run may skip.

    Every kind of damage (unreadable, truncated, failing the schema, a future schema
    version, metrics that disagree with the counts) is treated the same way: refused with
    one line naming the file, never silently recomputed or counted as done.

    Raises:
        DataError: for a damaged result.
    """
    try:
        return read_result(path)
    except DataError as exc:
        raise DataError(
            f"{exc}; delete that file to recompute the unit, or rerun with "
            f"--overwrite-strategy always"
        ) from None
