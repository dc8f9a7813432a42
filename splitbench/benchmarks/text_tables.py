"""Curated text-variant tables: paraphrases, long labels and translations, written by people.

Every ``*.csv`` in ``splitbench/benchmarks/data/text_variants/<benchmark>/`` is read and
concatenated (so several writers never edit one file). Format (UTF-8, header exactly
``text,kind,rewrite``, csv-module quoting):

- ``text``: an exact fine-label or modifier text of the benchmark (for SSv2-Split and
  FineGym-Split as in ``<benchmark>-modifiers.csv``, for ``synthetic`` as the synthetic
  taxonomy defines them);
- ``kind``: one of :data:`CURATED_KINDS` — ``paraphrase`` (a second phrasing keeping the
  meaning exactly), ``long`` (the text unchanged, then one descriptive sentence), ``fr``
  (French), ``de`` (German);
- ``rewrite``: the variant text.

Each ``(text, kind)`` appears once; no rewrite is empty; a ``paraphrase``, ``fr`` or ``de``
rewrite differs from its text; a ``long`` rewrite starts with its text. A table that breaks
any of these is refused with a one-line error naming the file and line. The table's
revision (a hash of the folder's files) enters the data revision of a benchmark rewritten
with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from splitbench.benchmarks.modifiers import DATA_DIR, _csv_records
from splitbench.core.hashing import files_sha256
from splitbench.errors import DataError

TABLES_DIR = DATA_DIR / "text_variants"
TABLE_COLUMNS = ("text", "kind", "rewrite")
#: Curated kinds, each selected by ``--text-variant KIND``.
CURATED_KINDS = ("paraphrase", "long", "fr", "de")
#: Kinds whose rewrite must differ from the text (``long`` must start with it instead).
_MUST_DIFFER = ("paraphrase", "fr", "de")


@dataclass(frozen=True)
class TextTable:
    """A benchmark's curated rewrites.

    Attributes:
        benchmark: Benchmark name (the folder's name).
        rewrites: ``(text, kind)`` → rewrite.
        revision: SHA-256 (16 hex digits) over the folder's ``*.csv`` files, names included.
        folder: Where the table was read from.
    """

    benchmark: str
    rewrites: Mapping[tuple[str, str], str]
    revision: str
    folder: Path

    def rewrite(self, text: str, kind: str) -> str:
        """The ``kind`` rewrite of ``text``.

        Raises:
            DataError: naming the benchmark, kind and text when the table has no entry.
        """
        try:
            return self.rewrites[(text, kind)]
        except KeyError:
            raise self.no_rewrite(text, kind) from None

    def no_rewrite(self, text: str, kind: str, more: int = 0) -> DataError:
        """The one-line error for a missing entry (``more``: how many others are missing)."""
        also = f" (and {more} more texts)" if more else ""
        return DataError(
            f"text variant {kind!r} of benchmark {self.benchmark!r}: no curated rewrite for "
            f"{text!r}{also} in {self.folder} (add a row text,kind,rewrite)"
        )

    def missing(self, texts: Iterable[str], kinds: Iterable[str] = CURATED_KINDS) -> list[str]:
        """``"kind: text"`` for every requested (text, kind) the table lacks, sorted."""
        kinds = tuple(kinds)
        return sorted(f"{k}: {t}" for t in set(texts) for k in kinds if (t, k) not in self.rewrites)


def _check_row(path: Path, line_no: int, text: str, kind: str, rewrite: str) -> None:
    where = f"{path}: line {line_no}"
    if kind not in CURATED_KINDS:
        raise DataError(f"{where}: kind {kind!r} is not one of {', '.join(CURATED_KINDS)}")
    if not text.strip() or not rewrite.strip():
        raise DataError(f"{where}: empty text or rewrite")
    if kind in _MUST_DIFFER and rewrite == text:
        raise DataError(f"{where}: the {kind} rewrite of {text!r} equals the text")
    if kind == "long" and (not rewrite.startswith(text) or rewrite == text):
        raise DataError(f"{where}: the long rewrite must be {text!r} followed by a sentence")


def read_text_table(benchmark: str, folder: Path | None = None) -> TextTable:
    """Read and check every ``*.csv`` of a benchmark's curated-table folder.

    Args:
        benchmark: Benchmark name (``synthetic``, ``ssv2-split``, ``finegym-split``).
        folder: The folder; default ``TABLES_DIR / benchmark`` (shipped with the package).

    Raises:
        DataError: for a missing or empty folder, a malformed row (file and line named) or
            a ``(text, kind)`` given twice.
    """
    folder = Path(folder) if folder is not None else TABLES_DIR / benchmark
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not files:
        raise DataError(
            f"no curated text-variant table for benchmark {benchmark!r}: {folder} has no "
            "*.csv files"
        )
    rewrites: dict[tuple[str, str], str] = {}
    seen: dict[tuple[str, str], str] = {}
    for path in files:
        data = path.read_bytes()
        if b"\r" in data:
            raise DataError(f"{path}: expected LF line endings, found CR")
        for line_no, (text, kind, rewrite) in _csv_records(path, data, TABLE_COLUMNS):
            _check_row(path, line_no, text, kind, rewrite)
            key = (text, kind)
            if key in seen:
                raise DataError(
                    f"{path}: line {line_no}: ({text!r}, {kind}) is already given at {seen[key]}"
                )
            seen[key] = f"{path.name}:{line_no}"
            rewrites[key] = rewrite
    revision = files_sha256((p.name, p) for p in files)[:16]
    return TextTable(benchmark, rewrites, revision, folder)
