"""Text variants of a benchmark: the split targets' texts as a user might write them.

A variant rewrites the texts a user writes when splitting a class — each split target's
fine labels and modifiers — and leaves everything else alone: the deployed model's own
base label texts (``labels.json``, and the fine groups' members and modifiers built from
them) are what the model was trained on, and feature stores are checked against them.

Variants (``--text-variant KIND:RATE[:SEED]`` on ``splitbench run``):

- ``typo:RATE`` — each letter, independently with probability RATE, gets one edit drawn
  uniformly from insertion (a letter before it), deletion, substitution and transposition
  (with the next letter, when that is a letter too). Inserted and substituted letters are
  drawn uniformly from ``a-z`` (the *uniform* noise model, not a keyboard-neighbour one);
  substitution never draws the letter it replaces.
- ``case:RATE`` — each word, with probability RATE, is upper-cased, title-cased or
  lower-cased with its first letter upper-cased swapped (uniform among the changes that
  alter it).
- ``punct:RATE`` — after each word, with probability RATE, a punctuation mark from
  ``, . ; ! ?`` is inserted, or, if the word ends in one, it is removed.
- ``paraphrase``, ``long``, ``fr``, ``de`` — curated rewrites read from the benchmark's
  table (:mod:`splitbench.benchmarks.text_tables`): a second phrasing, the text plus one
  descriptive sentence, a French or a German translation. A text the table lacks is an
  error naming the benchmark, kind and text; it is never left clean.

Every variant is deterministic per seed: a text's noise depends only on (kind, rate, seed,
the text), never on the order texts are visited. The variant enters the benchmark's data
revision (``<revision>+text=<kind>:<rate>:seed<seed>:r<generator revision>``, or
``<revision>+text=<kind>:table<table revision>`` for a curated kind), so results on a
perturbed benchmark never share a cell with clean ones. No variant (``clean``) returns the
benchmark unchanged.
"""

from __future__ import annotations

import dataclasses
import random
import string
from collections.abc import Callable
from dataclasses import dataclass

from splitbench.benchmarks.model import Benchmark, SplitTarget, Subset
from splitbench.benchmarks.text_tables import CURATED_KINDS, read_text_table
from splitbench.core.hashing import seed_from_text
from splitbench.errors import ConfigError

#: Revision of the generators below; bump it when any of them changes its output.
GENERATOR_REVISION = "1"

_LETTERS = string.ascii_lowercase
_PUNCT = ",.;!?"


@dataclass(frozen=True)
class TextVariant:
    """A text variant.

    Attributes:
        kind: ``"clean"``, ``"typo"``, ``"case"`` or ``"punct"`` (generated), or a curated
            kind (``"paraphrase"``, ``"long"``, ``"fr"``, ``"de"``).
        rate: Per-letter (typo) or per-word (case, punct) probability, in ``[0, 1]``
            (unused by curated kinds).
        seed: Noise seed (unused by curated kinds).
    """

    kind: str
    rate: float = 0.0
    seed: int = 0

    @property
    def is_clean(self) -> bool:
        """Whether the variant leaves every text unchanged."""
        return self.kind == "clean"

    @property
    def is_curated(self) -> bool:
        """Whether the variant reads its rewrites from a benchmark's curated table."""
        return self.kind in CURATED_KINDS

    @property
    def tag(self) -> str:
        """The generated variant's part of the data revision (curated: see module doc)."""
        return f"{self.kind}:{self.rate:g}:seed{self.seed}:r{GENERATOR_REVISION}"

    def apply(self, text: str) -> str:
        """The variant of one text (deterministic per kind, rate, seed and text).

        Raises:
            ValueError: for a curated kind, which needs its benchmark's table
                (:func:`apply_text_variant`).
        """
        if self.is_curated:
            raise ValueError(f"the curated variant {self.kind!r} needs a benchmark's table")
        if self.is_clean or self.rate == 0.0:
            return text
        rng = random.Random(seed_from_text(f"{self.tag}\x00{text}", byteorder="big"))
        return _GENERATORS[self.kind](text, self.rate, rng)


def typo_noise(text: str, rate: float, rng: random.Random) -> str:
    """Letter-level typos at ``rate`` per letter (uniform noise model; see module doc)."""
    chars = list(text)
    out: list[str] = []
    i = 0
    while i < len(chars):
        c = chars[i]
        if not c.isalpha() or rng.random() >= rate:
            out.append(c)
            i += 1
            continue
        op = rng.choice(("insert", "delete", "substitute", "transpose"))
        if op == "insert":
            out += [rng.choice(_LETTERS), c]
        elif op == "substitute":
            out.append(rng.choice([x for x in _LETTERS if x != c.lower()]))
        elif op == "transpose" and i + 1 < len(chars) and chars[i + 1].isalpha():
            out += [chars[i + 1], c]
            i += 1
        elif op == "transpose":
            out.append(c)  # nothing to swap with: the letter stays
        i += 1
    return "".join(out)


