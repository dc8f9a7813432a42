"""Modifier phrases and split types: the words that distinguish a fine label from its siblings.

The paper's modifier files were never published. splitbench ships its own reviewed tables in
``splitbench/benchmarks/data/``:

* ``<benchmark>-modifiers.csv`` with columns ``group, fine_label, modifier, source``: one row
  per official fine label (174 for SSv2-Split, 285 for FineGym-Split), in group-scheme order.
  ``source`` is ``derived`` when the modifier is exactly what :func:`derive_modifiers`
  (``derived-v1``) gives for the group, and ``curated`` when a person rewrote it.
* ``<benchmark>-split-types.csv`` with columns ``subset, group, split_types``: the split
  type(s) of every split target (``;``-separated, from :data:`SPLIT_TYPES`).

:func:`official_modifiers` turns them into the lookup the official reader uses. A fine label
the table does not cover is an error naming the label, never a silent fallback.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from splitbench.core.hashing import sha256_hex
from splitbench.errors import DataError

DERIVED_SOURCE = "derived-v1 (longest common word prefix of the siblings removed)"
DATA_DIR = Path(__file__).resolve().parent / "data"
MODIFIER_COLUMNS = ("group", "fine_label", "modifier", "source")
SPLIT_TYPE_COLUMNS = ("subset", "group", "split_types")
ROW_SOURCES = ("derived", "curated")

#: The split-type vocabulary (paper-brief §9.6, extended for FineGym): tag → meaning.
SPLIT_TYPES: dict[str, str] = {
    "direction": "where the motion goes (left/right, up/down, towards/away, forward/backward)",
    "spatial relation or object": "where something ends up or what it interacts with "
    "(behind, into, onto, a slanted surface, something soft)",
    "object count": "how many things are involved",
    "intent or success": "pretending, trying and failing, or actually doing it",
    "manner or speed": "how it is done (slowly, upright, like a feather)",
    "outcome": "what happens as a result (it falls, breaks, keeps spinning)",
    "body or apparatus": "body shape or position (tucked, piked, stretched, free leg), landing "
    "or apparatus phase",
    "opposite action": "the subcategories are opposite actions (opening vs closing)",
    "rotation count": "number of turns, twists or saltos",
    "skill variant": "different named gymnastics elements of one family",
}

ModifierLookup = Callable[[str, Sequence[str]], tuple[str, ...]]

_SHIPPED = ("ssv2-split", "finegym-split")


def derive_modifiers(fine_labels: Sequence[str]) -> tuple[str, ...]:
    """Derive one modifier per label by removing the siblings' common word prefix.

    Args:
        fine_labels: The labels of one group, in group-scheme order.

    Returns:
        A modifier per label. A single-member group keeps its whole label.

    Example:
        >>> derive_modifiers(["Dropping something behind something",
        ...                   "Dropping something into something"])
        ('behind something', 'into something')
    """
    if len(fine_labels) < 2:
        return tuple(fine_labels)
    words = [label.split() for label in fine_labels]
    common = 0
    for column in zip(*words, strict=False):
        if all(w == column[0] for w in column):
            common += 1
        else:
            break
    for n in range(common, -1, -1):
        mods = tuple(" ".join(w[n:]).strip(" ,") for w in words)
        if all(mods) and len(set(mods)) == len(mods):
            return mods
    return tuple(fine_labels)


class MissingModifierError(DataError):
    """A fine label has no modifier in the table in use."""


@dataclass(frozen=True)
class ModifierRow:
    """One row of a modifier table."""

    group: str
    fine_label: str
    modifier: str
    source: str


@dataclass(frozen=True)
class ModifierTable:
    """A validated modifier table.

    Attributes:
        path: The CSV it was read from.
        rows: Rows in file order.
        sha256: Content hash of the file (first 12 hex digits).
    """

    path: Path
    rows: tuple[ModifierRow, ...]
    sha256: str

    @classmethod
    def read(cls, path: Path) -> ModifierTable:
        """Read and validate ``path``.

        Raises:
            DataError: naming the file and line of a malformed row, an empty modifier, a
                repeated label or modifiers that are not unique within a group.
        """
        data = _read_bytes(path)
        rows: list[ModifierRow] = []
        seen: dict[tuple[str, str], int] = {}
        sibling_mods: dict[tuple[str, str], int] = {}
        for line_no, rec in _csv_records(path, data, MODIFIER_COLUMNS):
            row = ModifierRow(*rec)
            if not row.group or not row.fine_label:
                raise DataError(f"{path}: line {line_no}: empty group or fine_label")
            if not row.modifier.strip():
                raise DataError(
                    f"{path}: line {line_no}: fine label {row.fine_label!r} has an empty modifier"
                )
            if row.source not in ROW_SOURCES:
                raise DataError(
                    f"{path}: line {line_no}: source {row.source!r}; expected one of "
                    f"{', '.join(ROW_SOURCES)}"
                )
            key = (row.group, row.fine_label)
            if key in seen:
                raise DataError(
                    f"{path}: line {line_no}: fine label {row.fine_label!r} of group "
                    f"{row.group!r} repeats line {seen[key]}"
                )
            seen[key] = line_no
            mkey = (row.group, row.modifier)
            if mkey in sibling_mods:
                raise DataError(
                    f"{path}: line {line_no}: modifier {row.modifier!r} of {row.fine_label!r} "
                    f"repeats line {sibling_mods[mkey]} of the same group {row.group!r}"
                )
            sibling_mods[mkey] = line_no
            rows.append(row)
        return cls(Path(path), tuple(rows), sha256_hex(data, 12))

    @cached_property
    def _index(self) -> dict[tuple[str, str], str]:
        return {(r.group, r.fine_label): r.modifier for r in self.rows}

    def groups(self) -> dict[str, tuple[ModifierRow, ...]]:
        """Group → its rows, in file order."""
        out: dict[str, list[ModifierRow]] = {}
        for r in self.rows:
            out.setdefault(r.group, []).append(r)
        return {g: tuple(rs) for g, rs in out.items()}

    def lookup(self, group: str, fine_labels: Sequence[str]) -> tuple[str, ...]:
        """Modifiers of ``fine_labels`` (members of ``group``), in the given order.

        Raises:
            MissingModifierError: naming the first label without a row.
        """
        out = []
        for label in fine_labels:
            mod = self._index.get((group, label))
            if mod is None:
                raise MissingModifierError(
                    f"{self.path}: fine label {label!r} (group {group!r}) has no modifier; add a "
                    f"row '{group},{label},<modifier>,curated' to the table"
                )
            out.append(mod)
        return tuple(out)

    def describe(self, name: str) -> str:
        """Source description recorded in the benchmark (counts of derived/curated rows)."""
        n_cur = sum(r.source == "curated" for r in self.rows)
        return (
            f"splitbench modifier table {name} sha256:{self.sha256} ({len(self.rows)} labels: "
            f"{len(self.rows) - n_cur} by rule derived-v1, {n_cur} curated by hand)"
        )


def read_split_types(path: Path) -> dict[tuple[str, str], tuple[str, ...]]:
    """Read a split-type table: ``(subset, group)`` → tags.

    Raises:
        DataError: naming the file and line of a malformed row or an unknown tag.
    """
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for line_no, rec in _csv_records(path, _read_bytes(path), SPLIT_TYPE_COLUMNS):
        subset, group, raw = rec
        tags = tuple(t.strip() for t in raw.split(";") if t.strip())
        if not tags:
            raise DataError(f"{path}: line {line_no}: target {group!r} has no split type")
        for t in tags:
            if t not in SPLIT_TYPES:
                raise DataError(
                    f"{path}: line {line_no}: unknown split type {t!r}; expected one of "
                    f"{', '.join(SPLIT_TYPES)}"
                )
        if (subset, group) in out:
            raise DataError(f"{path}: line {line_no}: target {group!r} of {subset} repeats")
        out[(subset, group)] = tags
    return out


def table_paths(benchmark: str) -> tuple[Path, Path]:
    """The shipped ``(modifier table, split-type table)`` of an official benchmark.

    Raises:
        DataError: for a benchmark without shipped tables.
    """
    if benchmark not in _SHIPPED:
        raise DataError(
            f"no shipped modifier table for benchmark {benchmark!r}; tables exist for "
            f"{', '.join(_SHIPPED)}"
        )
    return DATA_DIR / f"{benchmark}-modifiers.csv", DATA_DIR / f"{benchmark}-split-types.csv"


def official_modifiers(
    benchmark: str,
) -> tuple[ModifierLookup, str, dict[str, tuple[str, ...]]]:
    """Modifier lookup, its source description and split-type tags for an official benchmark.

    Returns:
        ``(lookup, source, split_types)``: ``lookup(group, labels)`` reads the shipped table
        and raises :class:`MissingModifierError` naming a label it does not cover;
        ``split_types`` maps a coarse group to its tags.
    """
    mod_path, types_path = table_paths(benchmark)
    table = ModifierTable.read(mod_path)
    types = read_split_types(types_path)
    by_group = {group: tags for (_subset, group), tags in types.items()}
    return table.lookup, table.describe(benchmark), by_group


def check_derived_rows(table: ModifierTable) -> list[str]:
    """Rows marked ``derived`` whose modifier is not what :func:`derive_modifiers` gives.

    Returns:
        One message per mismatch (empty when the table is consistent).
    """
    problems = []
    for rows in table.groups().values():
        derived = derive_modifiers([r.fine_label for r in rows])
        for r, d in zip(rows, derived, strict=True):
            if r.source == "derived" and r.modifier != d:
                problems.append(
                    f"{table.path.name}: {r.fine_label!r} is marked derived but the rule gives "
                    f"{d!r}, not {r.modifier!r}"
                )
    return problems


def coverage_problems(table: ModifierTable, group_scheme: Mapping[str, Sequence[str]]) -> list[str]:
    """Differences between the table and an official ``group_scheme`` (order included)."""
    problems = []
    groups = table.groups()
    for group, members in group_scheme.items():
        have = [r.fine_label for r in groups.get(group, ())]
        if have != list(members):
            missing = [m for m in members if m not in have]
            extra = [m for m in have if m not in members]
            problems.append(
                f"group {group!r}: missing {missing}, extra {extra}"
                if missing or extra
                else f"group {group!r}: rows are not in group-scheme order"
            )
    for group in groups:
        if group not in group_scheme:
            problems.append(f"group {group!r} is not in the group scheme")
    return problems


def _csv_records(
    path: Path, data: bytes, columns: Sequence[str]
) -> Iterator[tuple[int, list[str]]]:
    """``(line number, record)`` of a CSV with the given header; blank lines are skipped.

    Raises:
        DataError: naming the file and line of a wrong header or column count.
    """
    reader = csv.reader(data.decode("utf-8").splitlines())
    header = next(reader, None)
    if header is None or tuple(header) != tuple(columns):
        raise DataError(f"{path}: line 1: expected the header {','.join(columns)}")
    for line_no, rec in enumerate(reader, start=2):
        if not rec:
            continue
        if len(rec) != len(columns):
            raise DataError(
                f"{path}: line {line_no}: expected {len(columns)} columns, got {len(rec)}"
            )
        yield line_no, rec


def _read_bytes(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file is missing") from None
