"""``splitbench list methods`` from its cache: the same table, without importing plugins, and
recomputed when a plugin is installed, edited, broken or removed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from splitbench.cli import method_listing
from splitbench.cli.method_listing import LISTING_FILE, compute_rows, method_rows

PLUGIN = textwrap.dedent("""
    from splitbench.protocol import Method, MethodMeta, NewRows

    class Demo(Method):
        meta = MethodMeta("demo_listed", "Demo", "DESCRIPTION", shots=0)

        def edit(self, task, ctx, seed):
            c = task.coarse_index
            return NewRows(ctx.weight[c].repeat(task.k, 1), ctx.bias[c].repeat(task.k))
""")
# Lists methods in-process and says whether the listing imported torch (the plugins do).
LIST_AND_REPORT = textwrap.dedent("""
    import sys
    sys.argv = ["splitbench", "list", "methods"]
    from splitbench.cli.app import main
    main()
    print("torch imported:", "torch" in sys.modules, file=sys.stderr)
""")


def _install(site: Path, description: str = "first text", body: str = PLUGIN) -> None:
    """A plugin distribution as pip lays it out: a module and its dist-info."""
    info = site / "demo_listing-0.0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-listing\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text(
        "[splitbench.methods]\ndemo_listed = demo_listing:Demo\n"
    )
    (site / "demo_listing.py").write_text(body.replace("DESCRIPTION", description))


def _list(site: Path, cache: Path) -> tuple[dict[str, str], bool]:
    """The listed rows by method name, and whether the call imported torch."""
    out = subprocess.run(
        [sys.executable, "-c", LIST_AND_REPORT],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site), "SPLITBENCH_CACHE": str(cache)},
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    rows = {
        line.split("|")[1].strip(): line
        for line in out.stdout.splitlines()
        if line.startswith("| ") and not line.startswith("| method ")
    }
    return rows, "torch imported: True" in out.stderr


def test_cached_rows_are_the_imported_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPLITBENCH_CACHE", str(tmp_path))
    fresh = compute_rows()
    assert method_rows() == fresh and (tmp_path / LISTING_FILE).is_file()

    def no_import() -> list[list[str]]:
        raise AssertionError("the cached listing was recomputed")

    monkeypatch.setattr(method_listing, "compute_rows", no_import)
    assert method_rows() == fresh
    assert [r[0] for r in fresh] == sorted(r[0] for r in fresh)
    assert {"modifier_retrieval", "coarse_copy"} <= {r[0] for r in fresh}


def test_corrupt_listing_file_is_recomputed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPLITBENCH_CACHE", str(tmp_path))
    (tmp_path / LISTING_FILE).write_text('{"format": 1, "key": "x", "rows": [[1]]}')
    assert method_rows() == compute_rows()
    (tmp_path / LISTING_FILE).write_text("not json")
    assert method_rows() == compute_rows()


def test_listing_follows_installed_edited_broken_and_removed_plugins(tmp_path: Path) -> None:
    site, cache = tmp_path / "site", tmp_path / "cache"
    _install(site)
    rows, torch_used = _list(site, cache)
    assert "first text" in rows["demo_listed"] and "demo-listing 0.0.1" in rows["demo_listed"]
    assert torch_used and (cache / LISTING_FILE).is_file()

    again, torch_used = _list(site, cache)
    assert again == rows and not torch_used  # from the cache: no plugin imported

    _install(site, "second text")  # edited in place, same version (an editable install)
    rows, torch_used = _list(site, cache)
    assert "second text" in rows["demo_listed"] and torch_used

    kept = (cache / LISTING_FILE).read_bytes()
    _install(site, body="raise ImportError('half-installed')\n")
    rows, _ = _list(site, cache)
    assert "BROKEN" in rows["demo_listed"] and "half-installed" in rows["demo_listed"]
    assert (cache / LISTING_FILE).read_bytes() == kept  # a broken listing is not stored

    (site / "demo_listing-0.0.1.dist-info" / "entry_points.txt").unlink()
    rows, _ = _list(site, cache)
    assert "demo_listed" not in rows and "modifier_retrieval" in rows
