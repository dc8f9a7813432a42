"""``splitbench hub ...``: publish benchmarks, feature stores and results as Hub datasets.

Every ``push-*`` command writes the exact repository folder first; with ``--local-dir`` it
stops there (nothing is uploaded), otherwise it uploads that folder in one commit.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from splitbench.cli import options as opt
from splitbench.cli.common import err, parse_subsets

if TYPE_CHECKING:
    from splitbench.features.store import FeatureStore
    from splitbench.hub.folder import WrittenFolder

hub_app = typer.Typer(
    no_args_is_help=True,
    help="Publish benchmarks, feature stores and results to the Hugging Face Hub "
    "(or write the repository folder locally with --local-dir).",
)

RepoId = Annotated[
    str, typer.Option("--repo-id", help="Dataset repository ORG/NAME (named in the card too).")
]
Revision = Annotated[
    str | None,
    typer.Option("--revision", help="Branch to commit to (created if missing); default main."),
]
LocalDir = Annotated[
    Path | None,
    typer.Option(
        "--local-dir",
        help="Write the repository folder here and do not upload.",
        file_okay=False,
    ),
]
License = Annotated[
    str | None,
    typer.Option("--license", help="Licence id for the card (e.g. cc-by-4.0); default unknown."),
]


def _publish(
    write: Callable[[Path], WrittenFolder],
    *,
    repo_id: str,
    local_dir: Path | None,
    private: bool,
    revision: str | None,
    message: str,
    delete_stale: bool,
) -> None:
    """Write the folder (to ``local_dir``, or a temp dir that is then uploaded)."""
    from splitbench.hub.upload import push_folder

    if local_dir is not None:
        out = write(local_dir)
        err(
            f"wrote {len(out.files)} files ({out.bytes / 1e6:.2f} MB) to {out.path}; nothing was "
            f"uploaded (upload it later with 'splitbench hub upload {out.path} --repo-id "
            f"{repo_id}')"
        )
        return
    with tempfile.TemporaryDirectory(prefix="splitbench-hub-") as tmp:
        out = write(Path(tmp) / "repo")
        res = push_folder(
            out.path,
            repo_id,
            private=private,
            revision=revision,
            commit_message=message,
            delete_stale=delete_stale,
        )
    err(
        f"uploaded {len(res.added)} files ({out.bytes / 1e6:.2f} MB), deleted {len(res.deleted)} "
        f"stale files: {res.commit_url}"
    )
    print(f"hf://{repo_id}@{res.commit_oid}")


@hub_app.command("push-benchmark")
def push_benchmark(
    benchmark: Annotated[
        str, typer.Argument(help="ssv2-split | finegym-split (or synthetic, or hf://... to copy)")
    ],
    repo_id: RepoId,
    annotations: opt.Annotations = None,
    private: Annotated[bool, typer.Option("--private", help="Create a private repo.")] = False,
    revision: Revision = None,
    local_dir: LocalDir = None,
) -> None:
    """Publish a benchmark's annotations (one config per subset) with a generated card."""
    from splitbench.catalog import load_benchmark
    from splitbench.hub.benchmark import write_benchmark_folder

    bench = load_benchmark(benchmark, annotations)
    _publish(
        lambda out: write_benchmark_folder(bench, out, repo_id),
        repo_id=repo_id,
        local_dir=local_dir,
        private=private,
        revision=revision,
        message=f"splitbench: {bench.display_name} annotations ({bench.revision})",
        delete_stale=True,
    )


def _stores_in(path: Path, subset: str) -> dict[str, FeatureStore]:
    from splitbench.errors import DataError
    from splitbench.features.store import FeatureStore

    if (path / "store.json").is_file():
        store = FeatureStore(path)
        return {store.meta.subset: store}
    found = {
        p.name: FeatureStore(p)
        for p in sorted(path.iterdir() if path.is_dir() else [])
        if (p / "store.json").is_file()
    }
    if not found:
        raise DataError(f"{path}: no feature store here (no store.json, nor <subset>/store.json)")
    return {s: found[s] for s in parse_subsets(subset, list(found))}


