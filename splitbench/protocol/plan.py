"""Planning a run: which units exist, which are already done, which stores they use.

A unit is method × subset × target × seed. :func:`plan_units` resolves the targets and
seeds, checks each subset's feature store, and splits the units into those to run and
those whose result file already holds a comparable result (resume).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from splitbench.benchmarks.model import Benchmark, SplitTarget, Subset
from splitbench.core.identity import CellKey, Comparable
from splitbench.errors import ConfigError, DataError
from splitbench.features.store import FeatureStore
from splitbench.protocol.api import Method
from splitbench.protocol.scoring import PROTOCOL_ID
from splitbench.results.io import read_for_resume, unit_path
from splitbench.results.samples import samples_path


@dataclass
class SubsetPlan:
    """The units of one subset.

    Attributes:
        subset: The subset.
        store: Its (checked) feature store.
        targets: Chosen targets.
        pending: Seed → targets still to run.
        done: ``(target, seed)`` pairs whose result is already on disk.
    """

    subset: Subset
    store: FeatureStore
    targets: list[SplitTarget]
    pending: dict[int, list[SplitTarget]] = field(default_factory=dict)
    done: list[tuple[SplitTarget, int]] = field(default_factory=list)


def effective_seeds(method: Method, seeds: Sequence[int]) -> list[int]:
    """Deterministic methods run once, with the first seed (as the paper does).

    Raises:
        ConfigError: for no seeds.
    """
    unique = list(dict.fromkeys(seeds))
    if not unique:
        raise ConfigError("no seeds given")
    return unique[:1] if method.deterministic else unique


def select_targets(subset: Subset, targets: Sequence[str] | None) -> list[SplitTarget]:
    """Targets of ``subset`` matching ``targets`` (coarse index, key or name); all if None."""
    if not targets:
        return list(subset.targets)
    return [
        t for t in subset.targets if any(k in (str(t.coarse_index), t.key, t.name) for k in targets)
    ]


def unit_file(
    output_dir: Path,
    benchmark: Benchmark,
    subset: str,
    method: Method,
    target: SplitTarget,
    seed: int,
    *,
    config_hash: str | None = None,
) -> Path:
    """Result path of a unit (``config_hash``: the method's, when the caller has it)."""
    h = method.config_hash() if config_hash is None else config_hash
    return unit_path(output_dir, benchmark.name, subset, method.name, h, target.key, seed)


def cell_key(benchmark: Benchmark, subset: str, store: FeatureStore, method: Method) -> CellKey:
    """The cell a unit's result belongs to (what a reused result must match)."""
    comparable = Comparable(
        benchmark=benchmark.name,
        benchmark_version=benchmark.version,
        benchmark_revision=benchmark.revision,
        protocol=PROTOCOL_ID,
        subset=subset,
        store_key=store.meta.key,
    )
    return CellKey(comparable, method.name, method.config_hash())


def check_store(
    benchmark: Benchmark, subset: Subset, stores: Mapping[str, FeatureStore]
) -> FeatureStore:
    """The store of ``subset``, checked against the subset.

    Raises:
        DataError: when there is none, it belongs elsewhere, skipped val videos, or its
            head's labels differ from the subset's.
    """
    if subset.name not in stores:
        raise DataError(f"no feature store for {benchmark.name} subset {subset.name}")
    store = stores[subset.name]
    meta = store.meta
    if meta.benchmark != benchmark.name or meta.subset != subset.name:
        raise DataError(
            f"{store.path}: store is for {meta.benchmark} subset {meta.subset}, not "
            f"{benchmark.name} subset {subset.name}"
        )
    store.verify()  # before resuming too: results on a damaged store never count as done
    skipped = store.skipped("val")
    if skipped:
        raise DataError(
            f"{store.path}: extraction skipped {len(skipped)} val videos of "
            f"{benchmark.name}/{subset.name} ({', '.join(list(skipped)[:3])}"
            f"{', ...' if len(skipped) > 3 else ''}: missing or corrupt, see store.json); "
            f"generality and locality are defined over the whole val set, so this store is "
            f"not scored — restore those videos and rerun 'splitbench extract' with "
            f"--retry-skipped"
        )
    if list(meta.labels) != list(subset.labels):
        raise DataError(
            f"{store.path}: the store's head has {len(meta.labels)} labels but "
            f"{benchmark.name}/{subset.name} labels.json has {len(subset.labels)}"
            + ("" if len(meta.labels) != len(subset.labels) else " (different texts)")
        )
    return store


def is_done(path: Path, expected: CellKey, *, need_samples: bool) -> bool:
    """Whether ``path`` holds a finished result of the cell ``expected`` (resume).

    Every kind of damage (unreadable, truncated, failing the schema, metrics that disagree
    with the counts) is refused the same way, with one line naming the file
    (:func:`splitbench.results.io.read_for_resume`); it never counts as done and is
    never silently recomputed.

    Raises:
        DataError: when the file is damaged or holds a result of another cell (another
            protocol, feature store, benchmark version or revision, or config).
    """
    if not path.is_file():
        return False
    found = read_for_resume(path).cell_key
    if found != expected:
        differ = found.comparable.differences(expected.comparable) + [
            f for f in ("method", "config_hash") if getattr(found, f) != getattr(expected, f)
        ]
        raise DataError(
            f"{path} was produced with another protocol, feature store, benchmark version or "
            f"annotation revision ({', '.join(differ)} differs); use another --output-dir, or "
            f"--overwrite-strategy always to replace it"
        )
    return not need_samples or samples_path(path).is_file()


def plan_units(
    method: Method,
    benchmark: Benchmark,
    stores: Mapping[str, FeatureStore],
    output_dir: Path,
    subsets: Sequence[str],
    seeds: Sequence[int],
    targets: Sequence[str] | None,
    *,
    reuse: bool,
    need_samples: bool,
) -> list[SubsetPlan]:
    """Every unit of the run, split into pending and done, per subset.

    Raises:
        ConfigError: for targets that select nothing.
        DataError: when a store does not fit its subset, or a result file on disk belongs
            to another cell.
    """
    chosen = [(benchmark.subset(name), None) for name in subsets]
    picked = [(s, select_targets(s, targets)) for s, _ in chosen]
    if targets and not any(ts for _, ts in picked):
        raise ConfigError(
            f"--targets {','.join(targets)} matches no split target of "
            f"{benchmark.name} subsets {', '.join(subsets)}"
        )
    plans = []
    config_hash = method.config_hash()  # once: hashing the config per unit cost ~0.3 ms
    for subset, ts in picked:
        store = check_store(benchmark, subset, stores)
        plan = SubsetPlan(subset, store, ts)
        expected = cell_key(benchmark, subset.name, store, method)
        for seed in seeds:
            plan.pending[seed] = []
            for t in ts:
                path = unit_file(
                    output_dir, benchmark, subset.name, method, t, seed, config_hash=config_hash
                )
                if reuse and is_done(path, expected, need_samples=need_samples):
                    plan.done.append((t, seed))
                else:
                    plan.pending[seed].append(t)
        plans.append(plan)
    return plans
