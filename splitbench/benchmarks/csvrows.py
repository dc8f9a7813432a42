"""Reading ``video_path,label_index`` rows (the official layout's CSV files, no header).

The fast path parses with ``pyarrow.csv`` and validates every row with vectorised checks.
It accepts a file only when the exact line-by-line rules below would accept it with the same
result; anything else (a malformed row, non-ASCII or control bytes, whitespace around a
field, an empty file) goes to the line-by-line reader, which either accepts it the same way
or names the file and the 1-based line of the first bad row. So both paths accept the same
files, give the same rows and raise the same messages.

Rules: UTF-8 (a BOM is allowed), blank lines skipped, otherwise exactly two comma-separated
fields; the video path non-empty after stripping whitespace, the label ASCII digits.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from splitbench.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa

#: Bytes the fast path does not handle: controls other than tab/LF/CR (str.splitlines
#: breaks lines at some of them) and every non-ASCII byte (Unicode whitespace, digits).
_UNSAFE = np.ones(256, dtype=bool)
_UNSAFE[32:127] = False
_UNSAFE[[9, 10, 13]] = False
_BOM = b"\xef\xbb\xbf"
#: Labels longer than this cannot be an int64 (and no label space is that large).
_MAX_DIGITS = 18


def read_rows(path: Path, data: bytes) -> tuple[pa.Array, np.ndarray]:
    """Parse ``data`` (the bytes of ``path``) into video ids and label indices.

    Returns:
        ``(videos, labels)``: an Arrow string array and an int64 array.

    Raises:
        DataError: naming ``path`` and the 1-based line of the first malformed row.
    """
    import pyarrow as pa

    fast = _fast_rows(data)
    if fast is not None:
        return fast
    videos, labels = _slow_rows(path, data)
    return pa.array(videos, pa.string()), np.array(labels, dtype=np.int64)


def _fast_rows(data: bytes) -> tuple[pa.Array, np.ndarray] | None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    body = data[len(_BOM) :] if data.startswith(_BOM) else data
    if _UNSAFE[np.frombuffer(body, dtype=np.uint8)].any():
        return None
    try:
        table = pcsv.read_csv(
            pa.BufferReader(body),
            read_options=pcsv.ReadOptions(column_names=["video", "label"], use_threads=False),
            parse_options=pcsv.ParseOptions(quote_char=False, double_quote=False),
            convert_options=pcsv.ConvertOptions(
                column_types={"video": pa.string(), "label": pa.string()},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None
    videos = table.column("video").combine_chunks()
    labels = table.column("label").combine_chunks()
    if not len(videos):
        return None
    # what str.strip() would change (only space and tab are left to strip), empty fields
    # and labels that are not 1 to 18 ASCII digits go to the line-by-line reader
    if not (
        pc.all(pc.equal(pc.utf8_trim_whitespace(videos), videos)).as_py()
        and pc.min(pc.binary_length(videos)).as_py() > 0
        and pc.all(pc.ascii_is_decimal(labels)).as_py()
        and pc.min(pc.binary_length(labels)).as_py() > 0
        and pc.max(pc.binary_length(labels)).as_py() <= _MAX_DIGITS
    ):
        return None
    return videos, labels.cast(pa.int64()).to_numpy()


def _slow_rows(path: Path, data: bytes) -> tuple[list[str], list[int]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    videos: list[str] = []
    labels: list[int] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(",")
        video = parts[0].strip()
        label = parts[1].strip() if len(parts) == 2 else ""
        # isdigit() alone accepts '²' or Arabic-Indic digits, which int() then refuses
        if (
            len(parts) != 2
            or not video
            or not (label.isascii() and label.isdigit() and len(label) <= _MAX_DIGITS)
        ):
            raise DataError(
                f"{path}: line {line_no}: expected 'video_path,label_index' with an integer "
                f"label, got {line.strip()!r}"
            )
        videos.append(video)
        labels.append(int(label))
    return videos, labels
