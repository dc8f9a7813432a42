"""The builder's two entry points: build from files, and rebuild official folders.

:func:`build_from_files` reads the inputs, checks them, proposes a partition when the group
scheme has none, builds, writes the folder and reads it back with the official reader.
:func:`rebuild_official` recovers the inputs of every official folder under a root, rebuilds
it and compares file by file. The CLI (``splitbench build-benchmark``) only calls these.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from splitbench.benchmarks.builder.check import FileCheck, compare
from splitbench.benchmarks.builder.construct import BuiltBenchmark, build
from splitbench.benchmarks.builder.folder import OFFICIAL, load_layout_folder
from splitbench.benchmarks.builder.inputs import BuildInputs, CleanInputs, Exclusions, clean
from splitbench.benchmarks.builder.partition import (
    Balance,
    balance_of,
    check_partitionable,
    propose_partition,
)
from splitbench.benchmarks.builder.readers import read_exclusions, read_scheme, readers_for
from splitbench.benchmarks.builder.recover import recover_inputs
from splitbench.benchmarks.builder.writer import write_built
from splitbench.benchmarks.model import Benchmark
from splitbench.benchmarks.modifiers import ModifierTable
from splitbench.core.hashing import file_sha256
from splitbench.errors import DataError


@dataclass(frozen=True)
class BuildReport:
    """What a build did.

    Attributes:
        folder: The written benchmark folder.
        built: The built content (findings and exclusions included).
        balance: Balance figures of the partition used.
        proposed: Whether the partition was proposed (seeded) rather than given.
        benchmark: The folder as the official reader loads it.
    """

    folder: Path
    built: BuiltBenchmark
    balance: Balance
    proposed: bool
    benchmark: Benchmark


def videos_per_label(inputs: CleanInputs) -> dict[str, int]:
    """Train + val videos of each fine label (text → count)."""
    counts = collections.Counter(inputs.train[1]) + collections.Counter(inputs.val[1])
    return {t: counts.get(p, 0) for p, t in enumerate(inputs.fine)}


def _sha(path: Path) -> str:
    return file_sha256(path)[:16]


def build_from_files(
    name: str,
    *,
    labels: Path,
    train: Path,
    val: Path,
    groups: Path,
    output: Path,
    fmt: str = "simple",
    exclude: Path | None = None,
    modifiers: Path | None = None,
    seed: int = 0,
) -> BuildReport:
    """Build the benchmark ``name`` from input files into ``output/<name>/``.

    Raises:
        DataError: one line naming the input file and the item at fault.
        ConfigError: for an unknown ``fmt``.
    """
    if not name or name != Path(name).name or name in (".", ".."):
        raise DataError(f"benchmark name {name!r}: expected a plain folder name")
    if name in {spec.folder for spec in OFFICIAL}:
        raise DataError(
            f"benchmark name {name!r} is an official benchmark's; choose another (rebuild the "
            f"official ones with --from-official)"
        )
    read_labels, read_videos = readers_for(fmt)
    fine = read_labels(labels)
    scheme, partition = read_scheme(groups)
    inputs = BuildInputs(
        name=name,
        labels_source=str(labels),
        labels=fine,
        train=read_videos(train, fine),
        val=read_videos(val, fine),
        scheme_source=str(groups),
        group_scheme=scheme,
        partition=partition,
        exclusions=read_exclusions(exclude, fine) if exclude else Exclusions(),
    )
    proposed = partition is None
    if partition is None:
        # Check the scheme before balancing it; the partition itself is checked in clean().
        check_partitionable(scheme, source=str(groups))
        probe = clean_without_partition(inputs)
        partition = propose_partition(
            scheme, videos_per_label(probe), seed=seed, source=str(groups)
        )
    cleaned = clean(inputs, partition)
    if modifiers:
        table = ModifierTable.read(modifiers)
        for g, members in scheme.items():
            if len(members) > 1:
                table.lookup(g, members)  # names the first label without a modifier
    built = build(cleaned)
    files = {"labels": labels, "train": train, "val": val, "groups": groups}
    if exclude:
        files["exclude"] = exclude
    if modifiers:
        files["modifiers"] = modifiers
    provenance = {
        "format": fmt,
        "files": {k: {"path": str(p), "sha256": _sha(p)} for k, p in files.items()},
        "partition": f"proposed with seed {seed}" if proposed else "given",
    }
    folder = write_built(built, output, provenance=provenance, modifiers=modifiers)
    bench = load_layout_folder(folder)
    return BuildReport(
        folder,
        built,
        balance_of(partition, scheme, videos_per_label(cleaned)),
        proposed,
        bench,
    )


def clean_without_partition(inputs: BuildInputs) -> CleanInputs:
    """:func:`clean` for a scheme without a partition: every check but the partition's."""
    groups = [g for g, m in inputs.group_scheme.items() if len(m) > 1]
    half = (len(groups) + 1) // 2
    return clean(inputs, {"A": tuple(groups[:half]), "B": tuple(groups[half:])})


@dataclass(frozen=True)
class Rebuild:
    """One official folder rebuilt from its recovered inputs.

    Attributes:
        name: The folder name.
        built: The rebuilt content.
        checks: File-by-file comparison with the official folder.
        balance: Balance figures of the official partition.
    """

    name: str
    built: BuiltBenchmark
    checks: list[FileCheck]
    balance: Balance

    @property
    def matches(self) -> bool:
        """Every file matches."""
        return all(c.matches for c in self.checks)


def official_folders(root: Path) -> list[Path]:
    """Benchmark folders under ``root`` (its subfolders with ``group_scheme.json``, or itself).

    Raises:
        DataError: when there is none.
    """
    if (root / "group_scheme.json").is_file():
        return [root]
    found = sorted(p for p in root.glob("*/group_scheme.json"))
    if not found:
        raise DataError(f"{root}: no <benchmark>/group_scheme.json here")
    return [p.parent for p in found]


def rebuild_official(
    root: Path, output: Path | None = None, names: Sequence[str] | None = None
) -> list[Rebuild]:
    """Recover, rebuild and compare every benchmark folder under ``root``.

    Args:
        root: The official ``Datasets`` folder (or one benchmark folder).
        output: Where to also write the rebuilt folders (None: compare in memory only).
        names: Folder names to rebuild (default all).
    """
    out = []
    for folder in official_folders(root):
        if names and folder.name not in names:
            continue
        inputs = recover_inputs(folder)
        assert inputs.partition is not None
        cleaned = clean(inputs, inputs.partition)
        built = build(cleaned)
        if output is not None:
            write_built(built, output, provenance={"recovered_from": str(folder)})
        balance = balance_of(inputs.partition, inputs.group_scheme, videos_per_label(cleaned))
        out.append(Rebuild(folder.name, built, compare(built, folder), balance))
    return out
