"""What every view protocol shares: its grid of temporal views × crops and its setting checks.

:class:`~splitbench.video.views.EvalViews` (the base model's evaluation views) and
:class:`~splitbench.video.vlm_views.VLMViews` (a video-language encoder's) both derive from
:class:`ViewGrid`; each declares its own dataclass fields, so their field order and records
are their own.
"""

from __future__ import annotations

from collections.abc import Sequence

from splitbench.errors import ConfigError


class ViewGrid:
    """A mixin for frozen dataclasses with ``segments`` temporal views of ``crops`` crops each."""

    segments: int
    crops: int

    @property
    def views(self) -> int:
        """Views per video."""
        return self.segments * self.crops

    def check_settings(
        self, what: str, sizes: Sequence[str], choices: dict[str, Sequence[str]]
    ) -> None:
        """Raise for a size below 1 or a setting outside its choices.

        Args:
            what: How errors name the protocol (``view protocol``, ``VLM views``).
            sizes: Fields that must be at least 1, checked in this order.
            choices: Field → the values it may take, checked after the sizes.

        Raises:
            ConfigError: ``<what>: <field> must be at least 1``, or ``<what>: <field>
                <value>; expected a or b`` (``expected one of a, b, c`` for more choices),
                for the first setting at fault.
        """
        for name in sizes:
            if getattr(self, name) < 1:
                raise ConfigError(f"{what}: {name} must be at least 1")
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                expected = (
                    " or ".join(allowed) if len(allowed) == 2 else f"one of {', '.join(allowed)}"
                )
                raise ConfigError(f"{what}: {name} {value!r}; expected {expected}")
