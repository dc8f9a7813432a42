"""The shipped modifier and split-type tables, and the lookup the official reader uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from splitbench.benchmarks.modifiers import (
    SPLIT_TYPES,
    MissingModifierError,
    ModifierTable,
    check_derived_rows,
    coverage_problems,
    derive_modifiers,
    official_modifiers,
    read_split_types,
    table_paths,
)
from splitbench.errors import DataError

BENCHMARKS = {"ssv2-split": ("SSv2-Split", 174, 54), "finegym-split": ("FineGym-Split", 285, 42)}


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_shipped_table_is_valid_and_consistent(name: str) -> None:
    path, types_path = table_paths(name)
    table = ModifierTable.read(path)  # validates non-empty, unique among siblings
    _, n_labels, n_targets = BENCHMARKS[name]
    assert len(table.rows) == n_labels
    for group, rows in table.groups().items():
        mods = [r.modifier for r in rows]
        assert all(m.strip() for m in mods), group
        assert len(set(mods)) == len(mods), group
    # rows marked "derived" really are the rule's output
    assert check_derived_rows(table) == []
    types = read_split_types(types_path)
    assert len(types) == n_targets
    assert all(tags and set(tags) <= set(SPLIT_TYPES) for tags in types.values())


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_table_covers_exactly_the_official_labels(name: str, official_root: Path) -> None:
    folder, _, _ = BENCHMARKS[name]
    raw = json.loads((official_root / folder / "group_scheme.json").read_text())
    table = ModifierTable.read(table_paths(name)[0])
    assert coverage_problems(table, raw["group_scheme"]) == []
    types = read_split_types(table_paths(name)[1])
    targets = {(s, g) for s in ("A", "B") for g in raw[s]}
    assert set(types) == targets


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_official_benchmark_uses_the_table(name: str, official_root: Path) -> None:
    from splitbench.catalog import load_benchmark

    bench = load_benchmark(name, official_root)
    table = ModifierTable.read(table_paths(name)[0])
    assert bench.modifier_source == table.describe(name)
    assert "curated" in bench.modifier_source
    for subset in bench.subsets.values():
        for t in subset.targets:
            assert t.split_types, t.name
            assert len(set(t.modifiers)) == t.k and all(t.modifiers)
            assert t.modifiers == table.lookup(t.name, t.fine_labels)
        for g in subset.fine_groups:
            assert g.modifiers == table.lookup(g.name, g.members)


def _write(tmp_path: Path, rows: list[str]) -> Path:
    p = tmp_path / "mods.csv"
    p.write_text("group,fine_label,modifier,source\n" + "\n".join(rows) + "\n")
    return p


def test_missing_modifier_names_the_label(tmp_path: Path) -> None:
    table = ModifierTable.read(_write(tmp_path, ["Push,Push left,left,derived"]))
    with pytest.raises(MissingModifierError, match=r"'Push right' \(group 'Push'\)"):
        table.lookup("Push", ["Push left", "Push right"])


def test_missing_modifier_reaches_the_official_reader(tmp_path: Path, official_root: Path) -> None:
    from splitbench.benchmarks.official import SSV2_SPLIT, read_official

    table = ModifierTable.read(table_paths("ssv2-split")[0])
    dropped = table.rows[10]
    kept = [r for r in table.rows if r is not dropped]
    lines = [
        ",".join(f'"{v}"' for v in (r.group, r.fine_label, r.modifier, r.source)) for r in kept
    ]
    short = ModifierTable.read(_write(tmp_path, lines))
    with pytest.raises(MissingModifierError, match=re.escape(repr(dropped.fine_label))):
        read_official(SSV2_SPLIT, official_root, modifiers=short.lookup)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["G,G a,,derived"], "empty modifier"),
        (["G,G a,a,derived", "G,G b,a,curated"], "repeats line 2 of the same group"),
        (["G,G a,a,guessed"], "source 'guessed'"),
        (["G,G a,a,derived", "G,G a,b,derived"], "repeats line 2"),
        (["G,G a,a"], "expected 4 columns"),
    ],
)
def test_bad_tables_are_rejected_with_the_line(
    tmp_path: Path, rows: list[str], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        ModifierTable.read(_write(tmp_path, rows))


def test_bad_split_types_are_rejected(tmp_path: Path) -> None:
    p = tmp_path / "types.csv"
    p.write_text("subset,group,split_types\nA,G,direction;colour\n")
    with pytest.raises(DataError, match="unknown split type 'colour'"):
        read_split_types(p)
    p.write_text("subset,group,split_types\nA,G,\n")
    with pytest.raises(DataError, match="no split type"):
        read_split_types(p)


def test_official_modifiers_for_unknown_benchmark() -> None:
    with pytest.raises(DataError, match="no shipped modifier table"):
        official_modifiers("kinetics-split")


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["Drop x behind y", "Drop x into y"], ("behind y", "into y")),
        (["Open x", "Close x"], ("Open x", "Close x")),
        (["Lift x", "Lift x, then drop"], ("x", "x, then drop")),
        (["Only one"], ("Only one",)),
        (
            ["Dropping something behind something", "Dropping something into something"],
            ("behind something", "into something"),
        ),
        (
            ["(VT) tsukahara stretched with 2 turn", "(VT) tsukahara piked"],
            ("stretched with 2 turn", "piked"),
        ),
        (
            [
                "Pouring something into something",
                "Pouring something into something until it overflows",
            ],
            ("something", "something until it overflows"),
        ),
        (["Closing something", "Opening something"], ("Closing something", "Opening something")),
        (["Holding something"], ("Holding something",)),
    ],
)
def test_derive_rule(labels: list[str], expected: tuple[str, ...]) -> None:
    assert derive_modifiers(labels) == expected
