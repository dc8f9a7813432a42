"""Text variants: deterministic noise at the stated rate, in the data revision, clean = today."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from splitbench.benchmarks.text_variants import (
    TextVariant,
    apply_text_variant,
    parse_text_variant,
    typo_noise,
)
from splitbench.cli.app import main
from splitbench.errors import ConfigError, DataError
from splitbench.evaluation import evaluate

TEXT = "pushing something from left to right"


@pytest.mark.parametrize("kind", ["typo", "case", "punct"])
def test_each_generator_is_deterministic_per_seed(kind: str) -> None:
    a, b, c = TextVariant(kind, 0.3, 0), TextVariant(kind, 0.3, 0), TextVariant(kind, 0.3, 1)
    assert a.apply(TEXT) == b.apply(TEXT)
    assert a.apply(TEXT) != TEXT
    assert {TextVariant(kind, 0.3, s).apply(TEXT) for s in range(5)} != {a.apply(TEXT)}
    assert c.apply(TEXT) == TextVariant(kind, 0.3, 1).apply(TEXT)
    assert TextVariant(kind, 0.0, 0).apply(TEXT) == TEXT


def _osa(a: str, b: str) -> int:
    """Optimal-string-alignment distance (Damerau–Levenshtein, adjacent transpositions)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


@pytest.mark.parametrize("rate", [0.05, 0.2])
def test_typo_rate_measured_on_output(rate: float) -> None:
    """Edits per letter on the output (OSA distance) match the stated rate.

    A transposition uses up the next letter's chance, and an edit can cancel by chance
    (inserting a copy of a neighbour), so the measured rate sits a little under the stated
    one; the bounds allow for that and for sampling noise over ~9000 letters.
    """
    texts = [TEXT] * 300
    letters = sum(c.isalpha() for t in texts for c in t)
    edits = sum(_osa(t, typo_noise(t, rate, random.Random(i))) for i, t in enumerate(texts))
    assert 0.75 * rate < edits / letters < 1.1 * rate


def test_case_and_punct_keep_the_letters() -> None:
    for kind in ("case", "punct"):
        out = TextVariant(kind, 0.5, 3).apply(TEXT)
        assert [c.lower() for c in out if c.isalpha()] == [c for c in TEXT if c.isalpha()]


@pytest.mark.parametrize(
    ("spec", "message"),
    [("typo:2", "in [0, 1]"), ("shout:0.1", "KIND one of"), ("typo:x", "RATE must be")],
)
def test_bad_specs_get_one_line_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_text_variant(spec)


def test_variant_changes_target_texts_and_revision_only(synthetic) -> None:  # type: ignore[no-untyped-def]
    v = parse_text_variant("typo:0.2:1")
    out = apply_text_variant(synthetic, v)
    assert out.revision == f"{synthetic.revision}+text={v.tag}"
    for name, s in synthetic.subsets.items():
        o = out.subset(name)
        assert o.labels == s.labels and o.fine_groups == s.fine_groups
        pairs = zip(o.targets, s.targets, strict=True)
        assert any(a.fine_labels != b.fine_labels for a, b in pairs)
        assert [t.fine_indices for t in o.targets] == [t.fine_indices for t in s.targets]
    assert apply_text_variant(synthetic, parse_text_variant(None)) is synthetic


def test_clean_variant_reproduces_results_and_variant_gets_its_own_cell(
    tmp_path: Path, synthetic_stores, synthetic, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    kw = {"subsets": ["A"], "seeds": [0], "stores": synthetic_stores}
    plain = evaluate(["modifier_retrieval"], "synthetic", output_dir=tmp_path / "a", **kw)
    clean = apply_text_variant(synthetic, parse_text_variant("clean"))
    again = evaluate(["modifier_retrieval"], clean, output_dir=tmp_path / "b", **kw)
    cols = ["target", "generality", "locality"]
    pa, pb = plain.units(), again.units()
    assert pa[[c for c in cols if c in pa]].equals(pb[[c for c in cols if c in pb]])
    noisy = apply_text_variant(synthetic, parse_text_variant("typo:0.3"))
    with pytest.raises(DataError, match="benchmark_revision differs"):  # never mixed in
        evaluate(["modifier_retrieval"], noisy, output_dir=tmp_path / "a", **kw)
    ev = evaluate(["modifier_retrieval"], noisy, output_dir=tmp_path / "c", **kw)
    assert len(ev.produced) == len(plain.produced)
    assert {c.key["benchmark_revision"] for c in ev.cells} == {noisy.revision}
    assert [c.generality for c in ev.cells] != [c.generality for c in plain.cells]


def test_run_option(tmp_path: Path, synthetic_stores, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    argv = ["splitbench", "run", "-m", "modifier_retrieval", "-q", "--subset", "A"]
    monkeypatch.setattr(sys, "argv", [*argv, "--text-variant", "case:0.5", "-o", str(tmp_path)])
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None)
    assert "+text=case:0.5:seed0:r1" in capsys.readouterr().out
