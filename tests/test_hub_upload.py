"""The upload step, offline: HfApi is patched and the exact commit is checked."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx2
import pytest
from typer.testing import CliRunner

from splitbench.cli.app import app, main

REPO = "splitbench-test/upload"
PUSH_SYNTHETIC = ["hub", "push-benchmark", "synthetic", "--repo-id", REPO]


@dataclass
class FakeHub:
    """Records what splitbench asks of the Hub; holds a remote file list."""

    remote: list[str] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    commits: list[dict[str, Any]] = field(default_factory=list)
    validated: list[str] = field(default_factory=list)
    fail_commit: bool = False
    reject_card: bool = False


@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    from huggingface_hub import DatasetCard, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    fake = FakeHub()

    def create_repo(self: HfApi, repo_id: str, **kw: Any) -> None:
        fake.calls.append(("create_repo", {"repo_id": repo_id, **kw}))

    def create_branch(self: HfApi, repo_id: str, **kw: Any) -> None:
        fake.calls.append(("create_branch", {"repo_id": repo_id, **kw}))

    def list_repo_files(self: HfApi, repo_id: str, **kw: Any) -> list[str]:
        fake.calls.append(("list_repo_files", {"repo_id": repo_id, **kw}))
        return list(fake.remote)

    def create_commit(self: HfApi, repo_id: str, **kw: Any) -> SimpleNamespace:
        if fake.fail_commit:
            response = httpx2.Response(503, request=httpx2.Request("POST", "https://hub.invalid"))
            raise HfHubHTTPError("503 Server Error: Service Unavailable\nmore", response=response)
        adds = {
            op.path_in_repo: Path(op.path_or_fileobj).read_bytes()
            for op in kw["operations"]
            if type(op).__name__ == "CommitOperationAdd"
        }
        deletes = [
            op.path_in_repo
            for op in kw["operations"]
            if type(op).__name__ == "CommitOperationDelete"
        ]
        fake.commits.append({"repo_id": repo_id, "adds": adds, "deletes": deletes, **kw})
        return SimpleNamespace(
            commit_url=f"https://hub.invalid/{repo_id}/commit/c0ffee", oid="c0ffee"
        )

    def validate(self: DatasetCard, repo_type: str | None = None) -> None:
        if fake.reject_card:
            raise ValueError('- Error: "license" must be one of [...]\nsecond line')
        fake.validated.append(repo_type or "")

    for name, fn in (
        ("create_repo", create_repo),
        ("create_branch", create_branch),
        ("list_repo_files", list_repo_files),
        ("create_commit", create_commit),
    ):
        monkeypatch.setattr(HfApi, name, fn)
    monkeypatch.setattr(DatasetCard, "validate", validate)
    return fake


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_push_benchmark_commits_exactly_the_local_folder(hub: FakeHub, tmp_path: Path) -> None:
    runner = CliRunner()
    local = runner.invoke(
        app,
        ["hub", "push-benchmark", "synthetic", "--repo-id", REPO, "--local-dir", str(tmp_path)],
    )
    assert local.exit_code == 0 and not hub.calls and not hub.commits

    hub.remote = [".gitattributes", "README.md", "A/old.parquet", "C/train.parquet"]
    pushed = runner.invoke(
        app,
        ["hub", "push-benchmark", "synthetic", "--repo-id", REPO, "--private", "--revision", "v1"],
    )
    assert pushed.exit_code == 0, pushed.output
    assert pushed.stdout.strip().splitlines()[-1] == f"hf://{REPO}@c0ffee"
    assert hub.validated == ["dataset"]
    assert [c[0] for c in hub.calls] == ["create_repo", "create_branch", "list_repo_files"]
    assert hub.calls[0][1] == {
        "repo_id": REPO,
        "repo_type": "dataset",
        "private": True,
        "exist_ok": True,
    }
    assert hub.calls[1][1]["branch"] == "v1"
    (commit,) = hub.commits
    assert commit["revision"] == "v1" and commit["repo_type"] == "dataset"
    assert commit["adds"] == folder_bytes(tmp_path)
    assert commit["deletes"] == ["A/old.parquet", "C/train.parquet"]
    assert commit["commit_message"].startswith("splitbench: Synthetic (simulation) annotations")


def test_push_results_adds_a_run_and_keeps_older_ones(hub: FakeHub, tmp_path: Path) -> None:
    from test_hub_results import run_results

    from splitbench.results.io import unit_path, write_result

    src = tmp_path / "runs"
    for r in run_results(["alpha"], "2026-03-05T10:00:00+00:00"):
        u = r.unit
        path = unit_path(src, u.benchmark, u.subset, u.method, u.config_hash, u.target_key, u.seed)
        write_result(path, r)
    old = "data/toy-split-A/2026_01_01T00_00_00.parquet"
    hub.remote = [".gitattributes", "README.md", old]
    pushed = CliRunner().invoke(app, ["hub", "push-results", str(src), "--repo-id", REPO])
    assert pushed.exit_code == 0, pushed.output
    assert hub.calls[0] == (
        "list_repo_files",
        {"repo_id": REPO, "repo_type": "dataset", "revision": None},
    )
    assert hub.calls[1][1]["private"] is True  # results default to private
    (commit,) = hub.commits
    assert commit["deletes"] == []
    assert sorted(commit["adds"]) == [
        "README.md",
        "data/toy-split-A/2026_03_05T10_00_00.parquet",
        "data/toy-split-B/2026_03_05T10_00_00.parquet",
        "leaderboards/2026_03_05T10_00_00.md",
        "splitbench-results.json",
    ]
    card = commit["adds"]["README.md"].decode()
    assert f"path: {old}" in card
    assert "- split: latest\n    path: data/toy-split-A/2026_03_05T10_00_00.parquet" in card


def test_upload_of_a_local_folder(hub: FakeHub, tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(
        app,
        ["hub", "push-benchmark", "synthetic", "--repo-id", REPO, "--local-dir", str(tmp_path)],
    )
    hub.remote = ["stale.txt"]
    done = runner.invoke(app, ["hub", "upload", str(tmp_path), "--repo-id", REPO])
    assert done.exit_code == 0, done.output
    assert hub.commits[0]["adds"] == folder_bytes(tmp_path)
    assert hub.commits[0]["deletes"] == ["stale.txt"]


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: Any) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["splitbench", *args])
    with pytest.raises(SystemExit) as info:
        main()
    return int(info.value.code or 0), capsys.readouterr().err


def push_synthetic(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> tuple[int, str]:
    """``splitbench hub push-benchmark synthetic`` to the fake Hub: exit code and stderr."""
    return run_main(["hub", "push-benchmark", "synthetic", "--repo-id", REPO], monkeypatch, capsys)


def test_rejected_card_uploads_nothing(
    hub: FakeHub, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.reject_card = True
    code, err = push_synthetic(monkeypatch, capsys)
    assert code == 2 and err.count("\n") == 1
    assert "card rejected by the Hub" in err
    assert not hub.calls and not hub.commits


def test_hub_failure_is_one_line(
    hub: FakeHub, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.fail_commit = True
    code, err = push_synthetic(monkeypatch, capsys)
    assert code == 2
    assert err == f"error: upload to dataset {REPO} failed: 503 Server Error: Service Unavailable\n"
