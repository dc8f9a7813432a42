"""Seed-level artefacts a method computes once and shares: in memory and on disk.

Some methods train something per (subset, base head, seed, config) that another method
needs too — modifier alignment's map g is also the initialisation of low-shot finetuning.
:func:`shared_artefact` computes such an artefact once per process and once per cache: the
key is a hash of *every* input the caller names (head digest, seed, config, training
pairs, text embeddings, code version), so a change of any of them computes it afresh.
Artefacts are stored as tensors plus a JSON-ready record under
``<cache>/artefacts/<namespace>/<key>.pt``, written atomically, so parallel workers that
race to compute the same one write identical files and never half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitbench.atomic import atomic_path
from splitbench.core.hashing import sha256_parts


@dataclass(frozen=True)
class Artefact:
    """Tensors plus a JSON-ready record.

    Attributes:
        tensors: Named tensors (e.g. a state dict).
        record: Plain JSON values describing it (e.g. a training summary).
    """

    tensors: dict[str, torch.Tensor]
    record: dict[str, Any]


_memory: dict[tuple[str, str], Artefact] = {}
_waiting = True  # False inside no_waiting()


class ArtefactBusy(Exception):
    """Another process is building the artefact (raised only inside :func:`no_waiting`)."""


@contextlib.contextmanager
def no_waiting() -> Iterator[None]:
    """Inside, an artefact another process is building raises :class:`ArtefactBusy`.

    For preparations ahead (:mod:`splitbench.protocol.pool`): a worker moves on to other
    work instead of waiting for the artefact the other worker is computing.
    """
    global _waiting
    before, _waiting = _waiting, False
    try:
        yield
    finally:
        _waiting = before


def artefact_key(parts: Mapping[str, object]) -> str:
    """Hash of ``parts``: strings, numbers, JSON values, tensors or arrays (by content)."""
    return sha256_parts(_key_parts(parts), 24)


def _key_parts(parts: Mapping[str, object]) -> Iterator[bytes]:
    for name in sorted(parts):
        value = parts[name]
        yield name.encode() + b"="
        if isinstance(value, torch.Tensor | np.ndarray):
            arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
            yield str(arr.dtype).encode() + str(arr.shape).encode()
            yield np.ascontiguousarray(arr).tobytes()
        else:
            yield json.dumps(value, sort_keys=True, default=str).encode()
        yield b";"


def artefact_path(namespace: str, key: str) -> Path:
    """Where an artefact lives in the cache."""
    from splitbench.paths import cache_dir

    return cache_dir() / "artefacts" / namespace / f"{key}.pt"


def shared_artefact(
    namespace: str, parts: Mapping[str, object], build: Callable[[], Artefact]
) -> Artefact:
    """The artefact keyed by ``parts``: from memory, else from the cache, else ``build()``.

    A cache file that cannot be read (truncated, another torch) is rebuilt and replaced.
    """
    key = artefact_key(parts)
    if (namespace, key) in _memory:
        return _memory[(namespace, key)]
    path = artefact_path(namespace, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    # one builder per key: a parallel worker that needs the same artefact waits and reads it
    with open(path.with_suffix(".lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if _waiting else fcntl.LOCK_NB))
        except BlockingIOError:
            raise ArtefactBusy(f"{namespace}/{key}") from None
        art = _read(path)
        if art is None:
            art = build()
            with atomic_path(path) as tmp:
                torch.save(
                    {"tensors": art.tensors, "record": json.dumps(art.record, sort_keys=True)},
                    tmp,
                )
    _memory[(namespace, key)] = art
    return art


def _read(path: Path) -> Artefact | None:
    if not path.is_file():
        return None
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
        return Artefact(dict(raw["tensors"]), json.loads(raw["record"]))
    except Exception:  # unreadable cache file (truncated, other torch): rebuild and replace
        return None


def clear_memory() -> None:
    """Forget the in-memory artefacts (the cache files stay)."""
    _memory.clear()
