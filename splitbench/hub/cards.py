"""Dataset cards: Jinja templates in ``data_cards/`` rendered with huggingface_hub.

Cards are rendered by ``DatasetCard.from_template`` from :class:`DatasetCardData` and checked
offline with the card tools (the YAML must parse back to the same metadata and its
``configs:`` must be valid for ``datasets``). The Hub's own online check
(``DatasetCard.validate``) runs just before an upload. Cards hold no timestamps and no local
paths, so the same input renders the same card.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from splitbench.errors import DataError
from splitbench.hub.folder import first_line

if TYPE_CHECKING:
    from huggingface_hub import DatasetCard, DatasetCardData

TEMPLATES = Path(__file__).parent / "data_cards"
UPSTREAM_REPO = "KaitingLiu/Category-Splitting"
UPSTREAM_URL = f"https://github.com/{UPSTREAM_REPO}"
UPSTREAM_CHECKED_COMMIT = "ecac672ef6f482f29e9e19e54065bbab433d81fa"

SSV2_CITATION = """@inproceedings{goyal2017something,
  title     = {The "Something Something" Video Database for Learning and Evaluating Visual
               Common Sense},
  author    = {Goyal, Raghav and Ebrahimi Kahou, Samira and Michalski, Vincent and
               Materzynska, Joanna and Westphal, Susanne and Kim, Heuna and Haenel, Valentin
               and Fruend, Ingo and Yianilos, Peter and Mueller-Freitag, Moritz and others},
  booktitle = {IEEE International Conference on Computer Vision (ICCV)},
  year      = {2017}
}"""

FINEGYM_CITATION = """@inproceedings{shao2020finegym,
  title     = {FineGym: A Hierarchical Video Dataset for Fine-grained Action Understanding},
  author    = {Shao, Dian and Zhao, Yue and Dai, Bo and Lin, Dahua},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2020}
}"""


@dataclass(frozen=True)
class BenchmarkFacts:
    """What a card says about a benchmark beyond its data.

    Attributes:
        license: Card ``license`` id.
        license_name: Card ``license_name`` (only with ``license: other``).
        license_link: Card ``license_link``.
        source_datasets: Card ``source_datasets``.
        upstream: Where the annotation files come from (for the card text).
        upstream_folder: The folder of the upstream repository they were read from.
        videos: Name of the video dataset, empty for simulations.
        videos_where: Where users obtain the videos.
        notes: Extra sentences about the data (one per line).
        citations: BibTeX entries of the source datasets.
    """

    license: str
    license_name: str | None = None
    license_link: str | None = None
    source_datasets: tuple[str, ...] = ()
    upstream: str = ""
    upstream_folder: str = ""
    videos: str = ""
    videos_where: str = ""
    notes: tuple[str, ...] = ()
    citations: tuple[str, ...] = field(default_factory=tuple)


def _upstream_facts(
    folder: str,
    source_dataset: str,
    videos: str,
    videos_where: str,
    citation: str,
    notes: tuple[str, ...] = (),
) -> BenchmarkFacts:
    """Facts of a benchmark whose annotation files are ``folder`` of the upstream repository.

    The upstream repository states no licence, so every such card says ``license: other``
    with unknown upstream terms and links the repository; the source datasets are the video
    dataset and the repository.

    Args:
        folder: The benchmark's folder in the upstream repository (``Datasets/...``).
        source_dataset: Card name of the video dataset the annotations index.
        videos: Name of the video dataset (for the card text).
        videos_where: Where users obtain the videos.
        citation: BibTeX entry of the video dataset.
        notes: Extra sentences about the data.
    """
    return BenchmarkFacts(
        license="other",
        license_name="unknown-upstream-terms",
        license_link=UPSTREAM_URL,
        source_datasets=(source_dataset, f"github:{UPSTREAM_REPO}"),
        upstream=f"{UPSTREAM_REPO}, folder {folder}",
        upstream_folder=folder,
        videos=videos,
        videos_where=videos_where,
        notes=notes,
        citations=(citation,),
    )


FACTS: dict[str, BenchmarkFacts] = {
    "ssv2-split": _upstream_facts(
        "Datasets/SSv2-Split",
        "Something-Something V2",
        videos="Something-Something V2",
        videos_where="the official Something-Something V2 download, published by Qualcomm "
        "(formerly TwentyBN), after accepting its licence",
        citation=SSV2_CITATION,
    ),
    "finegym-split": _upstream_facts(
        "Datasets/FineGym-Split",
        "FineGym (Gym288)",
        videos="FineGym",
        videos_where="the FineGym project page (https://sdolivia.github.io/FineGym/), whose "
        "annotations point at YouTube videos; their terms and YouTube's apply",
        citation=FINEGYM_CITATION,
        notes=(
            "The upstream authors dropped FineGym288 videos they could not download, and of "
            "three pairs of identically named Gym288 labels (180/216, 181/217, 185/222) kept "
            "only the samples of 216, 217 and 222.",
        ),
    ),
}

SIMULATION_FACTS = BenchmarkFacts(license="mit", source_datasets=("original",))


def facts_for(name: str, simulation: bool) -> BenchmarkFacts:
    """Facts for a benchmark; simulations and unknown benchmarks get neutral ones."""
    if simulation:
        return SIMULATION_FACTS
    return FACTS.get(name, BenchmarkFacts(license="unknown"))


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket for ``n`` rows."""
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
        (100_000_000, "10M<n<100M"),
    ):
        if n < limit:
            return label
    return "100M<n<1B" if n < 1_000_000_000 else "1B<n<10B"


def card_data(**fields: Any) -> DatasetCardData:
    """A :class:`DatasetCardData` without empty fields (they would be written as ``null``)."""
    from huggingface_hub import DatasetCardData

    return DatasetCardData(**{k: v for k, v in fields.items() if v not in (None, [], (), "")})


def render_card(template: str, data: DatasetCardData, **kwargs: Any) -> DatasetCard:
    """Render ``data_cards/<template>`` and check the result offline.

    Raises:
        DataError: if the rendered card does not parse back to ``data`` or its configs are
            invalid for ``datasets``.
    """
    from huggingface_hub import DatasetCard

    card: DatasetCard = DatasetCard.from_template(
        data, template_path=str(TEMPLATES / template), **kwargs
    )
    check_card(card, expected=data.to_dict())  # type: ignore[no-untyped-call]
    return card


def check_card(card: DatasetCard, expected: dict[str, Any] | None = None) -> None:
    """Offline card validation with the card tools.

    Raises:
        DataError: when the YAML does not round-trip, configs are invalid, or a required
            field (``license``, ``configs``) is missing.
    """
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    again = DatasetCard(str(card))
    meta = again.data.to_dict()  # type: ignore[no-untyped-call]
    if expected is not None and meta != expected:
        diff = sorted(k for k in set(meta) | set(expected) if meta.get(k) != expected.get(k))
        raise DataError(f"dataset card YAML does not round-trip (fields {', '.join(diff)})")
    for key in ("license", "configs"):
        if not meta.get(key):
            raise DataError(f"dataset card has no {key!r} field")
    try:
        MetadataConfigs.from_dataset_card_data(again.data)
    except ValueError as exc:
        raise DataError(f"dataset card configs are invalid: {first_line(exc)}") from None
    if not again.text.strip():
        raise DataError("dataset card has no text")
