"""Plugin loading: isolation of broken plugins, strict mode, disabling, no torch at CLI import."""

from __future__ import annotations

import subprocess
import sys
import types
from typing import Any

import pytest

from debiasbench import hookimpl
from debiasbench.errors import PluginError
from debiasbench.plugin_system.interfaces import NoOptions, SpanSelector
from debiasbench.plugin_system.loader import load_plugins


class _Selector(SpanSelector):
    name = "everything"
    Options = NoOptions

    def select(self, items: Any, ctx: Any) -> list[list[bool]]:
        return [[True] * len(item.input_ids) for item in items]


def _module(name: str, **hooks: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, func in hooks.items():
        setattr(module, hook_name, hookimpl(func))
    return module


class _BrokenEntryPoint:
    name = "broken"
    value = "broken_pkg.plugin"
    dist = None

    def load(self) -> Any:
        raise ImportError("No module named 'broken_dependency'")


def test_good_plugin_registers() -> None:
    good = _module("good", register_span_selectors=lambda register: register(_Selector()))
    loaded = load_plugins(extra={"good": good}, entry_points=[])
    assert loaded.registry.names("selector") == ["everything"]
    assert loaded.statuses[0].provides == {"selector": ["everything"]}


def test_import_error_is_recorded_not_raised() -> None:
    good = _module("good", register_span_selectors=lambda register: register(_Selector()))
    loaded = load_plugins(extra={"good": good}, entry_points=[_BrokenEntryPoint()])
    broken = next(s for s in loaded.statuses if s.name == "broken")
    assert broken.status == "error" and "broken_dependency" in (broken.error or "")
    assert loaded.registry.names("selector") == ["everything"]


def test_failing_registration_is_undone() -> None:
    def register_bad(register: Any) -> None:
        register(_Selector())
        raise RuntimeError("boom")

    loaded = load_plugins(extra={"bad": _module("bad", register_span_selectors=register_bad)}, entry_points=[])
    assert loaded.statuses[0].status == "error" and "boom" in (loaded.statuses[0].error or "")
    assert loaded.registry.names("selector") == []


def test_duplicate_across_plugins_is_an_error_for_the_second() -> None:
    first = _module("first", register_span_selectors=lambda register: register(_Selector()))
    second = _module("second", register_span_selectors=lambda register: register(_Selector()))
    loaded = load_plugins(extra={"first": first, "second": second}, entry_points=[])
    status = {s.name: s for s in loaded.statuses}
    assert status["first"].status == "ok"
    assert status["second"].status == "error" and "'first'" in (status["second"].error or "")


def test_strict_mode_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBIASBENCH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="broken"):
        load_plugins(entry_points=[_BrokenEntryPoint()])


def test_disabled_plugin_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBIASBENCH_DISABLE_PLUGINS", "good, other")
    good = _module("good", register_span_selectors=lambda register: register(_Selector()))
    loaded = load_plugins(extra={"good": good}, entry_points=[])
    assert loaded.statuses[0].status == "disabled" and loaded.registry.names("selector") == []


def test_installed_plugins_load_without_torch() -> None:
    """`debiasbench plugins` imports every plugin module; none may import torch at import time."""
    code = (
        "import sys\n"
        "from debiasbench.plugin_system.loader import get_plugins\n"
        "import debiasbench.cli\n"
        "loaded = get_plugins()\n"
        "heavy = [m for m in ('torch', 'transformers', 'datasets') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print(len(loaded.statuses))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
