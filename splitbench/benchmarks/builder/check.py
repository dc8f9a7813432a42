"""Compare a built benchmark with an official folder, file by file.

Two files *match* when they hold the same content: JSON files parse to equal objects (order
of keys and lists included), CSV files hold the same rows as sets with the same indices and
no repeats. Row order and byte identity are reported besides, as information.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from splitbench.benchmarks.builder.construct import BuiltBenchmark, BuiltTable
from splitbench.benchmarks.builder.writer import (
    SET_FILES,
    csv_text,
    labels_json,
    newline_of,
    scheme_json,
)
from splitbench.benchmarks.official import read_csv
from splitbench.errors import DataError


@dataclass(frozen=True)
class FileCheck:
    """One file's comparison.

    Attributes:
        path: Path relative to the benchmark folder.
        kind: ``group_scheme``, ``labels``, ``train``, ``val``, ``ft``, ``equivalent`` or
            ``unrelated``.
        rows: Rows (or entries) in the official file.
        matches: Same content (see the module docstring).
        same_order: Same row order.
        same_bytes: Byte-identical.
        detail: What differs, when something does.
    """

    path: str
    kind: str
    rows: int
    matches: bool
    same_order: bool
    same_bytes: bool
    detail: str = ""


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _json_check(path: Path, rel: str, kind: str, text: str) -> FileCheck:
    raw = _read_bytes(path)
    if raw is None:
        return FileCheck(rel, kind, 0, False, False, False, "missing from the official folder")
    try:
        official = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    built = json.loads(text)
    same = official == built
    ordered = same and json.dumps(official) == json.dumps(built)
    detail = ""
    if not same:
        if kind == "labels":
            diff = sorted(set(official.items()) ^ set(built.items()))
            detail = f"{len(diff)} entries differ, first {diff[0]!r}"
        else:
            detail = "content differs"
    return FileCheck(rel, kind, len(official), same, ordered, raw == text.encode(), detail)


def _csv_check(path: Path, rel: str, kind: str, table: BuiltTable) -> FileCheck:
    if not path.is_file():
        return FileCheck(rel, kind, 0, False, False, False, "missing from the official folder")
    raw = path.read_bytes()
    if raw == csv_text(table, newline_of(path.name)).encode():
        return FileCheck(rel, kind, len(table), True, True, True)
    videos, labels = read_csv(path)
    official = list(zip(videos.tolist(), labels.tolist(), strict=True))
    built = list(zip(table.videos.tolist(), table.labels.tolist(), strict=True))
    so, sb = set(official), set(built)
    same = so == sb and len(so) == len(official) and len(sb) == len(built)
    detail = ""
    if not same:
        only_o, only_b = sorted(so - sb), sorted(sb - so)
        detail = (
            f"{len(only_o)} rows only in the official file (first {only_o[:1]}), "
            f"{len(only_b)} only in the build (first {only_b[:1]})"
        )
    return FileCheck(
        rel,
        kind,
        len(official),
        same,
        same and official == built,
        False,
        detail,
    )


def compare(bench: BuiltBenchmark, official: Path) -> list[FileCheck]:
    """Compare every file of ``bench`` with the official folder (and list extra targets)."""
    out = [
        _json_check(
            official / "group_scheme.json", "group_scheme.json", "group_scheme", scheme_json(bench)
        )
    ]
    for s in bench.subsets.values():
        sdir = official / s.name
        out.append(
            _json_check(
                sdir / "labels.json", f"{s.name}/labels.json", "labels", labels_json(s.labels)
            )
        )
        for table in (s.train, s.val):
            name = "train" if table is s.train else "val"
            out.append(_csv_check(sdir / f"{name}.csv", f"{s.name}/{name}.csv", name, table))
        for t in s.targets:
            for fname, table in zip(SET_FILES, (t.ft, t.equivalent, t.unrelated), strict=True):
                rel = f"{s.name}/{t.name}/{fname}"
                out.append(_csv_check(sdir / t.name / fname, rel, fname.split("_")[0], table))
        names = {t.name for t in s.targets}
        if sdir.is_dir():
            for extra in sorted(p.name for p in sdir.iterdir() if p.is_dir()):
                if extra not in names:
                    out.append(
                        FileCheck(
                            f"{s.name}/{extra}/",
                            "target",
                            0,
                            False,
                            False,
                            False,
                            "official target folder the build does not have",
                        )
                    )
    return out


def summarise(name: str, checks: list[FileCheck]) -> list[str]:
    """Per-file summary lines: one per subset and file kind, then every mismatch."""
    lines = []
    groups: dict[tuple[str, str], list[FileCheck]] = {}
    for c in checks:
        subset = c.path.split("/")[0] if "/" in c.path else "-"
        groups.setdefault((subset, c.kind), []).append(c)
    for (subset, kind), cs in groups.items():
        ok = sum(c.matches for c in cs)
        rows = sum(c.rows for c in cs)
        order = sum(c.same_order for c in cs)
        same_bytes = sum(c.same_bytes for c in cs)
        where = f"{name}/{subset}" if subset != "-" else name
        what = cs[0].path.split("/")[-1] if len(cs) == 1 else f"{kind} sets"
        unit = "entries" if kind in ("group_scheme", "labels") else "rows"
        lines.append(
            f"{'ok ' if ok == len(cs) else 'BAD'} {where} {what}: {ok}/{len(cs)} files match "
            f"({rows} {unit}; {order} in the same order, {same_bytes} byte-identical)"
        )
    for c in checks:
        if not c.matches:
            lines.append(f"    differs: {name}/{c.path}: {c.detail}")
    return lines
