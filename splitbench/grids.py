"""Grid presets: a paper table's full grid (methods × targets × seeds) behind one name.

A preset names a benchmark, subsets, a list of method runs (registry name + config
overrides) and the seed sets. :func:`run_grid` runs each method with the ordinary
:func:`splitbench.evaluate` facade into one output folder, so results resume and
aggregate exactly as ``splitbench run`` results do, and writes ``grid-<preset>.json``
recording the preset, the seed set and every parity switch in force.

Seed sets (paper-brief §3): the released scripts use {0, 1, 3} for ``Table2-SSv2-Split-A``
and ``Table3`` and {0, 1, 2} elsewhere. ``seed_set="scripts"`` follows the script of the
table; ``"uniform"`` uses {0, 1, 2} everywhere.

Presets only refer to methods by registry name, like a config file would; the harness
still treats every method alike.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from splitbench.errors import ConfigError
from splitbench.evaluation import MethodSpec, evaluate
from splitbench.evaluation.facade import resolve_methods
from splitbench.protocol import load_methods
from splitbench.protocol.needs import require_needs
from splitbench.protocol.plan import check_store
from splitbench.results.io import atomic_write_text

if TYPE_CHECKING:
    from splitbench.benchmarks.model import Benchmark
    from splitbench.evaluation import Evaluation
    from splitbench.features.store import FeatureStore
    from splitbench.protocol.runner import RunReport

SEED_SETS: tuple[str, ...] = ("scripts", "uniform")
UNIFORM_SEEDS: tuple[int, ...] = (0, 1, 2)

#: What ``released_code=True`` sets on every method whose config has the field.
RELEASED_CODE_SWITCHES: dict[str, str] = {"ma_init": "released-code", "shot_policy": "whole-ft"}


@dataclass(frozen=True)
class MethodRun:
    """One method of a grid: registry name plus config overrides."""

    method: str
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GridPreset:
    """A named grid.

    Attributes:
        name: Preset name (``table4-ssv2-a``).
        description: What it reproduces.
        benchmark: Benchmark it runs on (``--benchmark`` may override it for dry runs).
        subsets: Subsets.
        runs: Method runs.
        script_seeds: Seeds of the released script for this table.
    """

    name: str
    description: str
    benchmark: str
    subsets: tuple[str, ...]
    runs: tuple[MethodRun, ...]
    script_seeds: tuple[int, ...] = UNIFORM_SEEDS

    def seeds(self, seed_set: str) -> tuple[int, ...]:
        """Seeds for ``seed_set`` (``scripts`` or ``uniform``)."""
        if seed_set not in SEED_SETS:
            raise ConfigError(f"seed set {seed_set!r}: expected one of {', '.join(SEED_SETS)}")
        return self.script_seeds if seed_set == "scripts" else UNIFORM_SEEDS


MA = MethodRun("modifier_alignment")
FT_INITS = (
    MethodRun("lowshot_finetune_random", {"shots": "1"}),
    MethodRun("lowshot_finetune_coarse", {"shots": "1"}),
    MethodRun("lowshot_finetune", {"shots": "1", "init": "modifier_alignment"}),
)


def _presets() -> dict[str, GridPreset]:
    out: list[GridPreset] = []
    for bench, short, seeds_a in (
        ("ssv2-split", "ssv2", (0, 1, 3)),
        ("finegym-split", "finegym", UNIFORM_SEEDS),
    ):
        for subset in ("A", "B"):
            seeds = seeds_a if subset == "A" else UNIFORM_SEEDS
            out.append(
                GridPreset(
                    f"table2-{short}-{subset.lower()}",
                    f"Table 2: zero-shot modifier alignment on {bench} {subset} "
                    f"(script seeds {', '.join(map(str, seeds))})",
                    bench,
                    (subset,),
                    (MA,),
                    seeds,
                )
            )
    out.append(
        GridPreset(
            "table3-ssv2-a",
            "Table 3: zero-shot ablation on ssv2-split A — modifier retrieval vs alignment "
            "(add a VLM cascade with --extra-method)",
            "ssv2-split",
            ("A",),
            (MethodRun("modifier_retrieval"), MA),
            (0, 1, 3),
        )
    )
    out.append(
        GridPreset(
            "table4-ssv2-a",
            "Table 4: 1-shot head-only finetuning on ssv2-split A with random, coarse and "
            "modifier-alignment initialisation",
            "ssv2-split",
            ("A",),
            FT_INITS,
            UNIFORM_SEEDS,
        )
    )
    out.append(
        GridPreset(
            "paper-methods",
            "Every method of the paper plus the coarse-copy floor, on both subsets (default "
            "benchmark: the synthetic simulation)",
            "synthetic",
            ("A", "B"),
            (MethodRun("coarse_copy"), MethodRun("modifier_retrieval"), MA, *FT_INITS),
            UNIFORM_SEEDS,
        )
    )
    return {p.name: p for p in out}


PRESETS: dict[str, GridPreset] = _presets()


def get_preset(name: str) -> GridPreset:
    """Look a preset up by name.

    Raises:
        ConfigError: naming the available presets.
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown grid preset {name!r}; presets: {', '.join(PRESETS)}")
    return PRESETS[name]


