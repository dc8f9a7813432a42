"""A generic, lazily resolved registry with aliases, origins and did-you-mean errors.

Methods, benchmarks and text encoders are all kept in :class:`Registry` instances. Entries
can be objects, ``"module:attr"`` strings or :class:`importlib.metadata.EntryPoint` objects;
the latter two are imported on first use, so ``splitbench --help`` never imports torch.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar, cast

from splitbench.errors import SplitbenchError, UnknownNameError

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class _Entry:
    name: str
    target: Any  # object, "module:attr" or EntryPoint
    origin: str
    loaded: bool = False
    error: str | None = None


class Registry(Generic[T]):
    """A name → object registry.

    Args:
        kind: What the registry holds, used in messages ("method", "benchmark").
        base: Optional class every resolved entry must subclass (or be an instance of).
        hint: One sentence appended to unknown-name errors (how to add an entry).
        check: Called with ``(name, resolved object)``; returns a problem (refused as a
            load error) or None. Methods use it so that the registry key is the method's
            own name.
    """

    def __init__(
        self,
        kind: str,
        base: type | None = None,
        hint: str = "",
        check: Callable[[str, Any], str | None] | None = None,
    ) -> None:
        self.kind = kind
        self.base = base
        self.hint = hint
        self.check = check
        self._entries: dict[str, _Entry] = {}
        self._aliases: dict[str, str] = {}
        self._conflicts: dict[str, list[str]] = {}
        self._lock = threading.RLock()
        self._frozen = False

    # -- registration -------------------------------------------------------------------
    def register(
        self,
        name: str,
        target: T | str | EntryPoint,
        *,
        aliases: tuple[str, ...] = (),
        origin: str | None = None,
    ) -> None:
        """Register ``target`` under ``name`` (and ``aliases``).

        Raises:
            SplitbenchError: if the registry is frozen, or ``name`` is already registered
                to a different target.
        """
        with self._lock:
            if self._frozen:
                raise SplitbenchError(f"the {self.kind} registry is frozen; cannot add {name!r}")
            key = _norm(name)
            existing = self._entries.get(key)
            if existing is not None and not _same_target(existing.target, target):
                raise SplitbenchError(
                    f"{self.kind} {name!r} is already registered from {existing.origin}; "
                    f"refusing to replace it with one from {origin or _origin_of(target)}"
                )
            self._entries[key] = _Entry(name, target, origin or _origin_of(target))
            for alias in aliases:
                self._aliases[_norm(alias)] = key

    def decorator(self, name: str, *aliases: str) -> Callable[[T], T]:
        """Return a decorator that registers the decorated object under ``name``."""

        def wrap(obj: T) -> T:
            self.register(name, obj, aliases=aliases)
            return obj

        return wrap

    def load_entry_points(self, group: str) -> None:
        """Register every entry point of ``group`` lazily.

        Two distributions that declare the same name are recorded as a conflict: asking for
        that name then fails with a message naming both, instead of picking one silently.
        """
        with self._lock:
            for ep in entry_points(group=group):
                origin = entry_point_origin(ep)
                key = _norm(ep.name)
                if key in self._entries:
                    if not _same_target(self._entries[key].target, ep):
                        self._conflicts.setdefault(key, [self._entries[key].origin]).append(origin)
                    continue
                self._entries[key] = _Entry(ep.name, ep, origin)

    def freeze(self) -> None:
        """Make the registry read-only."""
        self._frozen = True

    def _clear(self) -> None:
        """Remove every entry (tests only)."""
        with self._lock:
            self._entries.clear()
            self._aliases.clear()
            self._conflicts.clear()
            self._frozen = False

    # -- lookup -------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(e.name for e in self._entries.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._resolve_key(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def origin(self, name: str) -> str:
        """Where ``name`` comes from: a distribution and version, or ``file:line``."""
        return self._entries[self._require_key(name)].origin

    def get(self, name: str) -> T:
        """Resolve ``name``, importing it on first use.

        Raises:
            UnknownNameError: for an unknown name, with close matches and available names.
            SplitbenchError: when the entry cannot be imported or has the wrong type.
        """
        key = self._require_key(name)
        with self._lock:
            entry = self._entries[key]
            if key in self._conflicts:
                raise SplitbenchError(
                    f"{self.kind} {name!r} is declared by several packages "
                    f"({', '.join(self._conflicts[key])}); uninstall all but one"
                )
            if not entry.loaded:
                entry.target = self._load(entry)
                entry.loaded = True
            return cast(T, entry.target)

    def _load(self, entry: _Entry) -> Any:
        target = entry.target
        try:
            if isinstance(target, EntryPoint):
                obj = target.load()
            elif isinstance(target, str):
                module, _, attr = target.partition(":")
                obj = importlib.import_module(module)
                for part in attr.split(".") if attr else []:
                    obj = getattr(obj, part)
            else:
                obj = target
        except Exception as exc:  # a broken plugin must not look like a missing one
            raise SplitbenchError(
                f"{self.kind} {entry.name!r} (from {entry.origin}) failed to import: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if self.base is not None:
            ok = (inspect.isclass(obj) and issubclass(obj, self.base)) or isinstance(obj, self.base)
            if not ok:
                raise SplitbenchError(
                    f"{self.kind} {entry.name!r} (from {entry.origin}) resolves to {obj!r}, "
                    f"which is not a {self.base.__name__}"
                )
        problem = self.check(entry.name, obj) if self.check is not None else None
        if problem:
            raise SplitbenchError(f"{self.kind} {entry.name!r} (from {entry.origin}): {problem}")
        return obj

    def _resolve_key(self, name: str) -> str | None:
        key = _norm(name)
        if key in self._entries:
            return key
        return self._aliases.get(key)

    def _require_key(self, name: str) -> str:
        key = self._resolve_key(name)
        if key is None:
            names = self.names()
            close = difflib.get_close_matches(name, names + list(self._aliases), n=3, cutoff=0.5)
            msg = f"unknown {self.kind} {name!r}"
            if close:
                msg += f"; did you mean {' or '.join(repr(c) for c in close)}?"
            else:
                msg += "."
            msg += f" Available: {', '.join(names) if names else '(none)'}."
            if self.hint:
                msg += f" {self.hint}"
            raise UnknownNameError(msg)
        return key


def entry_point_origin(ep: EntryPoint) -> str:
    """Where an entry point comes from, as listings show it: ``"<distribution> <version>"``."""
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else str(ep.value)


def _norm(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def _same_target(a: Any, b: Any) -> bool:
    if isinstance(a, EntryPoint) and isinstance(b, EntryPoint):
        return bool(a.value == b.value)
    return a is b or (isinstance(a, str) and a == b)


def _origin_of(target: Any) -> str:
    if isinstance(target, EntryPoint):
        return target.value
    if isinstance(target, str):
        return target
    try:
        file = inspect.getsourcefile(target)
        _, line = inspect.getsourcelines(target)
        return f"{file}:{line}"
    except (TypeError, OSError):
        return repr(target)
