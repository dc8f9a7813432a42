"""Write a built benchmark in the official Category-Splitting layout.

Byte format follows the official files: JSON indented by 4 (``group_scheme.json``) or 2
(``labels.json``) without a final newline; CSV rows ``video,label`` without a header, ending
in CRLF, except ``unrelated_set.csv``, whose rows end in LF (as in the official files; the
reader accepts either). Next to them the builder writes ``splitbench-build.json`` (what
was built from what, the exclusions applied and the findings) and, when given, the modifier
table as ``modifiers.csv``; the official reader ignores both.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from splitbench.atomic import atomic_write_text
from splitbench.benchmarks.builder.construct import BuiltBenchmark, BuiltTable
from splitbench.errors import DataError

MARKER = "splitbench-build.json"
MODIFIERS_FILE = "modifiers.csv"
SET_FILES = ("ft_set.csv", "equivalent_set.csv", "unrelated_set.csv")
BUILD_FORMAT = "splitbench.build/1"


def csv_text(table: BuiltTable, newline: str = "\r\n") -> str:
    """``video,label`` rows, each ending in ``newline``."""
    return "".join(
        f"{v},{int(lab)}{newline}" for v, lab in zip(table.videos, table.labels, strict=True)
    )


def newline_of(fname: str) -> str:
    """The official files' line ending for a CSV file name."""
    return "\n" if fname == "unrelated_set.csv" else "\r\n"


def scheme_json(bench: BuiltBenchmark) -> str:
    """``group_scheme.json`` text."""
    raw = {
        "group_scheme": {g: list(m) for g, m in bench.group_scheme.items()},
        **{s: list(groups) for s, groups in bench.partition.items()},
    }
    return json.dumps(raw, indent=4)


def labels_json(labels: Mapping[str, int]) -> str:
    """``labels.json`` text."""
    return json.dumps(dict(labels), indent=2)


def file_texts(bench: BuiltBenchmark) -> dict[str, str]:
    """Relative path → text of every official-layout file of ``bench``."""
    out = {"group_scheme.json": scheme_json(bench)}
    for s in bench.subsets.values():
        out[f"{s.name}/labels.json"] = labels_json(s.labels)
        out[f"{s.name}/train.csv"] = csv_text(s.train)
        out[f"{s.name}/val.csv"] = csv_text(s.val)
        for t in s.targets:
            for fname, table in zip(SET_FILES, (t.ft, t.equivalent, t.unrelated), strict=True):
                out[f"{s.name}/{t.name}/{fname}"] = csv_text(table, newline_of(fname))
    return out


def write_built(
    bench: BuiltBenchmark,
    out: Path,
    *,
    provenance: Mapping[str, Any] | None = None,
    modifiers: Path | None = None,
) -> Path:
    """Write ``bench`` as ``out/<name>/`` and return that folder.

    A folder written before by the builder (it holds ``splitbench-build.json``) is replaced;
    any other non-empty folder is refused.

    Raises:
        DataError: if the destination holds files the builder did not write.
    """
    folder = out / bench.name
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).is_file():
            raise DataError(
                f"{folder}: folder is not empty and holds no {MARKER}; choose another --output"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # The marker goes first, so an interrupted build leaves a folder the next build may replace.
    atomic_write_text(folder / MARKER, json.dumps({"format": BUILD_FORMAT, "complete": False}))
    for rel, text in file_texts(bench).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    if modifiers is not None:
        shutil.copyfile(modifiers, folder / MODIFIERS_FILE)
    meta = {
        "format": BUILD_FORMAT,
        "name": bench.name,
        "complete": True,
        "targets": {s: len(t) for s, t in bench.partition.items()},
        "dropped": list(bench.dropped),
        "findings": list(bench.findings),
        "inputs": dict(provenance or {}),
    }
    atomic_write_text(folder / MARKER, json.dumps(meta, indent=2) + "\n")
    return folder
