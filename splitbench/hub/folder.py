"""Reading and writing the parts of a hub dataset folder: parquet tables and card configs.

Parquet files carry the ``datasets`` feature description in their schema metadata, so
``datasets.load_dataset`` restores class labels; splitbench reads them with pyarrow and
checks every column it relies on. The card's YAML ``configs:`` is the one index of which
file holds which config and split, for ``datasets`` and for splitbench alike.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from splitbench.errors import DataError
from splitbench.results.io import atomic_path

if TYPE_CHECKING:
    import datasets

SplitFiles = Mapping[str, Sequence[str]]
"""Split name → data files (relative POSIX paths) of one config."""


def write_parquet(path: Path, table: pa.Table, features: datasets.Features) -> None:
    """Write ``table`` as parquet with ``features`` recorded for ``datasets``.

    The file is written to a temporary name and renamed, so a folder never holds half a file.
    """
    schema = features.arrow_schema
    table = table.select(schema.names).cast(schema)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", row_group_size=_row_group_rows(table))


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name when the message is empty."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def features_of(columns: Mapping[str, pa.DataType]) -> datasets.Features:
    """The ``datasets`` features of plain arrow columns (no class labels)."""
    from datasets import Features

    return Features.from_arrow_schema(pa.schema(columns))


def _row_group_rows(table: pa.Table) -> int:
    """Rows per row group so that one group holds about 32 MB."""
    per_row = max(1, int(table.nbytes) // max(1, int(table.num_rows)))
    return max(1024, (32 << 20) // per_row)


def read_parquet(paths: Sequence[Path], columns: Mapping[str, pa.DataType]) -> pa.Table:
    """Read and concatenate parquet files, checking that ``columns`` have their types.

    Raises:
        DataError: naming the file and the missing or mistyped column.
    """
    tables = []
    for p in paths:
        if not p.is_file():
            raise DataError(f"{p}: data file is missing")
        try:
            schema = pq.read_schema(p)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"{p}: not a readable parquet file ({exc})") from None
        for name, want in columns.items():
            if name not in schema.names:
                raise DataError(f"{p}: column {name!r} is missing (expected {want})")
            got = schema.field(name).type
            if not same_type(got, want):
                raise DataError(f"{p}: column {name!r} has type {got}, expected {want}")
        tables.append(pq.read_table(p, columns=list(columns), memory_map=True))
    if not tables:
        return pa.table({n: pa.array([], type=t) for n, t in columns.items()})
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def same_type(got: pa.DataType, want: pa.DataType) -> bool:
    """Type equality that ignores list item names (parquet renames ``item`` to ``element``)."""
    if pa.types.is_fixed_size_list(want):
        return (
            pa.types.is_fixed_size_list(got)
            and got.list_size == want.list_size
            and same_type(got.value_type, want.value_type)
        )
    if pa.types.is_list(want):
        return pa.types.is_list(got) and same_type(got.value_type, want.value_type)
    return bool(got.equals(want))


def configs_card_field(configs: Mapping[str, SplitFiles]) -> list[dict[str, Any]]:
    """The card's YAML ``configs:`` list for config → split → files (sorted by config)."""
    from datasets.utils.metadata import MetadataConfigs

    out: dict[str, dict[str, Any]] = {}
    for name, splits in configs.items():
        out[name] = {
            "data_files": [
                {"split": split, "path": files[0] if len(files) == 1 else list(files)}
                for split, files in splits.items()
            ]
        }
    holder: dict[str, Any] = {}
    MetadataConfigs(out).to_dataset_card_data(holder)  # type: ignore[arg-type]
    return list(holder[MetadataConfigs.FIELD_NAME])


def read_card_configs(folder: Path) -> dict[str, dict[str, list[str]]]:
    """Config → split → data files, from the YAML ``configs:`` of ``folder/README.md``.

    Raises:
        DataError: when the card is missing or its YAML is not a valid ``configs:`` list.
    """
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    readme = folder / "README.md"
    if not readme.is_file():
        raise DataError(f"{readme}: dataset card is missing (it declares the configs)")
    try:
        card = DatasetCard.load(readme)
        parsed = MetadataConfigs.from_dataset_card_data(card.data)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{readme}: invalid card metadata ({first_line(exc)})") from None
    out: dict[str, dict[str, list[str]]] = {}
    for name, cfg in parsed.items():
        splits: dict[str, list[str]] = {}
        for item in cfg.get("data_files") or []:
            if isinstance(item, dict):
                p = item["path"]
                splits[item["split"]] = [p] if isinstance(p, str) else list(p)
        out[name] = splits
    return out


def config_files(
    folder: Path, configs: Mapping[str, Mapping[str, Sequence[str]]], config: str, split: str
) -> list[Path]:
    """The files of ``config``/``split``.

    Raises:
        DataError: naming the missing config or split.
    """
    readme = folder / "README.md"
    if config not in configs:
        have = ", ".join(sorted(configs)) or "none"
        raise DataError(f"{readme}: config {config!r} is missing from the card (has {have})")
    if split not in configs[config]:
        raise DataError(f"{readme}: config {config!r} has no {split!r} split")
    return [folder / f for f in configs[config][split]]


def read_json(path: Path, schema: str) -> dict[str, Any]:
    """Read a metadata JSON file and check its ``format`` field.

    Raises:
        DataError: if missing, malformed or of another format.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file is missing") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(raw, dict) or raw.get("format") != schema:
        got = raw.get("format") if isinstance(raw, dict) else None
        raise DataError(f"{path}: format is {got!r}, expected {schema!r}")
    return raw


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write sorted, indented JSON with a final newline (deterministic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class WrittenFolder:
    """What a writer produced.

    Attributes:
        path: The folder.
        files: Relative paths of every file written, sorted.
        bytes: Their total size.
    """

    path: Path
    files: tuple[str, ...]
    bytes: int


def prepare_out(out: Path, marker: str) -> None:
    """Make ``out`` an empty folder, refusing to clear one that is not ours.

    Raises:
        DataError: if ``out`` holds files but no ``marker``.
    """
    if out.exists():
        if not out.is_dir():
            raise DataError(f"{out}: exists and is not a folder")
        entries = [p for p in out.iterdir() if p.name != ".cache"]
        if entries and not (out / marker).is_file():
            raise DataError(
                f"{out}: folder is not empty and holds no {marker}; choose an empty --local-dir"
            )
        for p in entries:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    out.mkdir(parents=True, exist_ok=True)


def folder_files(folder: Path) -> list[str]:
    """Relative POSIX paths of a folder's files, sorted (dot files and folders excluded)."""
    out = []
    for p in folder.rglob("*"):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and not any(part.startswith(".") for part in rel.split("/")):
            out.append(rel)
    return sorted(out)


def written(out: Path) -> WrittenFolder:
    """Describe the files under ``out`` (dot files excluded)."""
    files = folder_files(out)
    return WrittenFolder(out, tuple(files), sum((out / f).stat().st_size for f in files))
