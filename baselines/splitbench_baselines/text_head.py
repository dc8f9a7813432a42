"""``text_head``: new rows are the text embeddings of the subcategory names (Text4Vis idea).

When the base model is a vision-language classifier — its head rows are (scaled) text
embeddings of the label names, as in Text4Vis (Wu et al., AAAI 2023) or a zero-shot VLM
classifier — splitting a class needs no data and no mapping: the k new rows are the text
embeddings of the k subcategory names under the same text encoder and prompts, L2-normalised
and scaled to the median norm of the existing rows; the biases copy the coarse class's.

The store says whether its head lives in a text space (``store.json`` ``model.head_space``,
see :meth:`SubsetContext.head_text_space`). Where it does not — e.g. the MVD base models
whose heads were trained on video features — the method refuses with a one-line message
instead of producing meaningless rows, and every unit is recorded as failed with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from splitbench.protocol import (
    Method,
    MethodError,
    MethodMeta,
    Needs,
    NewRows,
    SessionSupport,
    SplitTask,
    SubsetContext,
    TextEncoder,
    class_embeddings,
    templates,
)

CITATION = """@inproceedings{wu2023text4vis,
  title     = {Revisiting Classifier: Transferring Vision-Language Models for Video Recognition},
  author    = {Wu, Wenhao and Sun, Zhun and Ouyang, Wanli},
  booktitle = {AAAI},
  year      = {2023}
}"""


@dataclass(frozen=True)
class TextHeadConfig:
    """Options of ``text_head``.

    Attributes:
        prompts: Prompt set for the subcategory names; empty = the one the base head's rows
            were made with (``model.head_space.prompts``).
    """

    prompts: str = ""

    def __post_init__(self) -> None:
        if self.prompts:
            templates(self.prompts)


class TextHead(Method[TextHeadConfig]):
    """New rows = scaled text embeddings of the subcategory names (text-space heads only)."""

    meta = MethodMeta(
        name="text_head",
        display_name="Text head (Text4Vis)",
        description="Zero-shot for vision-language classifiers: each new row is the text "
        "embedding of the subcategory name, scaled like the existing rows; needs a base head "
        "in a text-embedding space.",
        shots=0,
        paper="Text4Vis: Wu, Sun & Ouyang, AAAI 2023 (classifier rows from text embeddings)",
        citation=CITATION,
    )
    config_class = TextHeadConfig
    needs = Needs(text_encoder=True, text_space_head=True)
    deterministic = True
    session_support = SessionSupport.both("rows come from label texts alone")

    def __init__(self, config: TextHeadConfig | None = None) -> None:
        super().__init__(config)
        self._space: dict[str, Any] = {}
        self._encoder: TextEncoder | None = None
        self._scale = 1.0

    def prepare(self, ctx: SubsetContext, seed: int) -> None:
        """Check that the head lives in a text space; set up its text encoder and scale.

        Raises:
            MethodError: when the base head is not in a text-embedding space.
        """
        space = ctx.head_text_space()
        if space is None:
            model = ctx.store_info.model.get("name", "?")
            raise MethodError(
                f"text_head needs a base model whose head rows are text embeddings of the label "
                f"names (a vision-language classifier, declared in store.json as "
                f"model.head_space); the base model of {ctx.store_info.path} is {model!r}, whose "
                f"head is not in a text space"
            )
        if space.get("vlm"):
            self._encoder = ctx.vlm_text_encoder(ctx.vlm(str(space["vlm"])))
        else:
            self._encoder = ctx.text_encoder(str(space["text_encoder"]))
        self._space = space
        self._scale = float(ctx.weight.norm(dim=1).median())

    def edit(self, task: SplitTask, ctx: SubsetContext, seed: int) -> NewRows:
        """Embed the subcategory names and scale them like the existing rows."""
        if self._encoder is None:
            raise RuntimeError("prepare() was not called")
        prompts = self.config.prompts or str(self._space.get("prompts") or "raw")
        emb = torch.from_numpy(class_embeddings(self._encoder, task.fine_labels, prompts))
        c = task.coarse_index
        return NewRows(
            weight=emb * self._scale,
            bias=ctx.bias[c].repeat(task.k).clone(),
            info={
                "prompts": prompts,
                "row_norm": round(self._scale, 6),
                "text_encoder": self._encoder.identity,
                "head_space": self._space,
            },
        )
