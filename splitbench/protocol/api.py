"""The method API: what a category-splitting method is and what it returns.

A method is a :class:`Method` subclass with metadata, a typed config dataclass and declared
needs. The harness calls :meth:`Method.prepare` once per (subset, seed) and
:meth:`Method.edit` once per (target, seed), then scores whatever ``edit`` returns with the
same code for every method. A method never scores itself.

Two kinds of output are accepted:

* :class:`NewRows` — k weight rows and k biases appended to the frozen base head (most
  methods: zero-shot editors, low-shot finetuning).
* :class:`VideoProbabilities` — per-video probabilities over the edited label space, for
  methods that are not head edits (the VLM cascades).
"""

from __future__ import annotations

import abc
import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Union

from splitbench.core.hashing import json_hash
from splitbench.core.jsonable import to_jsonable
from splitbench.core.needs import Needs
from splitbench.core.plugins import ENTRY_POINT_GROUP as ENTRY_POINT_GROUP
from splitbench.errors import ConfigError
from splitbench.registry import Registry

if TYPE_CHECKING:
    import torch

    from splitbench.features.store import FeatureStore
    from splitbench.protocol.context import SplitTask, SubsetContext

Track = Literal["batch", "sequential"]
"""The multi-target session tracks (:mod:`splitbench.protocol.session`)."""


@dataclass(frozen=True)
class MethodMeta:
    """Descriptive metadata shown by ``splitbench list methods`` and in results.

    Attributes:
        name: Registry name (``snake_case``).
        display_name: Name for tables.
        description: One sentence.
        shots: Labelled videos per subcategory: 0 for zero-shot, ``None`` when the config
            decides.
        kind: ``"head-edit"`` or ``"cascade"`` (informational only; the core never branches
            on it).
        version: Bump when the method's behaviour changes; part of the config hash.
        paper: Reference for the method.
        citation: BibTeX.
    """

    name: str
    display_name: str
    description: str
    shots: int | None = 0
    kind: str = "head-edit"
    version: str = "1"
    paper: str = ""
    citation: str = ""


@dataclass(frozen=True)
class SessionSupport:
    """What a method declares about multi-target sessions (``Method.session_support``).

    Attributes:
        batch: Its edits can be appended together (it returns head rows).
        sequential: It can edit a head that already holds the rows of earlier targets.
        note: How it behaves in a sequential session (shown by ``list methods`` and the
            session table), or why it cannot take part.
    """

    batch: bool = False
    sequential: bool = False
    note: str = ""

    def supports(self, track: Track) -> bool:
        """Whether the method can run the given track."""
        return self.batch if track == "batch" else self.sequential


@dataclass(frozen=True)
class NoConfig:
    """Config of a method that has no options."""


@dataclass(frozen=True, eq=False)
class NewRows:
    """k new head rows for a target's subcategories, in fine-index order.

    Attributes:
        weight: ``(k, D)`` tensor.
        bias: ``(k,)`` tensor.
        info: JSON-serialisable details recorded in the unit result (e.g. which dictionary
            entries were retrieved, which shots were used).
    """

    weight: torch.Tensor
    bias: torch.Tensor
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class VideoProbabilities:
    """Per-video probabilities over the edited label space ``Y ∪ S`` (|Y| + k columns).

    Rows follow the subset's val table order (``ctx.subset.val``). The harness sets the
    coarse column to zero and takes the argmax, exactly as for head edits.

    Attributes:
        probs: ``(N_val, |Y| + k)`` tensor.
        info: JSON-serialisable details recorded in the unit result.
    """

    probs: torch.Tensor
    info: dict[str, Any] = field(default_factory=dict)


EditOutput = Union[NewRows, VideoProbabilities]  # noqa: UP007 - used at runtime


