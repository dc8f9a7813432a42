"""Loading unpublished methods from files, and method config files."""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from splitbench.errors import ConfigError
from splitbench.protocol.api import Method
from splitbench.registry import Registry


def load_plugin_files(paths: Sequence[Path], registry: Registry[type[Method]]) -> list[str]:
    """Import each file and register the :class:`Method` subclasses it defines.

    Returns:
        The names registered.

    Raises:
        ConfigError: if a file is missing, fails to import, or defines no method.
    """
    names = []
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"--plugin {path}: file does not exist")
        mod_name = f"splitbench_plugin_{abs(hash(path.resolve()))}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"--plugin {path}: not an importable Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise ConfigError(
                f"--plugin {path}: import failed: {type(exc).__name__}: {exc}"
            ) from exc
        found = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, Method)
            and obj is not Method
            and obj.__module__ == mod_name
            and not inspect.isabstract(obj)
        ]
        if not found:
            raise ConfigError(f"--plugin {path}: defines no Method subclass")
        for cls in found:
            registry.register(cls.meta.name, cls, origin=str(path))
            names.append(cls.meta.name)
    return names


def read_config_file(path: Path) -> dict[str, Any]:
    """Read method options from a JSON or TOML file (a flat mapping).

    Raises:
        ConfigError: for a missing file, a parse error or a non-mapping.
    """
    if not path.is_file():
        raise ConfigError(f"--config-file {path}: file does not exist")
    text = path.read_text()
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"--config-file {path}: cannot parse ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config-file {path}: expected a mapping of option names to values")
    return dict(data)