def _per_word(
    text: str, rate: float, rng: random.Random, change: Callable[[str, random.Random], str]
) -> str:
    """Apply ``change`` to each non-empty space-separated word with probability ``rate``."""
    words = text.split(" ")
    for i, w in enumerate(words):
        if w and rng.random() < rate:
            words[i] = change(w, rng)
    return " ".join(words)


def _recase(word: str, rng: random.Random) -> str:
    options = [v for v in (word.upper(), word.title(), word.swapcase()) if v != word]
    return rng.choice(options) if options else word


def _repunctuate(word: str, rng: random.Random) -> str:
    return word[:-1] if word[-1] in _PUNCT and len(word) > 1 else word + rng.choice(_PUNCT)


def case_noise(text: str, rate: float, rng: random.Random) -> str:
    """Casing changes of whole words at ``rate`` per word."""
    return _per_word(text, rate, rng, _recase)


def punct_noise(text: str, rate: float, rng: random.Random) -> str:
    """Punctuation inserted after, or removed from the end of, words at ``rate`` per word."""
    return _per_word(text, rate, rng, _repunctuate)


_GENERATORS: dict[str, Callable[[str, float, random.Random], str]] = {
    "typo": typo_noise,
    "case": case_noise,
    "punct": punct_noise,
}

KINDS = ("clean", *_GENERATORS, *CURATED_KINDS)


def parse_text_variant(spec: str | None) -> TextVariant:
    """Parse ``KIND[:RATE[:SEED]]`` or a curated ``KIND`` (``None``/``"clean"``: clean).

    Raises:
        ConfigError: for an unknown kind, a rate outside [0, 1], a non-integer seed or a
            rate given to a curated kind.
    """
    if spec is None or spec.strip() in ("", "clean"):
        return TextVariant("clean")
    parts = spec.strip().split(":")
    kind = parts[0]
    if kind in CURATED_KINDS:
        if len(parts) > 1:
            raise ConfigError(
                f"--text-variant {spec!r}: the curated kind {kind!r} takes no RATE or SEED"
            )
        return TextVariant(kind)
    if kind not in _GENERATORS or len(parts) > 3:
        raise ConfigError(
            f"--text-variant {spec!r}: expected KIND:RATE[:SEED] (KIND one of "
            f"{', '.join(_GENERATORS)}) or one of {', '.join(('clean', *CURATED_KINDS))}"
        )
    try:
        rate = float(parts[1]) if len(parts) > 1 else 0.1
        seed = int(parts[2]) if len(parts) > 2 else 0
    except ValueError:
        raise ConfigError(
            f"--text-variant {spec!r}: RATE must be a number and SEED an integer"
        ) from None
    if not 0.0 <= rate <= 1.0:
        raise ConfigError(f"--text-variant {spec!r}: RATE must be in [0, 1], got {rate:g}")
    return TextVariant(kind, rate, seed)


def _target(t: SplitTarget, rewrite: Callable[[str], str]) -> SplitTarget:
    return dataclasses.replace(
        t,
        fine_labels=tuple(rewrite(x) for x in t.fine_labels),
        modifiers=tuple(rewrite(x) for x in t.modifiers),
    )


def _subset(s: Subset, rewrite: Callable[[str], str]) -> Subset:
    return dataclasses.replace(s, targets=tuple(_target(t, rewrite) for t in s.targets))


def target_texts(bench: Benchmark) -> list[str]:
    """Every text a variant rewrites: the split targets' fine labels and modifiers."""
    texts = (
        x for s in bench.subsets.values() for t in s.targets for x in (*t.fine_labels, *t.modifiers)
    )
    return list(dict.fromkeys(texts))


def _curated(bench: Benchmark, variant: TextVariant) -> tuple[Callable[[str], str], str]:
    """The rewrite of a curated kind and its revision tag; every target text is checked."""
    table = read_text_table(bench.name)
    missing = [x for x in target_texts(bench) if (x, variant.kind) not in table.rewrites]
    if missing:
        raise table.no_rewrite(missing[0], variant.kind, more=len(missing) - 1)
    return (lambda x: table.rewrite(x, variant.kind)), f"{variant.kind}:table{table.revision}"


def apply_text_variant(bench: Benchmark, variant: TextVariant) -> Benchmark:
    """The benchmark with its split targets' texts rewritten by ``variant``.

    The clean variant returns ``bench`` itself (same object, same revision).

    Raises:
        DataError: for a curated kind, when the benchmark has no table or the table lacks a
            rewrite of one of its target texts (benchmark, kind and text named).
    """
    if variant.is_clean:
        return bench
    if variant.is_curated:
        rewrite, tag = _curated(bench, variant)
    else:
        rewrite, tag = variant.apply, variant.tag
    return dataclasses.replace(
        bench,
        subsets={k: _subset(s, rewrite) for k, s in bench.subsets.items()},
        revision=f"{bench.revision}+text={tag}",
    )
