"""Load plugins from the ``debiasbench`` entry-point group, each in isolation.

A plugin that fails to import or to register is recorded (``debiasbench plugins`` shows
why) and skipped, so one broken third-party package cannot break the CLI. Set
``DEBIASBENCH_STRICT_PLUGINS=1`` to turn such failures into errors, and
``DEBIASBENCH_DISABLE_PLUGINS=a,b`` to skip plugins by entry-point name.

The first-party plugins (``plugins/`` of the repository) are found and loaded only through their
entry points, exactly like a third-party package: the core names none of them.

Commands a plugin adds (the ``register_commands`` hook) are not registry objects: they are kept
in :attr:`LoadedPlugins.commands` for the CLI to mount. A command whose name an earlier plugin
already took is left out, with a warning on the later plugin's status naming both.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, NamedTuple

import pluggy

from debiasbench.errors import PluginError
from debiasbench.plugin_system import hookspecs
from debiasbench.plugin_system.registry import Registry

ENTRY_POINT_GROUP = "debiasbench"
COMMAND_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
"""What a plugin command may be called: lower-case words joined by dashes."""


@dataclass
class PluginStatus:
    """What happened when one plugin was loaded."""

    name: str  # entry-point name
    module: str
    distribution: str
    version: str
    status: str = "ok"  # ok | error | disabled
    error: str | None = None
    provides: dict[str, list[str]] = field(default_factory=dict)  # kind (or "command") -> names
    warnings: list[str] = field(default_factory=list)  # e.g. a command left out for a name clash

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "provides": self.provides,
            "warnings": self.warnings,
        }


class PluginCommand(NamedTuple):
    """A command a plugin adds to the ``debiasbench`` CLI."""

    plugin: str  # entry-point name
    name: str
    function: Callable[..., Any]


@dataclass
class LoadedPlugins:
    """The registry built from every plugin that loaded, plus each plugin's status."""

    registry: Registry
    statuses: list[PluginStatus]
    commands: list[PluginCommand] = field(default_factory=list)

    def versions(self) -> dict[str, str]:
        """Plugin name -> "distribution version", recorded with every run."""
        return {s.name: f"{s.distribution} {s.version}" for s in self.statuses if s.status == "ok"}

    def status(self, plugin: str) -> PluginStatus:
        return next(s for s in self.statuses if s.name == plugin)

    def reject_command(self, command: PluginCommand, reason: str) -> None:
        """Leave ``command`` out (e.g. it clashes with a built-in); ``reason`` becomes a warning on its plugin."""
        self.commands = [c for c in self.commands if c is not command]
        status = self.status(command.plugin)
        names = status.provides.get("command", [])
        if command.name in names:
            names.remove(command.name)
            if not names:
                del status.provides["command"]
        status.warnings.append(reason)

    def _add_commands(self, commands: list[PluginCommand]) -> None:
        """Accept a plugin's commands; a name an earlier plugin took stays with that plugin."""
        for command in commands:
            earlier = next((c for c in self.commands if c.name == command.name), None)
            self.commands.append(command)
            self.status(command.plugin).provides.setdefault("command", []).append(command.name)
            if earlier is not None:
                self.reject_command(command, f"command {command.name!r} is registered twice: by plugin {earlier.plugin!r} "
                                             f"and by plugin {command.plugin!r}; the first is used")


def _env_list(name: str) -> set[str]:
    return {part.strip() for part in os.environ.get(name, "").split(",") if part.strip()}


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return text[0] if text else type(exc).__name__


