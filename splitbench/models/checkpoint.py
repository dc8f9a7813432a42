"""Safe loading of PyTorch checkpoint files.

``torch.load`` unpickles arbitrary objects. splitbench loads with ``weights_only=True``
first; a checkpoint that holds other objects (MVD's files carry an ``argparse.Namespace``
under ``args``) is only unpickled in full when the caller passes ``trust=True``, which the
CLI exposes as ``--trust-checkpoint``; :data:`FULL_UNPICKLE_NOTE` is the message shown when
that happens.

Weights may sit under the containers ``model``, ``module`` (DeepSpeed), ``model_ema`` or
``state_dict``, or at the top level, with the prefixes ``module.``, ``backbone.`` or
``encoder.`` on their keys; :func:`read_checkpoint` handles all of these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splitbench.core.hashing import (
    file_sha256 as file_sha256,  # re-exported: loaders import it here
)
from splitbench.errors import ConfigError, DataError

CONTAINER_KEYS = ("model", "module", "model_ema", "state_dict")
STRIP_PREFIXES = ("module.", "backbone.", "encoder.")
FULL_UNPICKLE_NOTE = (
    "{path}: loaded with full unpickling because --trust-checkpoint was given (the file holds "
    "Python objects besides tensors, such as an 'args' namespace, which weights-only loading "
    "refuses; full unpickling can run code from the file)"
)


def load_checkpoint(path: Path, *, trust: bool = False) -> Any:
    """Load a checkpoint object from ``path``.

    Args:
        path: A ``.pth``/``.pt``/``.bin`` file, or ``.safetensors``.
        trust: Allow full unpickling when weights-only loading fails.

    Raises:
        DataError: if the file is missing or unreadable.
        ConfigError: if it needs full unpickling and ``trust`` is False.
    """
    return _load(path, trust)[0]


def _load(path: Path, trust: bool) -> tuple[Any, bool]:
    """Load ``path`` as :func:`load_checkpoint` does, also saying whether it fully unpickled.

    Raises:
        DataError: if the file is missing or unreadable.
        ConfigError: if it needs full unpickling and ``trust`` is False.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: checkpoint file does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path)), False
    try:
        return torch.load(path, map_location="cpu", weights_only=True), False
    except Exception as exc:
        if not _is_unpickling_error(exc):
            raise DataError(f"{path}: cannot read checkpoint ({_brief(exc)})") from None
        if not trust:
            raise ConfigError(
                f"{path}: the checkpoint holds Python objects besides tensors (for example an "
                f"'args' namespace), so it cannot be loaded weights-only; pass "
                f"--trust-checkpoint only if you trust where the file came from"
            ) from None
    try:
        return torch.load(path, map_location="cpu", weights_only=False), True
    except Exception as exc:
        raise DataError(f"{path}: cannot read checkpoint ({_brief(exc)})") from None


def _brief(exc: Exception) -> str:
    """One line about why torch.load failed (its weights-only messages span many lines)."""
    msg = str(exc)
    if "WeightsUnpickler error:" in msg:
        detail = msg.split("WeightsUnpickler error:", 1)[1].strip().splitlines()
        return f"not a PyTorch checkpoint: {detail[0] if detail else 'unreadable'}"
    lines = [line for line in msg.strip().splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0][:200] if lines else ''}"


def _is_unpickling_error(exc: Exception) -> bool:
    """True when weights-only loading refused a Python object (not when the file is broken)."""
    msg = str(exc)
    return "Unsupported global" in msg or "safe_globals" in msg


def unwrap_state_dict(obj: Any, *, where: str = "checkpoint") -> dict[str, Any]:
    """Find the state dict inside a checkpoint container.

    Tries the keys ``model``, ``module``, ``model_ema`` and ``state_dict`` in that order and
    otherwise takes the object itself when it maps names to tensors.

    Raises:
        DataError: if no state dict is found.
    """
    return find_state_dict(obj, where=where)[0]


def find_state_dict(obj: Any, *, where: str = "checkpoint") -> tuple[dict[str, Any], str]:
    """Like :func:`unwrap_state_dict`, also naming the container (``"top level"`` if none).

    Raises:
        DataError: if no state dict is found.
    """
    import torch

    if isinstance(obj, Mapping):
        for key in CONTAINER_KEYS:
            inner = obj.get(key)
            if (
                isinstance(inner, Mapping)
                and inner
                and all(isinstance(v, torch.Tensor) for v in inner.values())
            ):
                return dict(inner), key
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return dict(obj), "top level"
    raise DataError(
        f"{where}: no state dict found (looked under {', '.join(CONTAINER_KEYS)} and at the top "
        f"level)"
    )


def load_state_dict_safely(path: Path, *, trust: bool = False) -> dict[str, Any]:
    """Load ``path`` and return its state dict (see :func:`unwrap_state_dict`)."""
    return unwrap_state_dict(load_checkpoint(path, trust=trust), where=str(path))


def strip_prefixes(
    state: Mapping[str, Any], prefixes: Sequence[str] = STRIP_PREFIXES, *, where: str = ""
) -> dict[str, Any]:
    """Remove wrapper prefixes (``module.``, ``backbone.``, ``encoder.``) from every key.

    Prefixes are stripped repeatedly, so ``module.encoder.blocks.0...`` becomes
    ``blocks.0...``.

    Raises:
        DataError: if two keys become the same name.
    """
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, value in state.items():
        new = key
        changed = True
        while changed:
            changed = False
            for p in prefixes:
                if new.startswith(p):
                    new, changed = new[len(p) :], True
        if new in out:
            raise DataError(
                f"{where or 'checkpoint'}: keys {origin[new]!r} and {key!r} both become "
                f"{new!r} after removing the prefixes {', '.join(prefixes)}"
            )
        out[new], origin[new] = value, key
    return out


@dataclass
class CheckpointContents:
    """A loaded checkpoint: its state dict and where it came from.

    Attributes:
        path: The file.
        state_dict: Parameters with wrapper prefixes removed.
        container: The container key the weights were found under (or ``"top level"``).
        args: The training ``args`` namespace as a dict, when the file has one.
        sha256: Hex digest of the file's bytes.
        full_unpickle: Whether loading needed full unpickling (only with ``trust``).
    """

    path: Path
    state_dict: dict[str, Any]
    container: str
    sha256: str
    args: dict[str, Any] = field(default_factory=dict)
    full_unpickle: bool = False


def read_checkpoint(path: Path, *, trust: bool = False) -> CheckpointContents:
    """Load ``path`` safely, find its state dict, strip wrapper prefixes and hash the file.

    Weights-only loading is tried first; only when it refuses the file and ``trust`` is True
    is the file unpickled in full (``full_unpickle`` then says so).

    Raises:
        DataError: if the file is missing, unreadable, or holds no state dict.
        ConfigError: if it needs full unpickling and ``trust`` is False.
    """
    import argparse

    path = Path(path)
    obj, full = _load(path, trust)
    state, container = find_state_dict(obj, where=str(path))
    args: dict[str, Any] = {}
    if isinstance(obj, Mapping):
        raw = obj.get("args")
        if isinstance(raw, argparse.Namespace):
            args = dict(vars(raw))
        elif isinstance(raw, Mapping):
            args = dict(raw)
    return CheckpointContents(
        path=path,
        state_dict=strip_prefixes(state, where=str(path)),
        container=container,
        sha256=file_sha256(path),
        args=args,
        full_unpickle=full,
    )
