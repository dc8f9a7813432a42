"""Content digests of the files of a hub folder: recorded by the writer, checked on load.

Both hub folder kinds (benchmark and features) record ``digests`` ``{relative path:
sha256}`` in their marker JSON, so a byte edited after publishing is refused with one line
naming the file. A folder written before digests were recorded is read with one note that it
is not verified.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from splitbench.core.hashing import file_sha256
from splitbench.errors import DataError
from splitbench.features.verify import note_unverified, verify_file


def record_digests(out: Path, files: Iterable[str]) -> dict[str, str]:
    """``{relative path: sha256}`` of ``files`` (POSIX paths relative to ``out``)."""
    return {rel: file_sha256(out / rel) for rel in files}


def digest_checker(folder: Path, digests: Any, where: str, what: str) -> Callable[[Path], None]:
    """A function that checks one file of ``folder`` against the recorded ``digests``.

    Args:
        folder: The hub folder.
        digests: The marker's ``digests`` field (None in folders from before digests).
        where: How messages name the marker (file and part).
        what: The folder's kind, for messages (``"hub feature"``, ``"hub benchmark"``).

    Raises:
        DataError: when ``digests`` is malformed; the checker raises when a file has no
            digest or its bytes differ.
    """
    if digests is None:
        note_unverified(folder, f"{what} folder written before content digests")
        return lambda path: None
    if not isinstance(digests, dict) or not all(isinstance(v, str) for v in digests.values()):
        raise DataError(f"{where}: field 'digests' must map file paths to sha256 strings")

    def check(path: Path) -> None:
        if not path.is_file():
            return  # the reader names the missing file
        rel = path.relative_to(folder).as_posix()
        if rel not in digests:
            raise DataError(f"{path}: file has no recorded digest in {where}")
        verify_file(path, digests[rel], f"{what} file")

    return check
