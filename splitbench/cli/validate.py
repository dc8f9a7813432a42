"""Option validation for the CLI: every bad value ends in one ``error:`` line before any work.

Values are validated, never coerced: an empty list item, a non-finite number, a target that
no subset has or a device this machine lacks is an error, not something silently dropped or
recorded differently from what ran.
"""

from __future__ import annotations

import dataclasses
import errno
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from splitbench.errors import ConfigError, DataError

if TYPE_CHECKING:
    from splitbench.benchmarks.model import Benchmark

MAX_SEED = 2**32 - 1  # NumPy's legacy seeding takes 32 bits; torch takes 64


def parse_int_list(
    value: str, option: str, *, low: int | None = None, high: int | None = None
) -> list[int]:
    """Parse ``"0,1,2"`` strictly: no empty items, each an integer in [low, high].

    Raises:
        ConfigError: naming the option and the first bad item.
    """
    out = []
    for item in value.split(","):
        text = item.strip()
        if not text:
            raise ConfigError(f"{option} {value!r}: empty item; expected comma-separated integers")
        try:
            n = int(text)
        except ValueError:
            raise ConfigError(
                f"{option} {value!r}: {text!r} is not an integer; expected comma-separated integers"
            ) from None
        if (low is not None and n < low) or (high is not None and n > high):
            raise ConfigError(f"{option} {value!r}: {n} is outside [{low}, {high}]")
        out.append(n)
    return out


def parse_seeds(value: str, option: str = "--seeds") -> list[int]:
    """Seeds: non-negative integers below 2**32, no empty items."""
    return parse_int_list(value, option, low=0, high=MAX_SEED)


def parse_targets(value: str | None) -> list[str] | None:
    """``--targets`` items (coarse indices, keys or names); None for all.

    Raises:
        ConfigError: for an empty item.
    """
    if value is None:
        return None
    items = [t.strip() for t in value.split(",")]
    if not all(items):
        raise ConfigError(f"--targets {value!r}: empty item; expected comma-separated targets")
    return items


def check_targets(bench: Benchmark, subsets: Sequence[str], targets: Sequence[str] | None) -> None:
    """Every requested target must name a target of at least one selected subset.

    Raises:
        ConfigError: naming the first unknown target.
    """
    if not targets:
        return
    known: set[str] = set()
    for s in subsets:
        for t in bench.subset(s).targets:
            known.update((str(t.coarse_index), t.key, t.name))
    for item in targets:
        if item not in known:
            raise ConfigError(
                f"--targets {item!r}: no split target of {bench.name} subset "
                f"{', '.join(subsets)} has that coarse index, key or name "
                f"(see 'splitbench info {bench.name}')"
            )


def check_device(device: str) -> None:
    """The torch device must parse and exist on this machine.

    Raises:
        ConfigError: for an unknown device string or an unavailable accelerator.
    """
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ConfigError(
            f"--device {device!r}: not a torch device (cpu, cuda, cuda:1, mps)"
        ) from None
    if dev.type == "cpu":
        return
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"--device {device!r}: CUDA is not available on this machine")
        if dev.index is not None and dev.index >= count:
            raise ConfigError(f"--device {device!r}: this machine has {count} CUDA device(s)")
        return
    if dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(f"--device {device!r}: MPS is not available on this machine")
        return
    raise ConfigError(f"--device {device!r}: device type {dev.type!r} is not supported")


def check_at_least(value: int, option: str, low: int = 1) -> None:
    """Raise ConfigError unless ``value >= low``."""
    if value < low:
        raise ConfigError(f"{option} {value}: expected an integer ≥ {low}")


def check_config_finite(config: Any, method: str) -> None:
    """Every number in a method config must be finite (NaN and Inf do not round-trip).

    Raises:
        ConfigError: naming the field.
    """
    if not (dataclasses.is_dataclass(config) and not isinstance(config, type)):
        return

    def walk(value: Any, where: str) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(
                f"{method} config {where} = {value!r}: expected a finite number (NaN and Inf "
                f"cannot be recorded and reproduced)"
            )
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{where}.{k}")
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(v, f"{where}[{i}]")

    for f in dataclasses.fields(config):
        walk(getattr(config, f.name), f.name)


def check_writable(folder: Path, option: str = "--output-dir") -> None:
    """Create ``folder`` if needed and check that a file can be written there.

    Raises:
        DataError: naming the folder and the OS's reason.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix=".splitbench-write-check-")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise DataError(f"{option} {folder}: cannot write there ({os_error_line(exc)})") from None


def os_error_line(exc: OSError) -> str:
    """One line for an OS-level failure: the file(s), then the OS's words."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason += " (disk full: free space and rerun; finished units are kept)"
    files = [str(f) for f in (exc.filename, exc.filename2) if f is not None]
    return f"{' → '.join(files)}: {reason}" if files else reason


def check_run_options(
    *,
    bench: Benchmark,
    subsets: Sequence[str],
    targets: Sequence[str] | None,
    device: str,
    log_top_k: int,
    config: Any,
    method: str,
    unit_timeout: float | None,
    output_dir: Path,
) -> None:
    """Every check of ``run``'s options, in one call made before any unit is computed.

    Raises:
        ConfigError: for the first bad option.
        DataError: when the output folder cannot be written.
    """
    from splitbench.protocol.guard import check_timeout

    check_targets(bench, subsets, targets)
    check_device(device)
    check_at_least(log_top_k, "--log-top-k")
    check_config_finite(config, method)
    check_timeout(unit_timeout)
    check_writable(output_dir)