def _registry_field_names(method: str) -> set[str]:
    """Config field names of a registered method (the default for :func:`plan_grid`)."""
    return {f.name for f in dataclasses.fields(load_methods().get(method).config_class)}


@dataclass
class GridPlan:
    """A resolved grid: what will run, with which configs and seeds.

    Attributes:
        preset: The preset.
        benchmark: Benchmark actually used.
        subsets: Subsets.
        seed_set: ``scripts`` or ``uniform``.
        seeds: Seeds.
        runs: ``(method name, config overrides)`` after applying switches.
        switches: Parity switches and extra options in force.
    """

    preset: GridPreset
    benchmark: str
    subsets: tuple[str, ...]
    seed_set: str
    seeds: tuple[int, ...]
    runs: list[tuple[str, dict[str, str]]]
    switches: dict[str, Any]


def plan_grid(
    preset: GridPreset,
    *,
    benchmark: str | None = None,
    subsets: Sequence[str] | None = None,
    seed_set: str = "scripts",
    seeds: Sequence[int] | None = None,
    released_code: bool = False,
    text_encoder: str | None = None,
    config: Mapping[str, str] | None = None,
    extra_methods: Sequence[str] = (),
    field_names: Callable[[str], set[str]] | None = None,
) -> GridPlan:
    """Resolve a preset plus switches into concrete method configs.

    Args:
        preset: The preset.
        benchmark: Override of the preset's benchmark (e.g. ``synthetic`` for a dry run).
        subsets: Override of the preset's subsets.
        seed_set: ``scripts`` (the released script's seeds) or ``uniform`` ({0, 1, 2}).
        seeds: Explicit seeds (overrides ``seed_set``; recorded as ``custom``).
        released_code: Apply :data:`RELEASED_CODE_SWITCHES` where a method has the field.
        text_encoder: Text encoder for every method with a ``text_encoder`` field.
        config: ``key=value`` options applied to every method that has the field.
        extra_methods: More registry names to run with their defaults.
        field_names: Method name → its config field names (default: from the method
            registry).

    Raises:
        ConfigError: for an option that no method of the grid accepts.
    """
    chosen_seeds = tuple(seeds) if seeds else preset.seeds(seed_set)
    if field_names is None:
        field_names = _registry_field_names
    common: dict[str, str] = dict(config or {})
    if text_encoder:
        common["text_encoder"] = text_encoder
    if released_code:
        common.update(RELEASED_CODE_SWITCHES)
    runs: list[tuple[str, dict[str, str]]] = []
    used: set[str] = set()
    for run in (*preset.runs, *(MethodRun(m) for m in extra_methods)):
        fields = field_names(run.method)
        cfg = dict(run.config)
        for key, value in common.items():
            if key.replace("-", "_") in fields:
                cfg[key.replace("-", "_")] = value
                used.add(key)
        runs.append((run.method, cfg))
    unused = [k for k in (config or {}) if k not in used]
    if text_encoder and "text_encoder" not in used:
        unused.append("text_encoder")
    if unused:
        raise ConfigError(
            f"grid {preset.name}: no method of the grid has option(s) {', '.join(unused)}"
        )
    return GridPlan(
        preset=preset,
        benchmark=benchmark or preset.benchmark,
        subsets=tuple(subsets) if subsets else preset.subsets,
        seed_set="custom" if seeds else seed_set,
        seeds=chosen_seeds,
        runs=runs,
        switches={
            "released_code": released_code,
            "released_code_switches": RELEASED_CODE_SWITCHES if released_code else {},
            "text_encoder": text_encoder,
            "config": dict(config or {}),
            "extra_methods": list(extra_methods),
        },
    )


