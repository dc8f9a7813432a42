"""Readers for the builder's input files: simple documented formats and two dataset formats.

Simple formats (``--format simple``, see ``docs/building-benchmarks.md``):

* labels: ``.txt`` (one label per line; index = line position), ``.json`` (a list of texts,
  index = position, or an object ``{text: index}``) or ``.csv`` with the header
  ``index,label``;
* videos: ``.csv`` with the header ``video,label`` or ``.json`` (a list of
  ``{"video": ..., "label": ...}``); a label is an integer index or a label text;
* group scheme: the official ``group_scheme.json`` shape; ``A``/``B`` are optional;
* exclusions: ``{"labels": [index or text, ...], "videos": [id, ...], "note": "why"}``.

Dataset formats: ``ssv2`` (Something-Something V2's ``labels.json`` and
``train.json``/``validation.json``, label = template without brackets, video = ``<id>.mp4``)
and ``gym288`` (FineGym's ``gym288_categories.txt`` and ``gym288_*_element*.txt`` lists,
video = ``<element id>.mp4``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from splitbench.benchmarks.builder.inputs import Exclusions, FineLabel, VideoList
from splitbench.errors import ConfigError, DataError

FORMATS = ("simple", "ssv2", "gym288")


def _text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: file is missing") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _json(path: Path) -> Any:
    try:
        return json.loads(_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _csv(path: Path, header: tuple[str, ...]) -> list[tuple[int, list[str]]]:
    rows = list(csv.reader(_text(path).splitlines()))
    if not rows or tuple(c.strip() for c in rows[0]) != header:
        raise DataError(f"{path}: line 1: expected the header {','.join(header)}")
    out = []
    for line_no, rec in enumerate(rows[1:], start=2):
        if not rec or not any(c.strip() for c in rec):
            continue
        if len(rec) != len(header):
            raise DataError(
                f"{path}: line {line_no}: expected {len(header)} columns, got {len(rec)}"
            )
        out.append((line_no, [c.strip() for c in rec]))
    return out


def _index(value: Any, path: Path, where: str) -> int:
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())
    ):
        raise DataError(f"{path}: {where}: expected a non-negative integer index, got {value!r}")
    return int(value)


# -- simple formats -----------------------------------------------------------------------


def read_labels(path: Path) -> tuple[FineLabel, ...]:
    """Fine labels from a ``.txt``, ``.json`` or ``.csv`` file (see the module docstring).

    Raises:
        DataError: naming the file and line or entry of a malformed label.
    """
    suffix = path.suffix.lower()
    if suffix == ".txt":
        texts = [ln.strip() for ln in _text(path).splitlines() if ln.strip()]
        return tuple(FineLabel(i, t) for i, t in enumerate(texts))
    if suffix == ".csv":
        return tuple(
            FineLabel(_index(rec[0], path, f"line {n}"), rec[1])
            for n, rec in _csv(path, ("index", "label"))
        )
    if suffix == ".json":
        raw = _json(path)
        if isinstance(raw, list) and all(isinstance(t, str) for t in raw):
            return tuple(FineLabel(i, t) for i, t in enumerate(raw))
        if isinstance(raw, dict):
            return tuple(FineLabel(_index(v, path, f"label {k!r}"), str(k)) for k, v in raw.items())
        raise DataError(f"{path}: expected a list of label texts or an object text → index")
    raise DataError(f"{path}: unknown label file type {suffix!r}; expected .txt, .json or .csv")


class _Resolver:
    """Label value (index or text) → index, with one-line errors."""

    def __init__(self, labels: tuple[FineLabel, ...]) -> None:
        self.indices = {lab.index for lab in labels}
        self.by_text: dict[str, int] = {}
        self.ambiguous: set[str] = set()
        for lab in labels:
            if lab.text in self.by_text:
                self.ambiguous.add(lab.text)
            self.by_text.setdefault(lab.text, lab.index)

    def __call__(self, value: Any, path: Path, row: int, video: str) -> int:
        where = f"row {row}: video {video!r} has"
        return self.resolve(value, path, where)

    def resolve(self, value: Any, path: Path, where: str) -> int:
        if (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.isdigit() and value not in self.by_text
        ):
            return int(value)  # unknown indices are reported by the input checks
        if isinstance(value, str) and value in self.by_text:
            if value in self.ambiguous:
                raise DataError(
                    f"{path}: {where} label {value!r}, a text several labels share; give its "
                    f"index instead"
                )
            return self.by_text[value]
        raise DataError(f"{path}: {where} unknown label {value!r}")


def read_videos(path: Path, labels: tuple[FineLabel, ...]) -> VideoList:
    """A video list from a ``.csv`` or ``.json`` file (see the module docstring).

    Raises:
        DataError: naming the file and row of a malformed entry or an unknown label text.
    """
    resolve = _Resolver(labels)
    suffix = path.suffix.lower()
    entries: list[tuple[int, str, Any]] = []
    if suffix == ".csv":
        entries = [(n, rec[0], rec[1]) for n, rec in _csv(path, ("video", "label"))]
    elif suffix == ".json":
        raw = _json(path)
        if not isinstance(raw, list):
            raise DataError(f"{path}: expected a list of {{'video': ..., 'label': ...}} objects")
        for n, e in enumerate(raw, start=1):
            if not isinstance(e, dict) or not isinstance(e.get("video"), str) or "label" not in e:
                raise DataError(f"{path}: entry {n}: expected an object with 'video' and 'label'")
            entries.append((n, e["video"], e["label"]))
    else:
        raise DataError(f"{path}: unknown video list type {suffix!r}; expected .csv or .json")
    for n, video, _ in entries:
        if not video.strip() or "," in video:
            raise DataError(f"{path}: row {n}: video id {video!r} is empty or contains a comma")
    return VideoList(
        str(path),
        tuple(v for _, v, _ in entries),
        tuple(resolve(lab, path, n, v) for n, v, lab in entries),
        tuple(n for n, _, _ in entries),
    )


def read_scheme(
    path: Path,
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]] | None]:
    """``(group scheme, partition or None)`` from a ``group_scheme.json``-shaped file.

    Raises:
        DataError: naming the file and the malformed group or subset.
    """
    raw = _json(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("group_scheme"), dict):
        raise DataError(f"{path}: expected an object with a 'group_scheme' mapping")
    scheme: dict[str, tuple[str, ...]] = {}
    for group, members in raw["group_scheme"].items():
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise DataError(f"{path}: group {group!r} must map to a list of fine-label texts")
        scheme[group] = tuple(members)
    if "A" not in raw and "B" not in raw:
        return scheme, None
    partition: dict[str, tuple[str, ...]] = {}
    for key in raw:
        if key == "group_scheme":
            continue
        groups = raw[key]
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise DataError(f"{path}: subset {key!r} must be a list of group names")
        partition[key] = tuple(groups)
    return scheme, partition


def read_exclusions(path: Path, labels: tuple[FineLabel, ...]) -> Exclusions:
    """Exclusions from a JSON file (see the module docstring).

    Raises:
        DataError: naming the file and the malformed or unknown entry.
    """
    raw = _json(path)
    if not isinstance(raw, dict) or set(raw) - {"labels", "videos", "note"}:
        raise DataError(f"{path}: expected an object with 'labels', 'videos' and/or 'note'")
    resolve = _Resolver(labels)
    lab_raw, vid_raw = raw.get("labels", []), raw.get("videos", [])
    if not isinstance(lab_raw, list) or not isinstance(vid_raw, list):
        raise DataError(f"{path}: 'labels' and 'videos' must be lists")
    if not all(isinstance(v, str) for v in vid_raw):
        raise DataError(f"{path}: 'videos' must list video ids (strings)")
    return Exclusions(
        source=str(path),
        labels=tuple(
            resolve.resolve(v, path, f"labels entry {n}:") for n, v in enumerate(lab_raw, 1)
        ),
        videos=tuple(vid_raw),
        note=str(raw.get("note", "")),
    )


# -- dataset formats ----------------------------------------------------------------------


def read_ssv2_videos(path: Path, labels: tuple[FineLabel, ...], suffix: str = ".mp4") -> VideoList:
    """Something-Something V2 ``train.json`` / ``validation.json``: label = bracket-free template.

    Raises:
        DataError: naming the file and entry of a malformed item or unknown template.
    """
    raw = _json(path)
    if not isinstance(raw, list):
        raise DataError(f"{path}: expected a list of {{'id', 'template', ...}} objects")
    resolve = _Resolver(labels)
    videos, labs, rows = [], [], []
    for n, e in enumerate(raw, start=1):
        if not isinstance(e, dict) or not isinstance(e.get("template"), str) or "id" not in e:
            raise DataError(f"{path}: entry {n}: expected an object with 'id' and 'template'")
        video = f"{e['id']}{suffix}"
        text = e["template"].replace("[", "").replace("]", "")
        videos.append(video)
        labs.append(resolve(text, path, n, video))
        rows.append(n)
    return VideoList(str(path), tuple(videos), tuple(labs), tuple(rows))


def read_gym288_labels(path: Path) -> tuple[FineLabel, ...]:
    """FineGym ``gym288_categories.txt``: ``Clabel: I; set: S; Glabel: G; TEXT`` per line.

    Raises:
        DataError: naming the file and line of a malformed entry.
    """
    out = []
    for n, line in enumerate(_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(";", 3)
        head = parts[0].split(":")
        if len(parts) != 4 or len(head) != 2 or head[0].strip() != "Clabel":
            raise DataError(f"{path}: line {n}: expected 'Clabel: I; set: S; Glabel: G; TEXT'")
        out.append(FineLabel(_index(head[1].strip(), path, f"line {n}"), parts[3].strip()))
    return tuple(out)


def read_gym288_videos(
    path: Path, labels: tuple[FineLabel, ...], suffix: str = ".mp4"
) -> VideoList:
    """FineGym ``gym288_{train,val}_element*.txt``: ``ELEMENT_ID LABEL`` per line.

    Raises:
        DataError: naming the file and line of a malformed entry.
    """
    videos, labs, rows = [], [], []
    for n, line in enumerate(_text(path).splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise DataError(f"{path}: line {n}: expected 'ELEMENT_ID LABEL', got {line.strip()!r}")
        videos.append(parts[0] + suffix)
        labs.append(_index(parts[1], path, f"line {n}"))
        rows.append(n)
    return VideoList(str(path), tuple(videos), tuple(labs), tuple(rows))


LabelReader = Callable[[Path], tuple[FineLabel, ...]]
VideoReader = Callable[[Path, tuple[FineLabel, ...]], VideoList]

READERS: Mapping[str, tuple[LabelReader, VideoReader]] = {
    "simple": (read_labels, read_videos),
    "ssv2": (read_labels, read_ssv2_videos),
    "gym288": (read_gym288_labels, read_gym288_videos),
}


def readers_for(fmt: str) -> tuple[LabelReader, VideoReader]:
    """The ``(labels, videos)`` readers of an input format.

    Raises:
        ConfigError: for an unknown format.
    """
    if fmt not in READERS:
        raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return READERS[fmt]
