"""Plugin loading: isolation of broken plugins, strict mode, disabling, no torch at CLI import, and
the commands plugins add to the CLI (register_commands)."""

from __future__ import annotations

import json
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


class _OtherSelector(_Selector):
    name = "other"


def test_a_taken_name_leaves_out_that_object_only() -> None:
    first = _module("first", register_span_selectors=lambda register: register(_Selector()))

    def register_both(register: Any) -> None:
        register(_Selector())
        register(_OtherSelector())

    loaded = load_plugins(extra={"first": first, "second": _module("second", register_span_selectors=register_both)}, entry_points=[])
    status = {s.name: s for s in loaded.statuses}
    assert status["first"].status == "ok" and status["second"].status == "ok"
    assert status["second"].provides == {"selector": ["other"]}  # its other object is kept
    assert status["second"].warnings == ["selector 'everything' left out: the name belongs to plugin 'first'; "
                                         "set DEBIASBENCH_OVERRIDE=everything to use this plugin's instead"]
    assert loaded.registry.find("selector", "everything").provider == "first"


class _Dist:
    def __init__(self, name: str) -> None:
        self.metadata, self.version = {"Name": name}, "1.0"


class _EntryPoint:
    def __init__(self, name: str, distribution: str, module: types.ModuleType) -> None:
        self.name, self.value, self.dist, self._module = name, module.__name__, _Dist(distribution), module

    def load(self) -> Any:
        return self._module


def test_a_bundled_distribution_is_no_different_from_a_third_party_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names go to the plugin that registers first (entry-point name order), whatever its distribution:
    the loader knows no first-party list, so a bundled plugin's taken name is left out like any other."""
    impostor = _module("impostor", register_span_selectors=lambda register: register(_Selector()))
    bundled = _module("bundled", register_span_selectors=lambda register: (register(_Selector()), register(_OtherSelector())))
    for first_distribution, second_distribution in (("evil-pkg", "debiasbench-unlearn"), ("debiasbench-unlearn", "evil-pkg")):
        points = [_EntryPoint("aaa-impostor", first_distribution, impostor), _EntryPoint("span-selectors", second_distribution, bundled)]
        loaded = load_plugins(entry_points=points)
        assert loaded.registry.find("selector", "everything").provider == "aaa-impostor"
        assert loaded.registry.find("selector", "other").provider == "span-selectors"  # the rest of the later plugin loads
        later = next(s for s in loaded.statuses if s.name == "span-selectors")
        assert later.status == "ok" and "belongs to plugin 'aaa-impostor'" in later.warnings[0]
    monkeypatch.setenv("DEBIASBENCH_OVERRIDE", "everything")  # the user opts in, by name
    loaded = load_plugins(entry_points=points)
    assert loaded.registry.find("selector", "everything").provider == "span-selectors"


def test_the_loader_names_no_first_party_plugin() -> None:
    import inspect

    import debiasbench.plugin_system.loader as loader

    source = inspect.getsource(loader)
    for name in ("debiasbench-hf", "debiasbench-metrics", "debiasbench-unlearn", "debiasbench-debias", "FIRST_PARTY"):
        assert name not in source


