"""The generic registry and the method config builder."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint
from typing import Literal

import pytest

from splitbench.errors import ConfigError, SplitbenchError, UnknownNameError
from splitbench.protocol import build_config
from splitbench.registry import Registry


class Base:
    pass


class Impl(Base):
    pass


def test_register_get_alias_and_origin():
    reg: Registry[type[Base]] = Registry("thing", base=Base)
    reg.register("my-thing", Impl, aliases=("mt",))
    assert reg.get("my_thing") is Impl and reg.get("MT") is Impl
    assert "my-thing" in reg and reg.names() == ["my-thing"]
    assert "test_core_registry.py:" in reg.origin("my-thing")


def test_lazy_string_entries_and_type_check():
    import json

    lazy: Registry[object] = Registry("thing")
    lazy.register("lazy", "json:JSONDecoder")
    assert lazy.get("lazy") is json.JSONDecoder
    reg: Registry[object] = Registry("thing", base=Base)
    reg.register("wrong", "collections:OrderedDict")
    with pytest.raises(SplitbenchError, match="which is not a Base"):
        reg.get("wrong")


def test_unknown_name_suggests():
    reg: Registry[object] = Registry("method", hint="Install a plugin.")
    reg.register("modifier_retrieval", object())
    with pytest.raises(UnknownNameError) as e:
        reg.get("modifer_retrieval")
    msg = str(e.value)
    assert "did you mean 'modifier_retrieval'?" in msg and "Install a plugin." in msg


def test_duplicate_registration_is_an_error():
    reg: Registry[object] = Registry("thing")
    a, b = object(), object()
    reg.register("x", a)
    reg.register("x", a)  # same target: fine
    with pytest.raises(SplitbenchError, match="already registered"):
        reg.register("x", b)


def test_broken_entry_point_reports_cause(monkeypatch):
    reg: Registry[object] = Registry("method")
    ep = EntryPoint(name="broken", value="no_such_module_xyz:Thing", group="g")
    monkeypatch.setattr("splitbench.registry.entry_points", lambda group: [ep])
    reg.load_entry_points("g")
    with pytest.raises(SplitbenchError, match="failed to import: ModuleNotFoundError"):
        reg.get("broken")


def test_conflicting_entry_points(monkeypatch):
    reg: Registry[object] = Registry("method")
    eps = [
        EntryPoint(name="dup", value="a:X", group="g"),
        EntryPoint(name="dup", value="b:Y", group="g"),
    ]
    monkeypatch.setattr("splitbench.registry.entry_points", lambda group: eps)
    reg.load_entry_points("g")
    with pytest.raises(SplitbenchError, match="declared by several packages"):
        reg.get("dup")


@dataclass(frozen=True)
class Cfg:
    lr: float = 1e-3
    shots: int = 1
    name: str = "x"
    flag: bool = False
    init: Literal["random", "coarse"] = "coarse"
    seeds: tuple[int, ...] = (0, 1, 2)
    maybe: int | None = None


@pytest.mark.parametrize(
    ("overrides", "field", "value"),
    [
        ({"lr": "0.5"}, "lr", 0.5),
        ({"shots": "5"}, "shots", 5),
        ({"flag": "true"}, "flag", True),
        ({"init": "random"}, "init", "random"),
        ({"seeds": "0,1,3"}, "seeds", (0, 1, 3)),
        ({"maybe": "none"}, "maybe", None),
        ({"maybe": "4"}, "maybe", 4),
    ],
)
def test_build_config_coerces(overrides, field, value):
    assert getattr(build_config(Cfg, overrides), field) == value


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"nope": "1"}, "has no field 'nope'"),
        ({"shots": "1.5"}, "Cfg.shots: expected int"),
        ({"init": "zero"}, "expected one of 'random', 'coarse'"),
        ({"flag": "maybe"}, "expected true or false"),
    ],
)
def test_build_config_errors(overrides, fragment):
    with pytest.raises(ConfigError, match=fragment):
        build_config(Cfg, overrides)


def test_method_entry_point_under_another_name_is_refused_naming_both(tmp_path, monkeypatch):
    from importlib.metadata import EntryPoint

    from splitbench.errors import SplitbenchError
    from splitbench.evaluation import evaluate
    from splitbench.protocol import METHODS, Method

    (tmp_path / "renamed_plugin.py").write_text(
        "from splitbench.protocol import Method, MethodMeta, NewRows\n"
        "class Halfway(Method):\n"
        "    meta = MethodMeta('halfway', 'Halfway', 'test', shots=0)\n"
        "    def edit(self, task, ctx, seed):\n"
        "        c = task.coarse_index\n"
        "        return NewRows(ctx.weight[c].repeat(task.k, 1), ctx.bias[c].repeat(task.k))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    reg: Registry[type[Method]] = Registry("method", base=Method, check=METHODS.check)
    reg.register("other_name", EntryPoint("other_name", "renamed_plugin:Halfway", "g"))
    reg.register("halfway", "renamed_plugin:Halfway")
    with pytest.raises(SplitbenchError) as exc:
        evaluate(["other_name"], "synthetic", output_dir=tmp_path / "out", registry=reg)
    msg = str(exc.value)
    assert "\n" not in msg and "'other_name'" in msg and "'halfway'" in msg
    assert not (tmp_path / "out").exists()  # refused before any unit
    assert reg.get("halfway").meta.name == "halfway"  # one name: loads
