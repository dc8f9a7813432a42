"""The one hashing helper: SHA-256 of bytes, text, canonical JSON and files.

Config hashes, store keys, content hashes, per-unit RNG streams and weight-file digests all
go through these functions, so "the same input" means the same digest everywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from splitbench.core.jsonable import canonical_json

_BLOCK = 1 << 20


def sha256_hex(data: bytes | memoryview | str, digits: int | None = None) -> str:
    """Hex SHA-256 of ``data`` (text is UTF-8 encoded), optionally cut to ``digits``."""
    return sha256_parts([data], digits)


def sha256_parts(parts: Iterable[bytes | memoryview | str], digits: int | None = None) -> str:
    """Hex SHA-256 of the concatenated ``parts`` (hashed in turn, never joined in memory)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
    digest = h.hexdigest()
    return digest if digits is None else digest[:digits]


def json_hash(obj: Any, digits: int | None = None) -> str:
    """Hex SHA-256 of the canonical JSON of ``obj`` (:func:`.canonical_json`)."""
    return sha256_hex(canonical_json(obj), digits)


def seed_from_text(
    text: str, nbytes: int = 8, byteorder: Literal["little", "big"] = "little"
) -> int:
    """An integer from the first ``nbytes`` of ``text``'s SHA-256 (seeds RNG streams)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:nbytes], byteorder)


def file_sha256(path: Path, block: int = _BLOCK) -> str:
    """Hex SHA-256 of a file's bytes, read in ``block``-byte (1 MiB) blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def files_sha256(items: Iterable[tuple[str, Path]]) -> str:
    """Hex SHA-256 over ``(name, file)`` pairs: each name, a NUL, then the file's bytes."""
    h = hashlib.sha256()
    for name, path in items:
        h.update(name.encode() + b"\0")
        with open(path, "rb") as f:
            while chunk := f.read(_BLOCK):
                h.update(chunk)
    return h.hexdigest()
