"""Shared fixtures: a hermetic environment, the official annotations (skip when absent), and
the synthetic benchmark with its stores.

Hermetic: the suite passes whatever the user's shell holds. ``$SPLITBENCH_ANNOTATIONS`` is
read once (to find the official files for the tests that ask for them) and then removed, so
no test or CLI subprocess inherits it; ``$SPLITBENCH_CACHE`` is replaced by a per-session
folder; the caches and config folders of the libraries below (Hugging Face, torch,
matplotlib, XDG) point into a temporary folder, so an unwritable ``$HOME`` changes nothing.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

OFFICIAL_CANDIDATES = (
    os.environ.pop("SPLITBENCH_ANNOTATIONS", ""),
    str(Path(__file__).resolve().parents[2] / "shared" / "category-splitting" / "Datasets"),
    str(Path(__file__).resolve().parents[1] / "shared" / "category-splitting" / "Datasets"),
)

# Set at import, before any test module imports matplotlib, torch or huggingface_hub.
_SCRATCH = Path(tempfile.mkdtemp(prefix="splitbench-tests-"))
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)
for _var, _sub in (
    ("HF_HOME", "hf"),
    ("TORCH_HOME", "torch"),
    ("MPLCONFIGDIR", "matplotlib"),
    ("XDG_CACHE_HOME", "xdg-cache"),
    ("XDG_CONFIG_HOME", "xdg-config"),
):
    os.environ[_var] = str(_SCRATCH / _sub)
os.environ.pop("SPLITBENCH_CACHE", None)  # until the session fixture sets its own
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test session gets its own cache (synthetic stores, text embeddings)."""
    if "SPLITBENCH_TEST_CACHE" in os.environ:  # reuse between local runs if asked
        os.environ["SPLITBENCH_CACHE"] = os.environ["SPLITBENCH_TEST_CACHE"]
    else:
        os.environ["SPLITBENCH_CACHE"] = str(tmp_path_factory.mktemp("splitbench-cache"))


@pytest.fixture(scope="session")
def official_root() -> Path:
    """The official 'Datasets' folder, or skip."""
    for cand in OFFICIAL_CANDIDATES:
        if cand and (Path(cand) / "SSv2-Split" / "group_scheme.json").is_file():
            return Path(cand)
    pytest.skip(
        "official annotation files not found (set SPLITBENCH_ANNOTATIONS to the "
        "Category-Splitting 'Datasets' folder)"
    )


@pytest.fixture(scope="session")
def synthetic():
    """The synthetic benchmark (data model only)."""
    from splitbench.benchmarks.synthetic import synthetic_benchmark

    return synthetic_benchmark()


@pytest.fixture(scope="session")
def synthetic_stores(_isolated_cache):
    """The synthetic benchmark's feature stores (generated once per session)."""
    from splitbench.features.simulate import synthetic_stores

    return synthetic_stores()


@pytest.fixture(autouse=True)
def _restore_method_registry():
    """Methods a test registers (``--plugin`` files run in-process) do not leak into later tests.

    ``leaderboard build`` runs every registered method, so a leaked plugin that sleeps or
    raises would otherwise run there.
    """
    from splitbench.protocol import load_methods

    registry = load_methods()
    saved = (dict(registry._entries), dict(registry._aliases), dict(registry._conflicts))
    yield
    registry._entries, registry._aliases, registry._conflicts = (dict(d) for d in saved)
