"""Load a benchmark folder in the official layout (a built one, or an official one) by path.

``--benchmark PATH`` accepts any folder holding ``group_scheme.json``: the official reader
validates it like the official benchmarks. A folder named like an official benchmark
(``SSv2-Split``, ``FineGym-Split``: the official folder, or its rebuild by
``build-benchmark --from-official``) *is* that benchmark and gets its shipped modifier table
(the builder refuses these names for new benchmarks); any other folder is named after itself
and uses the ``modifiers.csv`` the builder copied into it, or derived modifiers.
"""

from __future__ import annotations

from pathlib import Path

from splitbench.benchmarks.builder.writer import MODIFIERS_FILE
from splitbench.benchmarks.model import Benchmark, slugify
from splitbench.benchmarks.modifiers import ModifierTable, official_modifiers
from splitbench.benchmarks.official import (
    FINEGYM_SPLIT,
    SSV2_SPLIT,
    OfficialSpec,
    read_official,
)

OFFICIAL = (SSV2_SPLIT, FINEGYM_SPLIT)


def is_layout_folder(path: Path) -> bool:
    """Whether ``path`` is a benchmark folder in the official layout."""
    return path.is_dir() and (path / "group_scheme.json").is_file()


def load_layout_folder(path: Path, subsets: list[str] | None = None) -> Benchmark:
    """Read and validate the benchmark folder ``path``.

    Raises:
        DataError: on anything the official reader rejects, or a broken modifier table.
    """
    path = path.resolve()
    for spec in OFFICIAL:
        if path.name == spec.folder:
            mods, source, types = official_modifiers(spec.name)
            return read_official(
                spec,
                path,
                subsets=subsets,
                modifiers=mods,
                modifier_source=source,
                split_types=types,
            )
    spec = OfficialSpec(slugify(path.name, max_len=64), path.name, path.name)
    table_path = path / MODIFIERS_FILE
    if table_path.is_file():
        table = ModifierTable.read(table_path)
        return read_official(
            spec,
            path,
            subsets=subsets,
            modifiers=table.lookup,
            modifier_source=table.describe(spec.name),
        )
    return read_official(spec, path, subsets=subsets)
