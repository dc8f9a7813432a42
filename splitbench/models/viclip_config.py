"""ViCLIP model shapes: the released L/14 and B/16, and reduced ones for CPU tests."""

from __future__ import annotations

from dataclasses import dataclass, replace

from splitbench.errors import ConfigError


@dataclass(frozen=True)
class ViCLIPConfig:
    """Shape of a ViCLIP model (defaults: ViCLIP-L/14).

    Attributes:
        vision_width: Vision transformer width.
        vision_layers: Vision blocks.
        vision_heads: Vision attention heads.
        patch_size: Spatial patch side.
        image_size: Input side.
        num_frames: Frames (length of the temporal position table).
        embed_dim: Joint embedding dimension.
        text_width: Text transformer width.
        text_layers: Text blocks.
        text_heads: Text attention heads.
        vocab_size: Token vocabulary.
        context_length: Text context length.
    """

    vision_width: int = 1024
    vision_layers: int = 24
    vision_heads: int = 16
    patch_size: int = 14
    image_size: int = 224
    num_frames: int = 8
    embed_dim: int = 768
    text_width: int = 768
    text_layers: int = 12
    text_heads: int = 12
    vocab_size: int = 49408
    context_length: int = 32

    def check(self) -> None:
        """Raise :class:`ConfigError` for impossible shapes."""
        for w, h, name in (
            (self.vision_width, self.vision_heads, "vision"),
            (self.text_width, self.text_heads, "text"),
        ):
            if h < 1 or w % h:
                raise ConfigError(f"ViCLIP {name}: {h} heads do not divide width {w}")
        if self.image_size % self.patch_size:
            raise ConfigError(f"ViCLIP: input {self.image_size} is not a multiple of the patch")


VICLIP_L14 = ViCLIPConfig()
VICLIP_B16 = ViCLIPConfig(
    vision_width=768,
    vision_layers=12,
    vision_heads=12,
    patch_size=16,
    embed_dim=512,
    text_width=512,
    text_heads=8,
)


def reduced_config(
    width: int, layers: int, heads: int, base: ViCLIPConfig = VICLIP_L14, **shape: int
) -> ViCLIPConfig:
    """``base`` with both towers shrunk to one width, depth and head count.

    For random-weight models in the released layout that run on a CPU (tests, benchmarks);
    ``shape`` overrides any other field (``image_size``, ``embed_dim``, ...).
    """
    sizes = {"width": width, "layers": layers, "heads": heads}
    towers = {f"{tower}_{k}": v for tower in ("vision", "text") for k, v in sizes.items()}
    return replace(base, **towers, **shape)