class Method(abc.ABC):
    """Base class of every category-splitting method.

    Subclasses set :attr:`meta`, optionally :attr:`config_class`, :attr:`needs`,
    :attr:`deterministic` and :attr:`session_support` (which multi-target session tracks
    the method takes part in), and implement :meth:`edit`.

    Args:
        config: An instance of :attr:`config_class` (defaults when omitted).
    """

    meta: ClassVar[MethodMeta]
    config_class: ClassVar[type[Any]] = NoConfig
    needs: ClassVar[Needs] = Needs()
    deterministic: ClassVar[bool] = False
    session_support: ClassVar[SessionSupport] = SessionSupport(
        note="declares no support for multi-target sessions"
    )

    def __init__(self, config: Any | None = None) -> None:
        self.config = config if config is not None else self.config_class()
        if not isinstance(self.config, self.config_class):
            raise ConfigError(
                f"method {self.meta.name!r} expects a {self.config_class.__name__} config, "
                f"got {type(self.config).__name__}"
            )

    @property
    def name(self) -> str:
        """The registry name."""
        return self.meta.name

    @property
    def shots(self) -> int | None:
        """Labelled videos per subcategory of this instance, recorded in results.

        ``meta.shots`` by default; methods whose config decides (``meta.shots=None``)
        override it to report the configured count (None when it is not a number).
        """
        return self.meta.shots

    def prepare(self, ctx: SubsetContext, seed: int) -> None:  # noqa: B027 - optional hook
        """Do work shared by all targets of a subset under one seed (optional).

        Example: modifier alignment trains its text→weight mapping here, because the
        mapping depends on the base head and the base modifiers, not on the target.
        """

    @classmethod
    def leaderboard_configs(cls) -> Mapping[str, Mapping[str, Any]]:
        """Named config variants shown on the committed leaderboards besides the default.

        ``splitbench leaderboard build`` runs the default config and each variant, e.g.
        ``{"random-init": {"init": "random"}, "5-shot": {"shots": 5}}``. Values are what
        ``--config key=value`` accepts (or already-typed values); the default config is
        always included and needs no entry.
        """
        return {}

    @abc.abstractmethod
    def edit(self, task: SplitTask, ctx: SubsetContext, seed: int) -> EditOutput:
        """Return the edit for one split target."""

    def unmet_requirements(self, store: FeatureStore) -> list[str]:
        """What this configured method needs that ``store`` lacks (empty when it can run).

        The default checks the declared :attr:`needs`; methods override it for requirements
        that depend on their config. ``leaderboard build`` leaves out methods with unmet
        requirements and lists them with the reasons.
        """
        from splitbench.protocol.needs import unmet_needs

        return unmet_needs(self.needs, store)

    def config_dict(self) -> dict[str, Any]:
        """The resolved config as plain JSON data."""
        cfg = self.config
        if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
            out: dict[str, Any] = to_jsonable(dataclasses.asdict(cfg))
            return out
        return {}

    def config_hash(self) -> str:
        """Hash of method name, method version and resolved config (12 hex digits)."""
        ident = {
            "method": self.meta.name,
            "version": self.meta.version,
            "config": self.config_dict(),
        }
        return json_hash(ident, 12)


def _one_name(name: str, cls: type[Method]) -> str | None:
    """Refuse a method registered under another name than its ``meta.name``.

    Result paths and the leaderboard use ``meta.name``; a second name would let the same
    method's results drop off the board silently.
    """
    meta = getattr(cls, "meta", None)
    own = getattr(meta, "name", None)
    if not isinstance(own, str):
        return "has no meta = MethodMeta(...) with a name"
    if own.strip().lower().replace("-", "_") != name.strip().lower().replace("-", "_"):
        return (
            f"the entry point is named {name!r} but the method's meta.name is {own!r}; "
            f"register it under {own!r} (one name per method)"
        )
    return None


METHODS: Registry[type[Method]] = Registry(
    "method",
    base=Method,
    check=_one_name,
    hint=(
        "Methods come from packages that declare an entry point in the group "
        f"'{ENTRY_POINT_GROUP}' (see README, 'Writing a method'), or from --plugin FILE.py."
    ),
)
_loaded = False


def load_methods() -> Registry[type[Method]]:
    """Fill :data:`METHODS` from installed entry points (once) and return it."""
    global _loaded
    if not _loaded:
        METHODS.load_entry_points(ENTRY_POINT_GROUP)
        _loaded = True
    return METHODS


def build_config(config_class: type[Any], overrides: Mapping[str, Any]) -> Any:
    """Build a config dataclass from defaults plus ``overrides``.

    String values (from ``--config key=value``) are converted to the field's declared type:
    ``int``, ``float``, ``bool``, ``str``, ``Literal[...]``, optionals, and tuples/lists of
    those (comma-separated).

    Raises:
        ConfigError: naming the unknown field, or the field and expected type of a bad value.
    """
    if not dataclasses.is_dataclass(config_class):
        raise ConfigError(f"{config_class!r} is not a dataclass config")
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    hints = typing.get_type_hints(config_class)
    values: dict[str, Any] = {}
    for key, raw in overrides.items():
        name = key.replace("-", "_")
        if name not in fields:
            raise ConfigError(
                f"{config_class.__name__} has no field {key!r}; fields: "
                f"{', '.join(fields) or '(none)'}"
            )
        values[name] = _coerce(raw, hints[name], f"{config_class.__name__}.{name}")
    try:
        return config_class(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{config_class.__name__}: {exc}") from None


def _coerce(raw: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        is_none = raw is None or (isinstance(raw, str) and raw.lower() in ("none", "null"))
        if is_none and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(raw, a, where)
            except ConfigError:
                pass
        expected = " or ".join(_describe(a) for a in args if a is not type(None))
        raise ConfigError(f"{where}: expected {expected}, got {raw!r}")
    if origin is Literal:
        for a in args:
            if raw == a or (isinstance(raw, str) and str(a) == raw):
                return a
        raise ConfigError(f"{where}: expected one of {', '.join(map(repr, args))}, got {raw!r}")
    if origin in (tuple, list):
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        inner = args[0] if args else str
        out = [
            _coerce(i.strip() if isinstance(i, str) else i, inner, where)
            for i in items
            if not (isinstance(i, str) and not i.strip())
        ]
        return tuple(out) if origin is tuple else out
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(raw, str) and raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}: expected true or false, got {raw!r}")
    if tp in (int, float, str):
        try:
            if tp is int and isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            return tp(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected {tp.__name__}, got {raw!r}") from None
    return raw


def _describe(tp: Any) -> str:
    """How an error names a type: ``int``, ``'all'``, ``'a' or 'b'``."""
    if typing.get_origin(tp) is Literal:
        return " or ".join(map(repr, typing.get_args(tp)))
    return getattr(tp, "__name__", str(tp))