def _normal(name: str) -> str:
    """A distribution name as pip compares them (``acme_plugin`` is ``acme-plugin``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _note_unknown_disabled(disabled: set[str] | frozenset[str], statuses: list[PluginStatus]) -> None:
    """One line on stderr for each name in DEBIASBENCH_DISABLE_PLUGINS that matches no plugin (it
    would otherwise do nothing, silently)."""
    import sys

    known = {s.name for s in statuses} | {_normal(s.distribution) for s in statuses}
    for name in sorted(disabled):
        if name not in known and _normal(name) not in known:
            names = ", ".join(sorted(s.name for s in statuses))
            sys.stderr.write(f"note: DEBIASBENCH_DISABLE_PLUGINS names {name!r}, which is no installed plugin (by entry-point "
                             f"or distribution name); nothing was disabled for it. Plugins: {names}\n")


def load_plugins(extra: dict[str, Any] | None = None, entry_points: list[Any] | None = None) -> LoadedPlugins:
    """Import every plugin and collect its registrations into a fresh :class:`Registry`.

    ``extra`` maps names to already-imported plugin modules or objects (tests use it);
    ``entry_points`` overrides discovery (tests use it too).
    """
    strict = os.environ.get("DEBIASBENCH_STRICT_PLUGINS", "") not in ("", "0", "false")
    disabled = _env_list("DEBIASBENCH_DISABLE_PLUGINS")
    registry = Registry()
    statuses: list[PluginStatus] = []
    if entry_points is None:
        entry_points = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)

    candidates: list[tuple[PluginStatus, Any]] = []
    seen: set[str] = set()
    for ep in entry_points:
        if ep.name in seen:  # the same distribution found twice on sys.path
            continue
        seen.add(ep.name)
        dist = getattr(ep, "dist", None)
        status = PluginStatus(
            name=ep.name,
            module=ep.value,
            distribution=dist.metadata["Name"] if dist is not None else "?",
            version=dist.version if dist is not None else "?",
        )
        statuses.append(status)
        if ep.name in disabled or _normal(status.distribution) in {_normal(d) for d in disabled}:
            status.status = "disabled"
            continue
        try:
            candidates.append((status, ep.load()))
        except Exception as exc:  # noqa: BLE001 - isolation is the point
            _fail(status, exc, strict, "import")
    for name, module in (extra or {}).items():
        status = PluginStatus(name=name, module=getattr(module, "__name__", repr(module)), distribution="(in-process)", version="")
        statuses.append(status)
        if name in disabled:
            status.status = "disabled"
            continue
        candidates.append((status, module))

    _note_unknown_disabled(disabled, statuses)
    loaded = LoadedPlugins(registry=registry, statuses=statuses)
    overrides = _env_list("DEBIASBENCH_OVERRIDE")
    # Entry points register in name order (in-process modules after them), the bundled ones no
    # differently from any other: a name belongs to the first plugin that registers it, and a later
    # plugin's object of a taken name is left out with a warning, unless the user opts in by name.
    for status, module in candidates:
        if (mismatch := api_mismatch(module)) is not None:
            status.warnings.append(mismatch)
        loaded._add_commands(_register_one(registry, status, module, strict, overrides))
    registry.load_errors = [f"plugin {s.name!r} ({s.distribution}) failed to load: {s.error}" for s in statuses if s.status == "error"]
    return loaded


def api_mismatch(module: Any) -> str | None:
    """A warning when a plugin module declares ``DEBIASBENCH_API`` (the major version of
    :data:`debiasbench.api.API_VERSION` it was written for, docs/api.md) and it is not this one's;
    the plugin still loads."""
    declared = getattr(module, "DEBIASBENCH_API", None)
    if declared is None:
        return None
    major = hookspecs.API_VERSION.split(".")[0]
    if not isinstance(declared, str) or not re.fullmatch(r"\d+(\.\d+)?", declared):
        return f"DEBIASBENCH_API = {declared!r} is not an API version such as {major!r}; see docs/api.md"
    if declared.split(".")[0] != major:
        return f"written for debiasbench API {declared}; this is API {hookspecs.API_VERSION}: it may not work (docs/api.md)"
    return None


def _register_one(registry: Registry, status: PluginStatus, module: Any, strict: bool,
                  overrides: set[str] | frozenset[str] = frozenset()) -> list[PluginCommand]:
    """Call each registration hook of one plugin and return its commands; on any failure undo
    what it registered (its commands included). A name another plugin already owns is not a
    failure: that one object is left out (with a warning), or replaces the owner's when the user
    named it in ``DEBIASBENCH_OVERRIDE``."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    commands: list[PluginCommand] = []
    try:
        pm.register(module, name=status.name)
        for hook_name, kind in hookspecs.HOOK_KINDS.items():
            caller = getattr(pm.hook, hook_name)

            def register(obj: Any, _kind: str = kind) -> None:
                owner = registry.owner_of(_kind, obj)
                if owner is not None and owner.provider != status.name:
                    name = getattr(obj, "name", "?")
                    if name not in overrides:
                        status.warnings.append(f"{_kind} {name!r} left out: the name belongs to plugin {owner.provider!r}; "
                                               f"set DEBIASBENCH_OVERRIDE={name} to use this plugin's instead")
                        return
                    registry.remove(_kind, owner.name)
                    status.warnings.append(f"{_kind} {name!r} overrides plugin {owner.provider!r}'s (DEBIASBENCH_OVERRIDE)")
                entry = registry.add(_kind, obj, status.name)
                status.provides.setdefault(_kind, []).append(entry.name)

            caller(register=register)
        getattr(pm.hook, hookspecs.COMMAND_HOOK)(register=lambda function, name=None: commands.append(
            _command(status.name, function, name)))
    except Exception as exc:  # noqa: BLE001 - isolation is the point
        registry.remove_provider(status.name)
        status.provides = {}
        _fail(status, exc, strict, "registration")
        return []
    return commands


def _command(plugin: str, function: Any, name: str | None) -> PluginCommand:
    """Check one ``register_commands`` registration: a callable and a valid command name."""
    if not callable(function):
        raise TypeError(f"register_commands was given {function!r}, which is not a function")
    name = name if name is not None else getattr(function, "__name__", "").replace("_", "-")
    if not isinstance(name, str) or not COMMAND_NAME.fullmatch(name):
        raise ValueError(f"command name {name!r} is not lower-case words joined by dashes")
    return PluginCommand(plugin, name, function)


def _fail(status: PluginStatus, exc: BaseException, strict: bool, stage: str) -> None:
    status.status = "error"
    status.error = f"{stage} failed: {_one_line(exc)}"
    if os.environ.get("DEBIASBENCH_DEBUG"):
        traceback.print_exception(exc)
    if strict:
        raise PluginError(f"plugin {status.name!r} ({status.module}): {status.error}") from exc


_CACHED: LoadedPlugins | None = None


def get_plugins(refresh: bool = False) -> LoadedPlugins:
    """Process-wide plugin state, loaded once."""
    global _CACHED
    if _CACHED is None or refresh:
        _CACHED = load_plugins()
    return _CACHED


def get_registry() -> Registry:
    """The process-wide registry (loads plugins on first use)."""
    return get_plugins().registry
