"""Checking a method's declared needs against a feature store (no method names involved).

:func:`available` summarises a store as :class:`splitbench.core.needs.Available`;
:func:`unmet_needs` is what :meth:`splitbench.protocol.Method.unmet_requirements` checks by
default. The evaluation facade calls ``unmet_requirements`` for every method and store
before any unit runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from splitbench.core.needs import Available, Needs, explain, unmet
from splitbench.errors import ConfigError

if TYPE_CHECKING:
    from splitbench.benchmarks.model import Benchmark
    from splitbench.features.store import FeatureStore
    from splitbench.protocol.api import Method


class UnmetNeedsError(ConfigError):
    """A method's declared needs cannot be met by the feature stores of the run."""


def text_head_space(store: FeatureStore) -> dict[str, Any] | None:
    """The store's ``model.head_space`` when its head rows are text embeddings, else None."""
    space = store.meta.model.get("head_space")
    if isinstance(space, dict) and space.get("kind") == "text":
        return dict(space)
    return None


def available(store: FeatureStore) -> Available:
    """What ``store`` provides, as far as declared needs go."""
    # Local: the VLM and text-encoder registries load torch-backed modules, which the method
    # API (importing this module) must not pay when it is only listed.
    from splitbench.features.sources import unmet_source_needs
    from splitbench.features.vlm import vlm_names
    from splitbench.models.text import TEXT_ENCODERS

    videos = unmet_source_needs(store, videos=True, checkpoint=False)
    checkpoint = unmet_source_needs(store, videos=False, checkpoint=True)
    return Available(
        where=str(store.path),
        val=store.has_split("val"),
        train=store.has_split("train"),
        text_space_head=text_head_space(store) is not None,
        vlm_spaces=tuple(vlm_names(store)),
        text_encoders=bool(TEXT_ENCODERS.names()),
        videos_missing=videos[0] if videos else "",
        checkpoint_missing=checkpoint[0] if checkpoint else "",
    )


def unmet_needs(needs: Needs, store: FeatureStore) -> list[str]:
    """Declared needs of a method that ``store`` cannot meet, as short phrases.

    Checked from the store alone (no method names): a text-space base head
    (``model.head_space``), support features (a ``train`` split), a VLM space, val
    features, a registered text encoder, and the videos and checkpoint the store was
    extracted from (``extra.sources``). An empty list means the method can run on the
    store as far as its declarations say.
    """
    return unmet(needs, available(store))


def requirement_problems(method: Method, stores: Mapping[str, FeatureStore]) -> list[str]:
    """Everything ``method`` (as configured) needs that one of ``stores`` lacks, deduplicated."""
    missing: list[str] = []
    for store in stores.values():
        for phrase in method.unmet_requirements(store):
            if phrase not in missing:
                missing.append(phrase)
    return missing


def require_needs(method: Method, benchmark: Benchmark, stores: Mapping[str, FeatureStore]) -> None:
    """Refuse, before any unit runs, a method whose declared needs the stores cannot meet.

    Raises:
        UnmetNeedsError: one line naming the method, the subsets, what is missing and how
            to provide it.
    """
    missing = requirement_problems(method, stores)
    if missing:
        subsets = ", ".join(stores)
        raise UnmetNeedsError(
            f"{method.name} cannot run on {benchmark.name} subset{'s' if len(stores) > 1 else ''} "
            f"{subsets}: it needs {explain(missing)}; no unit was run"
        )