def test_installed_first_party_plugins_come_from_their_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled plugins are entry points like any other: listed with their distribution, and
    disabled by name; a broken third-party entry point beside them breaks nothing."""
    pytest.importorskip("debiasbench_hf")
    from importlib import metadata

    points = sorted(metadata.entry_points(group="debiasbench"), key=lambda ep: ep.name)
    loaded = load_plugins(entry_points=[*points, _BrokenEntryPoint()])
    status = {s.name: s for s in loaded.statuses}
    assert status["hf-models"].distribution == "debiasbench-hf" and status["hf-models"].status == "ok"
    assert status["broken"].status == "error" and "huggingface" in loaded.registry.names("model")
    monkeypatch.setenv("DEBIASBENCH_DISABLE_PLUGINS", "debiasbench-hf")
    loaded = load_plugins(entry_points=points)
    assert next(s for s in loaded.statuses if s.name == "hf-models").status == "disabled"
    assert "huggingface" not in loaded.registry.names("model")


def test_an_unknown_name_says_which_plugin_failed_to_load() -> None:
    from debiasbench.errors import UnknownNameError

    loaded = load_plugins(entry_points=[_BrokenEntryPoint()])
    with pytest.raises(UnknownNameError, match="plugin 'broken' .* failed to load: import failed: ImportError"):
        loaded.registry.get("method", "token-ga")


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


# --------------------------------------------------------------------------- commands (the register_commands hook)

from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from debiasbench.errors import DebiasbenchError  # noqa: E402

EXAMPLE_PLUGIN = Path(__file__).parent / "example_plugin"


def say_hello(name: Annotated[str, typer.Option("--name", help="Who to greet.")] = "world") -> None:
    """Greet someone."""
    if name == "nobody":
        raise DebiasbenchError("nobody to greet; pass --name NAME")
    typer.echo(f"hello {name}")


def _mixed_styles(name: Annotated[str, typer.Option("--name")] = typer.Option("x")) -> None:
    """Typer rejects an Annotated option that also has a typer.Option default."""


def _commands(name: str, *registrations: tuple[Any, str | None]) -> types.ModuleType:
    def register_commands(register: Any) -> None:
        for function, command_name in registrations:
            register(function, name=command_name)

    return _module(name, register_commands=register_commands)


def _cli(loaded: Any, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """Invoke an app built from ``loaded`` (which is also what `debiasbench plugins` reports)."""
    import debiasbench.plugin_system.loader
    from debiasbench.cli import build_app

    monkeypatch.setattr(debiasbench.plugin_system.loader, "_CACHED", loaded)
    return CliRunner().invoke(build_app(loaded), list(args), catch_exceptions=False)


def test_commands_are_collected_with_their_plugin() -> None:
    loaded = load_plugins(extra={"greeter": _commands("greeter", (say_hello, "hello"), (say_hello, None))}, entry_points=[])
    assert [(c.plugin, c.name, c.function) for c in loaded.commands] == [("greeter", "hello", say_hello), ("greeter", "say-hello", say_hello)]
    assert loaded.statuses[0].provides == {"command": ["hello", "say-hello"]} and loaded.statuses[0].to_dict()["warnings"] == []


@pytest.mark.parametrize(("registration", "error"), [
    ((len, "Bad Name"), "is not lower-case words joined by dashes"),
    (("not a function", "x"), "which is not a function"),
])
def test_a_failing_command_registration_skips_the_plugin(registration: tuple[Any, str], error: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def hooks(register: Any) -> None:
        register(*registration)

    module = _module("bad", register_span_selectors=lambda register: register(_Selector()), register_commands=hooks)
    loaded = load_plugins(extra={"bad": module}, entry_points=[])
    assert loaded.statuses[0].status == "error" and error in (loaded.statuses[0].error or "")
    assert loaded.commands == [] and loaded.registry.names("selector") == []  # its selector is undone too
    (status,) = json.loads(_cli(loaded, monkeypatch, "plugins", "--json").stdout)
    assert status["status"] == "error" and error in status["error"]
    assert _cli(loaded, monkeypatch, "list", "selectors", "--json").stdout.strip() == "[]"  # the built-ins still work


def test_two_plugins_with_one_command_name_the_first_wins() -> None:
    loaded = load_plugins(extra={"first": _commands("first", (say_hello, "hello")),
                                 "second": _commands("second", (say_hello, "hello"))}, entry_points=[])
    assert [(c.plugin, c.name) for c in loaded.commands] == [("first", "hello")]
    second = loaded.status("second")
    assert second.status == "ok" and "command" not in second.provides
    assert second.warnings == ["command 'hello' is registered twice: by plugin 'first' and by plugin 'second'; the first is used"]


def test_a_plugin_command_runs_with_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_plugins(extra={"greeter": _commands("greeter", (say_hello, "hello"))}, entry_points=[])
    listing = _cli(loaded, monkeypatch, "--help")
    assert listing.exit_code == 0 and "Commands from plugins" in listing.stdout and "hello" in listing.stdout
    assert _cli(loaded, monkeypatch, "hello", "--name", "you").stdout == "hello you\n"
    failed = _cli(loaded, monkeypatch, "hello", "--name", "nobody")
    assert failed.exit_code == 1 and failed.stderr.strip() == "error: nobody to greet; pass --name NAME"


def test_a_plugin_command_cannot_shadow_a_builtin(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_plugins(extra={"greeter": _commands("greeter", (say_hello, "run"))}, entry_points=[])
    run_help = _cli(loaded, monkeypatch, "run", "--help")
    assert "--method" in run_help.stdout and "--name" not in run_help.stdout  # the built-in wins
    (status,) = json.loads(_cli(loaded, monkeypatch, "plugins", "--json").stdout)
    assert status["warnings"] == ["command 'run' of plugin 'greeter' clashes with the built-in command 'run'; the built-in is used"]
    assert status["provides"] == {} and loaded.commands == []


def test_a_command_typer_cannot_build_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_plugins(extra={"odd": _commands("odd", (_mixed_styles, "odd"), (say_hello, "hello"))}, entry_points=[])
    listing = _cli(loaded, monkeypatch, "--help")
    assert listing.exit_code == 0 and "hello" in listing.stdout and " odd " not in listing.stdout
    (warning,) = loaded.status("odd").warnings
    assert warning.startswith("command 'odd' of plugin 'odd' cannot be added: MixedAnnotatedAndDefaultStyleError")


def test_the_example_plugin_command_lists_its_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN))
    from debiasbench_example_plugin import command, plugin

    loaded = load_plugins(extra={"example-metric": plugin, "example-command": command}, entry_points=[])
    assert _cli(loaded, monkeypatch, "example-hello").stdout == "hello from debiasbench_example_plugin: metrics pronoun-gap\n"
    wrong = _cli(loaded, monkeypatch, "example-hello", "--kind", "metrics")
    assert wrong.exit_code == 1 and "unknown kind 'metrics'" in wrong.stderr


# The installed example plugin's entry point `example-command` names command.py; the plugin is
# pip-installed once a session (example_plugin_env, tests/conftest.py).
@pytest.mark.slow
def test_installed_example_command_is_in_help(example_plugin_env: dict[str, str]) -> None:
    cli = [sys.executable, "-m", "debiasbench"]
    listing = subprocess.run([*cli, "--help"], capture_output=True, text=True, timeout=300, check=False, env=example_plugin_env)
    assert listing.returncode == 0 and "example-hello" in listing.stdout
    hello = subprocess.run([*cli, "example-hello"], capture_output=True, text=True, timeout=300, check=False, env=example_plugin_env)
    assert hello.returncode == 0 and "pronoun-gap" in hello.stdout, hello.stderr

