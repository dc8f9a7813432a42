"""The benchmark catalog: names users pass to ``--benchmark``.

It sits above the layers it dispatches to (benchmarks, the simulated feature stores, the Hub
reader), so none of them imports it; the CLI and the evaluation facade do.

``synthetic`` needs nothing. ``ssv2-split`` and ``finegym-split`` need the official
annotation files (``--annotations PATH`` or ``$SPLITBENCH_ANNOTATIONS``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from splitbench.benchmarks import official
from splitbench.benchmarks.builder.folder import is_layout_folder, load_layout_folder
from splitbench.benchmarks.model import Benchmark
from splitbench.benchmarks.modifiers import official_modifiers
from splitbench.benchmarks.synthetic import SyntheticConfig, config_from_spec, synthetic_benchmark
from splitbench.errors import ConfigError
from splitbench.registry import Registry

if TYPE_CHECKING:
    from splitbench.features.store import FeatureStore

ANNOTATIONS_ENV = "SPLITBENCH_ANNOTATIONS"


@dataclass(frozen=True)
class BenchmarkEntry:
    """A catalog entry.

    Attributes:
        name: Registry name.
        description: One line.
        simulation: Whether its numbers are simulated.
        needs_annotations: Whether it reads the official annotation files.
        loader: ``(annotations, subsets) -> Benchmark``.
        default_stores: Feature stores that come with the benchmark (the synthetic one's
            are generated on demand); None when features must be extracted.
        extra_info: Extra markdown for ``splitbench info`` (e.g. the simulation's oracle).
    """

    name: str
    description: str
    simulation: bool
    needs_annotations: bool
    loader: Callable[[Path | None, Sequence[str] | None], Benchmark]
    default_stores: Callable[[], Mapping[str, FeatureStore]] | None = None
    extra_info: Callable[[Sequence[str]], str] | None = None


BENCHMARKS: Registry[BenchmarkEntry] = Registry("benchmark")


# The synthetic benchmark's knobs come with its name (``synthetic:compositionality=0.5``);
# the last one loaded is the one whose stores ``default_stores`` returns, so a command that
# loads a benchmark and then resolves its stores gets a matching pair.
_active_synthetic: list[SyntheticConfig] = []


def _synthetic(_annotations: Path | None, _subsets: Sequence[str] | None) -> Benchmark:
    return synthetic_benchmark(_active_synthetic[-1] if _active_synthetic else None)


def _synthetic_stores() -> Mapping[str, FeatureStore]:
    # Local: the simulation imports torch (~3 s), which loading an official benchmark or
    # listing the catalog must not pay.
    from splitbench.features.simulate import synthetic_stores

    return synthetic_stores(_active_synthetic[-1] if _active_synthetic else None)


def _synthetic_oracle(subsets: Sequence[str]) -> str:
    # Local, like _synthetic_stores: the report runs the simulation (torch).
    from splitbench.features.sim_report import render_base_model, synthetic_oracle

    cfg = _active_synthetic[-1] if _active_synthetic else None
    oracle = synthetic_oracle(cfg)
    stores = _synthetic_stores()
    return (
        "Oracle generality (simulation ground truth: each equivalent video assigned to the "
        "nearest true class mean among its target's subcategories, the Bayes-optimal "
        "choice; an upper bound for any method), mean over targets: "
        + ", ".join(f"{s} {100 * oracle[s]:.1f}" for s in subsets)
        + "\n\n"
        + render_base_model({s: stores[s] for s in subsets})
    )


def _official(spec_name: str) -> Callable[[Path | None, Sequence[str] | None], Benchmark]:
    def load(annotations: Path | None, subsets: Sequence[str] | None) -> Benchmark:
        spec = official.SSV2_SPLIT if spec_name == "ssv2-split" else official.FINEGYM_SPLIT
        if annotations is None:
            raise ConfigError(
                f"{spec_name} needs the official annotation files: pass --annotations PATH "
                f"(the Category-Splitting 'Datasets' folder) or set ${ANNOTATIONS_ENV}"
            )
        mods, source, types = official_modifiers(spec_name)
        return official.read_official(
            spec,
            annotations,
            subsets=subsets,
            modifiers=mods,
            modifier_source=source,
            split_types=types,
        )

    return load


BENCHMARKS.register(
    "synthetic",
    BenchmarkEntry(
        "synthetic",
        "Embedded default: a seeded feature-level simulation (labelled as such).",
        True,
        False,
        _synthetic,
        _synthetic_stores,
        _synthetic_oracle,
    ),
)
BENCHMARKS.register(
    "ssv2-split",
    BenchmarkEntry(
        "ssv2-split",
        "SSv2-Split A/B (Liu & Doughty 2026): 54 split targets over SSv2's 174 classes.",
        False,
        True,
        _official("ssv2-split"),
    ),
    aliases=("ssv2",),
)
BENCHMARKS.register(
    "finegym-split",
    BenchmarkEntry(
        "finegym-split",
        "FineGym-Split A/B: 42 split targets over FineGym288's 285 classes.",
        False,
        True,
        _official("finegym-split"),
    ),
    aliases=("finegym",),
)


def annotations_path(option: Path | None) -> Path | None:
    """``--annotations`` if given, else ``$SPLITBENCH_ANNOTATIONS``, else None."""
    if option is not None:
        return option
    env = os.environ.get(ANNOTATIONS_ENV)
    return Path(env) if env else None


def load_benchmark(
    name: str, annotations: Path | None = None, subsets: Sequence[str] | None = None
) -> Benchmark:
    """Load a benchmark by catalog name, ``hf://`` reference, hub folder or layout folder.

    A layout folder is one in the official layout (``group_scheme.json``, ``A/``, ``B/``),
    such as one ``splitbench build-benchmark`` wrote; see
    :mod:`splitbench.benchmarks.builder.folder`.

    ``synthetic:KNOB=VALUE,...`` loads the synthetic benchmark with other simulation knobs
    (see :class:`~splitbench.benchmarks.synthetic.SyntheticConfig`); they enter its data
    revision, so results under different knobs never mix.

    Raises:
        UnknownNameError: for an unknown name (with suggestions).
        ConfigError: when annotations are needed but not given.
        DataError: when the annotation files are broken.
    """
    # Local: the Hub modules import huggingface_hub and pandas (~1 s), which only a Hub
    # reference needs.
    from splitbench.hub.source import parse_hub_ref

    base, sep, knobs = name.partition(":")
    if sep and base == "synthetic":
        _active_synthetic[:] = [config_from_spec(knobs)]
        return BENCHMARKS.get(base).loader(None, subsets)
    if name == "synthetic":
        _active_synthetic.clear()
    if name not in BENCHMARKS and is_layout_folder(Path(name)):
        return load_layout_folder(Path(name), list(subsets) if subsets else None)
    if parse_hub_ref(name) or (name not in BENCHMARKS and ("/" in name or Path(name).is_dir())):
        from splitbench.hub.benchmark import load_hub_benchmark

        return load_hub_benchmark(name, subsets)
    entry = BENCHMARKS.get(name)
    return entry.loader(annotations_path(annotations), subsets)
