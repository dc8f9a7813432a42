"""Curated text-variant tables: format, coverage of every fine label and modifier, identity."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from splitbench.benchmarks import text_tables
from splitbench.benchmarks.modifiers import ModifierTable, table_paths
from splitbench.benchmarks.text_tables import CURATED_KINDS, TABLES_DIR, read_text_table
from splitbench.benchmarks.text_variants import (
    apply_text_variant,
    parse_text_variant,
    target_texts,
)
from splitbench.cli.app import main
from splitbench.errors import ConfigError, DataError
from splitbench.evaluation import evaluate
from splitbench.models.text import get_text_encoder

BENCHMARKS = ("synthetic", "ssv2-split", "finegym-split")


def _benchmark_texts(benchmark: str) -> set[str]:
    """Every fine label and modifier of a benchmark, from data shipped with the package."""
    if benchmark == "synthetic":
        from splitbench.benchmarks.synthetic import synthetic_benchmark

        bench = synthetic_benchmark()
        groups = [g for s in bench.subsets.values() for g in s.fine_groups]
        return set(target_texts(bench)) | {x for g in groups for x in (*g.members, *g.modifiers)}
    table = ModifierTable.read(table_paths(benchmark)[0])
    return {x for r in table.rows for x in (r.fine_label, r.modifier)}


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_table_covers_every_fine_label_and_modifier(benchmark: str) -> None:
    texts = _benchmark_texts(benchmark)
    incomplete = f"the {benchmark} curated table is incomplete"
    try:
        table = read_text_table(benchmark)
    except DataError as exc:
        pytest.fail(f"{incomplete}: {exc}")
    missing = table.missing(texts)
    assert not missing, (
        f"{incomplete}: {len(missing)} of {len(texts) * len(CURATED_KINDS)} (text, kind) "
        f"entries missing, e.g. {missing[:3]}"
    )
    unknown = sorted({t for t, _ in table.rewrites} - texts)
    assert not unknown, f"{benchmark}: table texts that are no fine label or modifier: {unknown}"


def _write(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(body.encode())


_OK = "text,kind,rewrite\nup,paraphrase,upward\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("text,kind\nup,fr\n", "line 1: expected the header text,kind,rewrite"),
        ("text,kind,rewrite\nup,fr\n", "line 2: expected 3 columns"),
        ("text,kind,rewrite\nup,es,arriba\n", "line 2: kind 'es' is not one of"),
        ("text,kind,rewrite\nup,fr,\n", "line 2: empty text or rewrite"),
        ("text,kind,rewrite\nup,de,up\n", "line 2: the de rewrite of 'up' equals the text"),
        ("text,kind,rewrite\nup,long,Up. It rises.\n", "line 2: the long rewrite must be"),
        ("text,kind,rewrite\nup,long,up\n", "line 2: the long rewrite must be"),
        (_OK + "up,paraphrase,upwards\n", r"line 3: \('up', paraphrase\) is already given"),
        ("text,kind,rewrite\r\nup,fr,vers le haut\r\n", "expected LF line endings"),
    ],
)
def test_bad_tables_get_one_line_errors(tmp_path: Path, body: str, message: str) -> None:
    _write(tmp_path, "t.csv", body)
    with pytest.raises(DataError, match=message) as exc:
        read_text_table("synthetic", tmp_path)
    assert "\n" not in str(exc.value) and "t.csv" in str(exc.value)


def test_files_are_concatenated_and_a_duplicate_across_files_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "a.csv", _OK)
    _write(tmp_path, "b.csv", 'text,kind,rewrite\nup,long,"up. Higher, that is."\n')
    table = read_text_table("synthetic", tmp_path)
    assert table.rewrites == {
        ("up", "paraphrase"): "upward",
        ("up", "long"): "up. Higher, that is.",
    }
    _write(tmp_path, "c.csv", "text,kind,rewrite\nup,long,up. Again.\n")
    with pytest.raises(DataError, match=r"c.csv: line 2: .* already given at b.csv:2"):
        read_text_table("synthetic", tmp_path)
    with pytest.raises(DataError, match="no curated text-variant table for benchmark 'x'"):
        read_text_table("x", tmp_path / "absent")


def test_the_revision_is_a_hash_of_the_folder(tmp_path: Path) -> None:
    _write(tmp_path, "a.csv", _OK)
    first = read_text_table("synthetic", tmp_path).revision
    assert read_text_table("synthetic", tmp_path).revision == first
    _write(tmp_path, "b.csv", "text,kind,rewrite\nup,fr,vers le haut\n")
    assert read_text_table("synthetic", tmp_path).revision != first


def test_a_missing_entry_is_an_error_naming_benchmark_kind_and_text(
    tmp_path: Path, synthetic, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    body = (TABLES_DIR / "synthetic" / "synthetic.csv").read_text()
    dropped = "text,kind,rewrite\n" + "".join(
        line + "\n"
        for line in body.splitlines()[1:]
        if not line.startswith("Moving something up,fr,")
    )
    _write(tmp_path / "synthetic", "synthetic.csv", dropped)
    monkeypatch.setattr(text_tables, "TABLES_DIR", tmp_path)
    with pytest.raises(DataError) as exc:
        apply_text_variant(synthetic, parse_text_variant("fr"))
    msg = str(exc.value)
    assert "\n" not in msg
    assert "'fr' of benchmark 'synthetic'" in msg and "'Moving something up'" in msg
    apply_text_variant(synthetic, parse_text_variant("de"))  # other kinds still complete


@pytest.mark.parametrize("spec", ["paraphrase:0.1", "fr:0.1:2"])
def test_curated_kinds_take_no_rate(spec: str) -> None:
    with pytest.raises(ConfigError, match="takes no RATE or SEED"):
        parse_text_variant(spec)


@pytest.mark.parametrize("kind", CURATED_KINDS)
def test_curated_variant_rewrites_every_target_text_and_enters_the_revision(
    synthetic, kind: str
) -> None:  # type: ignore[no-untyped-def]
    out = apply_text_variant(synthetic, parse_text_variant(kind))
    revision = read_text_table("synthetic").revision
    assert out.revision == f"{synthetic.revision}+text={kind}:table{revision}"
    for name, s in synthetic.subsets.items():
        o = out.subset(name)
        assert o.labels == s.labels and o.fine_groups == s.fine_groups
        for a, b in zip(o.targets, s.targets, strict=True):
            assert all(x != y for x, y in zip(a.fine_labels, b.fine_labels, strict=True))
            if kind == "long":
                assert all(x.startswith(y) for x, y in zip(a.modifiers, b.modifiers, strict=True))


def test_curated_variant_changes_the_text_embeddings_and_the_results_cell(
    tmp_path: Path, synthetic, synthetic_stores
) -> None:  # type: ignore[no-untyped-def]
    para = apply_text_variant(synthetic, parse_text_variant("paraphrase"))
    clean_t, para_t = synthetic.subset("A").targets[0], para.subset("A").targets[0]
    enc = get_text_encoder("minilm")
    a, b = enc.encode(list(clean_t.fine_labels)), enc.encode(list(para_t.fine_labels))
    cos = np.sum(a * b, axis=1)
    assert np.all(cos < 0.9999) and np.all(cos > 0.5)  # changed, yet close in meaning
    kw = {"subsets": ["A"], "seeds": [0], "stores": synthetic_stores, "targets": ["0", "7"]}
    clean = evaluate(["modifier_retrieval"], synthetic, output_dir=tmp_path / "clean", **kw)
    with pytest.raises(DataError, match="benchmark_revision differs"):
        evaluate(["modifier_retrieval"], para, output_dir=tmp_path / "clean", **kw)
    ev = evaluate(["modifier_retrieval"], para, output_dir=tmp_path / "para", **kw)
    assert {c.key["benchmark_revision"] for c in ev.cells} == {para.revision}
    assert {c.key["benchmark_revision"] for c in clean.cells} == {synthetic.revision}


def _run(argv: list[str], monkeypatch, capsys) -> str:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "argv", ["splitbench", *argv])
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None)
    return str(capsys.readouterr().out)


def test_run_clean_prints_todays_table_and_fr_its_own(
    tmp_path: Path, synthetic_stores, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    argv = ["run", "-m", "modifier_retrieval", "-q", "--subset", "A"]
    plain = _run([*argv, "-o", str(tmp_path / "a")], monkeypatch, capsys)
    clean = _run([*argv, "--text-variant", "clean", "-o", str(tmp_path / "b")], monkeypatch, capsys)
    assert clean.replace(str(tmp_path / "b"), "") == plain.replace(str(tmp_path / "a"), "")
    fr = _run([*argv, "--text-variant", "fr", "-o", str(tmp_path / "c")], monkeypatch, capsys)
    assert "+text=fr:table" in fr and "+text=" not in plain
