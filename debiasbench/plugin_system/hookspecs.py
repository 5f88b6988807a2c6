"""The hooks a debiasbench plugin implements.

Each hook receives a ``register`` callback and calls it once per object it provides::

    from debiasbench.api import hookimpl

    @hookimpl
    def register_metrics(register):
        register(MyMetric())

A plugin is a module named by an entry point in the ``debiasbench`` group::

    [project.entry-points.debiasbench]
    my-plugin = "my_package.plugin"

The first-party plugins register exactly this way, so they prove the API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "debiasbench"

API_VERSION = "1.2"
"""``MAJOR.MINOR`` of the promised plugin API, ``debiasbench.api.API_VERSION`` (docs/api.md): a minor
release only adds; a major one may remove or change a promised name. A plugin declares the major it
was written for as ``DEBIASBENCH_API = "1"`` in its entry-point module; the loader warns when it
differs from this one's. 1.1 added the experiment trackers (``Tracker``, ``TrackerRun``, ``register_trackers``);
1.2 the lm-eval export of a metric (``Metric.lm_eval``, ``LmEvalExport``, ``LmEvalTask``)."""

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[[Any], None]


@hookspec
def register_methods(register: Register) -> None:
    """Register :class:`~debiasbench.plugin_system.interfaces.UnlearningMethod` instances."""


@hookspec
def register_models(register: Register) -> None:
    """Register :class:`~debiasbench.plugin_system.interfaces.ModelProvider` instances."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register :class:`~debiasbench.plugin_system.interfaces.Metric` instances."""


@hookspec
def register_datasets(register: Register) -> None:
    """Register :class:`~debiasbench.plugin_system.interfaces.Dataset` instances (forget sets and evaluation data)."""


@hookspec
def register_span_selectors(register: Register) -> None:
    """Register :class:`~debiasbench.plugin_system.interfaces.SpanSelector` instances."""


@hookspec
def register_controls(register: Register) -> None:
    """Register :class:`~debiasbench.plugin_system.interfaces.Control` instances (study control arms)."""


@hookspec
def register_trackers(register: Register) -> None:
    """Register :class:`~debiasbench.plugin_system.interfaces.Tracker` instances (experiment trackers, ``--track``)."""


RegisterCommand = Callable[..., None]
"""``register(function, name=None)``: ``name`` defaults to the function's name, underscores as dashes."""


@hookspec
def register_commands(register: RegisterCommand) -> None:
    """Add ``debiasbench`` subcommands: ``register(command_function, name="my-command")``.

    ``command_function`` is a Typer-style function (parameters annotated with ``typer.Option`` /
    ``typer.Argument``, the docstring as help). The core adds it with the same one-line error
    handling as its own commands; a name taken by a built-in or an earlier plugin is rejected.
    """


COMMAND_HOOK = "register_commands"
"""Fills :attr:`~debiasbench.plugin_system.loader.LoadedPlugins.commands`, not the registry."""


HOOK_KINDS: dict[str, str] = {
    "register_methods": "method",
    "register_models": "model",
    "register_metrics": "metric",
    "register_datasets": "dataset",
    "register_span_selectors": "selector",
    "register_controls": "control",
    "register_trackers": "tracker",
}
"""Which registry kind each hook fills."""