@hub_app.command("push-features")
def push_features(
    features: Annotated[
        Path, typer.Argument(help="A feature store folder, or a folder of <subset>/ stores.")
    ],
    repo_id: RepoId,
    subset: opt.Subset = "all",
    license: License = None,
    shard_mb: Annotated[float, typer.Option(help="Target parquet shard size in MB.")] = 256,
    private: Annotated[bool, typer.Option("--private", help="Create a private repo.")] = False,
    revision: Revision = None,
    local_dir: LocalDir = None,
) -> None:
    """Publish feature stores as parquet shards plus head and metadata, with a card."""
    from splitbench.hub.features import write_features_folder

    stores = _stores_in(features, subset)
    first = next(iter(stores.values())).meta
    _publish(
        lambda out: write_features_folder(stores, out, repo_id, license=license, shard_mb=shard_mb),
        repo_id=repo_id,
        local_dir=local_dir,
        private=private,
        revision=revision,
        message=f"splitbench: {first.benchmark} features ({', '.join(stores)}), "
        f"{first.model.get('name', 'model')}",
        delete_stale=True,
    )


@hub_app.command("push-results")
def push_results(
    results: Annotated[Path, typer.Argument(help="A folder of unit results (splitbench run -o).")],
    repo_id: RepoId,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", help="Split name of this run; default the newest result's time."),
    ] = None,
    license: License = None,
    private: Annotated[
        bool, typer.Option("--private/--public", help="Visibility of a new repo.")
    ] = True,
    revision: Revision = None,
    local_dir: LocalDir = None,
) -> None:
    """Publish unit results and their leaderboard: one config per subset, run splits + latest."""
    from splitbench.hub.results import run_id_of, write_results_folder
    from splitbench.hub.upload import push_folder, remote_files
    from splitbench.results.io import load_results

    units = load_results(results)
    run = run_id or (run_id_of(units) if units else None)  # no units: the writer refuses
    if local_dir is not None:
        out = write_results_folder(units, local_dir, repo_id, run_id=run, license=license)
        err(f"wrote run {run} ({len(units)} units) to {out.path}; nothing was uploaded")
        return
    existing = remote_files(repo_id, revision)
    with tempfile.TemporaryDirectory(prefix="splitbench-hub-") as tmp:
        out = write_results_folder(
            units, Path(tmp) / "repo", repo_id, run_id=run, existing=existing, license=license
        )
        res = push_folder(
            out.path,
            repo_id,
            private=private,
            revision=revision,
            commit_message=f"splitbench: results run {run}",
            delete_stale=False,
        )
    err(f"uploaded {len(res.added)} files: {res.commit_url}")
    print(f"hf://{repo_id}@{res.commit_oid}")


@hub_app.command("pull-results")
def pull_results(
    source: Annotated[str, typer.Argument(help="hf://ORG/NAME[@REVISION] or a results folder.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Results folder to write.")],
    split: Annotated[str, typer.Option(help="A run id, or latest.")] = "latest",
) -> None:
    """Fetch published unit results into a local results folder (one JSON per unit)."""
    from splitbench.hub.results import load_hub_results
    from splitbench.results.io import unit_path, write_result

    units = load_hub_results(source, split)
    for r in units:
        u = r.unit
        path = unit_path(
            output, u.benchmark, u.subset, u.method, u.config_hash, u.target_key, u.seed
        )
        write_result(path, r)
    err(f"wrote {len(units)} unit results to {output}")


@hub_app.command("upload")
def upload(
    folder: Annotated[Path, typer.Argument(help="A folder written with --local-dir.")],
    repo_id: RepoId,
    private: Annotated[bool, typer.Option("--private", help="Create a private repo.")] = False,
    revision: Revision = None,
) -> None:
    """Upload a folder written earlier with --local-dir, in one commit."""
    from splitbench.errors import DataError
    from splitbench.hub import benchmark, features, results
    from splitbench.hub.upload import push_folder

    kinds = {benchmark.MARKER: True, features.MARKER: True, results.MARKER: False}
    marker = next((m for m in kinds if (folder / m).is_file()), None)
    if marker is None:
        raise DataError(f"{folder}: not a splitbench hub folder (no {', '.join(kinds)})")
    res = push_folder(
        folder,
        repo_id,
        private=private,
        revision=revision,
        commit_message=f"splitbench: upload {folder.name}",
        delete_stale=kinds[marker],
    )
    err(f"uploaded {len(res.added)} files, deleted {len(res.deleted)}: {res.commit_url}")
    print(f"hf://{repo_id}@{res.commit_oid}")