def write_manifest(plan: GridPlan, output_dir: Path, hashes: Sequence[str]) -> Path:
    """Record the grid (preset, seed set, switches, config hashes) next to its results.

    ``hashes`` holds the config hash of each of ``plan.runs``, in the same order.
    """
    path = Path(output_dir) / f"grid-{plan.preset.name}.json"
    data = {
        "preset": dataclasses.asdict(plan.preset),
        "benchmark": plan.benchmark,
        "subsets": list(plan.subsets),
        "seed_set": plan.seed_set,
        "seeds": list(plan.seeds),
        "runs": [
            {"method": m, "config": cfg, "config_hash": h}
            for (m, cfg), h in zip(plan.runs, hashes, strict=True)
        ],
        "switches": plan.switches,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write_text(path, json.dumps(data, indent=2, default=str))
    return path


@dataclass
class GridOutcome:
    """What a grid run did.

    Attributes:
        evaluation: The evaluation (runs, units, cells) of the grid's methods.
        manifest: The manifest path.
    """

    evaluation: Evaluation
    manifest: Path

    @property
    def reports(self) -> list[tuple[str, str, RunReport | None]]:
        """``(method, config hash, run report)`` per method run, in grid order."""
        return [(r.method.name, r.config_hash, r.report) for r in self.evaluation.runs]


def run_grid(
    plan: GridPlan,
    benchmark: Benchmark,
    stores: Mapping[str, FeatureStore],
    output_dir: Path,
    **options: Any,
) -> GridOutcome:
    """Run every method of ``plan`` through the evaluation facade into ``output_dir``.

    Every config is built and every method's needs are checked before any unit runs.
    Interrupted grids resume: each method's finished units are skipped on the next call.

    Args:
        plan: The resolved grid.
        benchmark: The loaded benchmark (must be ``plan.benchmark``).
        stores: Subset name → feature store.
        output_dir: Root of the result files.
        **options: Passed on to :func:`splitbench.evaluate`: ``targets`` (as ``splitbench
            run --targets``), ``device``, ``overwrite``, ``progress``,
            ``text_encoder_factory`` (tests), ``on_run`` (called after each method), ``jobs``.

    Raises:
        SplitbenchError: for unknown methods, bad configs, unmet needs or stores that do
            not fit.
    """
    if benchmark.name != plan.benchmark:
        raise ConfigError(f"grid planned for {plan.benchmark}, got benchmark {benchmark.name}")
    registry = load_methods()
    runs = resolve_methods([MethodSpec(m, cfg) for m, cfg in plan.runs], registry)
    checked = {s: check_store(benchmark, benchmark.subset(s), stores) for s in plan.subsets}
    for run in runs:  # fail before the manifest is written
        require_needs(run.method, benchmark, checked)
    manifest = write_manifest(plan, output_dir, [r.config_hash for r in runs])
    evaluation = evaluate(
        [r.method for r in runs],
        benchmark,
        stores=checked,
        subsets=plan.subsets,
        seeds=plan.seeds,
        output_dir=output_dir,
        registry=registry,
        **options,
    )
    return GridOutcome(evaluation, manifest)
