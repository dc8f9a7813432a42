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
import functools
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Union

from pydantic import ConfigDict, PydanticSchemaGenerationError, TypeAdapter, ValidationError

from splitbench.core.hashing import json_hash
from splitbench.core.jsonable import to_jsonable
from splitbench.core.needs import Needs
from splitbench.core.plugins import ENTRY_POINT_GROUP as ENTRY_POINT_GROUP
from splitbench.errors import ConfigError
from splitbench.protocol.needs import unmet_needs
from splitbench.registry import Registry

if sys.version_info >= (3, 13):
    from typing import TypeVar
else:  # PEP 696 type-parameter defaults
    from typing_extensions import TypeVar

if TYPE_CHECKING:
    import torch

    from splitbench.features.store import FeatureStore
    from splitbench.protocol.context import SplitTask, SubsetContext

ConfigT = TypeVar("ConfigT", default=Any)
"""A method's config type: ``class MyMethod(Method[MyConfig])`` types ``self.config``."""
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

    @classmethod
    def both(cls, note: str) -> SessionSupport:
        """Support for both tracks (batch and sequential); ``note`` says how it behaves."""
        return cls(batch=True, sequential=True, note=note)

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


class Method(abc.ABC, Generic[ConfigT]):
    """Base class of every category-splitting method.

    Subclasses set :attr:`meta`, optionally :attr:`config_class`, :attr:`needs`,
    :attr:`deterministic`, :attr:`session_support` (which multi-target session tracks
    the method takes part in) and :attr:`prepare_ahead` (whether :meth:`prepare` keeps its
    work in the shared artefact cache, :func:`splitbench.protocol.artefacts.shared_artefact`,
    so that ``--jobs`` > 1 may run it ahead, before the units, on whichever worker is
    free, :mod:`splitbench.protocol.pool`), and implement :meth:`edit`. Subclassing
    ``Method[MyConfig]`` (with ``config_class = MyConfig``) types :attr:`config`.

    Args:
        config: An instance of :attr:`config_class` (defaults when omitted).
    """

    config: ConfigT

    meta: ClassVar[MethodMeta]
    config_class: ClassVar[type[Any]] = NoConfig
    needs: ClassVar[Needs] = Needs()
    deterministic: ClassVar[bool] = False
    prepare_ahead: ClassVar[bool] = False
    session_support: ClassVar[SessionSupport] = SessionSupport(
        note="declares no support for multi-target sessions"
    )

    def __init__(self, config: ConfigT | None = None) -> None:
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

    def prepare(self, ctx: SubsetContext, seed: int) -> None:
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


def build_config(config_class: type[ConfigT], overrides: Mapping[str, Any]) -> ConfigT:
    """Build a config dataclass from defaults plus ``overrides``.

    Values are validated against the field's declared type by pydantic (lax mode: ``"5"``
    is an ``int``, ``"yes"`` a ``bool``). Text from ``--config key=value`` is read first:
    ``none``/``null`` for an optional field, comma-separated items for a tuple or list.

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


_NUMBERS_AS_TEXT = ConfigDict(coerce_numbers_to_str=True)  # name=3 → "3", as the CLI would


@functools.lru_cache(maxsize=256)
def _adapter(tp: Any) -> TypeAdapter[Any] | None:
    """The validator of one field type (None for a type pydantic has no schema for)."""
    try:
        return TypeAdapter(tp, config=_NUMBERS_AS_TEXT)
    except PydanticSchemaGenerationError:
        return None


def _coerce(raw: Any, tp: Any, where: str) -> Any:
    adapter = _adapter(tp)
    if adapter is None:  # an arbitrary class: the value is passed as given
        return raw
    try:
        return adapter.validate_python(_from_text(raw, tp))
    except ValidationError:
        raise ConfigError(f"{where}: expected {_describe(tp)}, got {raw!r}") from None


def _from_text(raw: Any, tp: Any) -> Any:
    """What ``--config key=value`` text means for a field of type ``tp``."""
    if not isinstance(raw, str):
        return raw
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    members = args if origin in (Union, types.UnionType) else (tp,)
    if type(None) in members and raw.strip().lower() in ("none", "null"):
        return None
    for m in members:
        if typing.get_origin(m) in (tuple, list):
            return [i.strip() for i in raw.split(",") if i.strip()]
        if typing.get_origin(m) is Literal:
            for value in typing.get_args(m):
                if not isinstance(value, str) and str(value) == raw:
                    return value  # Literal[1, 2] given "1"
    return raw


def _describe(tp: Any) -> str:
    """How an error names a type: ``int``, ``one of 'a', 'b'``, ``int or 'all'``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return "one of " + ", ".join(map(repr, args))
    if origin in (Union, types.UnionType):
        return " or ".join(
            " or ".join(map(repr, typing.get_args(a)))
            if typing.get_origin(a) is Literal
            else _describe(a)
            for a in args
            if a is not type(None)
        )
    if origin in (tuple, list):
        return f"a comma-separated list of {_describe(args[0]) if args else 'str'}"
    if tp is bool:
        return "true or false"
    return getattr(tp, "__name__", str(tp))
