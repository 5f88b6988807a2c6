"""The ``debiasbench`` Typer app: the built-in commands, the commands plugins add, one-line errors.

Plugins are loaded when the app is built, so ``debiasbench --help`` lists their commands. A plugin
command is mounted only if its name is free and Typer can build it; otherwise it is left out and
``debiasbench plugins`` shows why, so one broken plugin cannot break the command line.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.markup import escape

from debiasbench import __version__
from debiasbench.cli.common import err, out
from debiasbench.cli.compare_cmd import compare_command
from debiasbench.cli.eval_cmd import eval_command
from debiasbench.cli.export_cmd import EXPORT_COMMANDS, EXPORT_HELP
from debiasbench.cli.list_cmd import list_command
from debiasbench.cli.plugins_cmd import plugins_command
from debiasbench.cli.run_cmd import run_command
from debiasbench.cli.check_cmd import check_command
from debiasbench.cli.study_cmd import study_command
from debiasbench.cli.sweep_cmd import sweep_command
from debiasbench.errors import DebiasbenchError

if TYPE_CHECKING:  # pragma: no cover
    from debiasbench.plugin_system.loader import LoadedPlugins, PluginCommand

BUILTIN: dict[str, Callable[..., Any]] = {
    "plugins": plugins_command,
    "list": list_command,
    "run": run_command,
    "eval": eval_command,
    "compare": compare_command,
    "sweep": sweep_command,
    "study": study_command,
    "check": check_command,
}
"""The core's commands, in --help order; a plugin command cannot take these names."""
SUB_APPS: dict[str, tuple[str, dict[str, Callable[..., Any]]]] = {"export": (EXPORT_HELP, EXPORT_COMMANDS)}
"""The core's command groups (help, subcommands); a plugin command cannot take these names either."""

PLUGIN_PANEL = "Commands from plugins"


def guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn DebiasbenchError into one red line and its exit code; Ctrl-C into exit 130."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DebiasbenchError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("[bold red]interrupted[/]: nothing half-written was kept")
            raise typer.Exit(130) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        out.print(f"debiasbench {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = None,
) -> None:
    """debiasbench: unlearning-based bias mitigation, measured across domains."""


def _one_line(exc: BaseException) -> str:
    lines = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _buildable(command: PluginCommand) -> str | None:
    """Why Typer cannot turn the plugin's function into a command (bad annotations), or None."""
    probe = typer.Typer()
    probe.command(command.name)(command.function)
    try:
        typer.main.get_command(probe)
    except Exception as exc:  # noqa: BLE001 - a plugin's mistake must not break the CLI
        return _one_line(exc)
    return None


def add_plugin_commands(app: typer.Typer, plugins: LoadedPlugins) -> None:
    """Mount each plugin command, wrapped like a built-in; a clash or a broken one is left out with a warning."""
    for command in list(plugins.commands):
        if command.name in BUILTIN or command.name in SUB_APPS:
            plugins.reject_command(command, f"command {command.name!r} of plugin {command.plugin!r} clashes with the "
                                            f"built-in command {command.name!r}; the built-in is used")
            continue
        problem = _buildable(command)
        if problem is not None:
            plugins.reject_command(command, f"command {command.name!r} of plugin {command.plugin!r} cannot be added: {problem}")
            continue
        app.command(command.name, rich_help_panel=PLUGIN_PANEL,
                    epilog=f"Provided by plugin {command.plugin!r}.")(guarded(command.function))


def build_app(plugins: LoadedPlugins | None = None) -> typer.Typer:
    """The Typer app: built-in commands, then the commands of ``plugins`` (default: the installed ones)."""
    app = typer.Typer(
        name="debiasbench",
        help="Unlearn social bias from language models and measure, domain by domain, what that did.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(_root)
    for name, function in BUILTIN.items():
        app.command(name)(guarded(function))
    for name, (help_text, commands) in SUB_APPS.items():
        group = typer.Typer(name=name, help=help_text, no_args_is_help=True)
        for sub, function in commands.items():
            group.command(sub)(guarded(function))
        app.add_typer(group, name=name)
    if plugins is None:
        from debiasbench.plugin_system.loader import get_plugins

        try:
            plugins = get_plugins()
        except DebiasbenchError:  # strict mode and a broken plugin: every command that loads plugins reports it
            return app
    add_plugin_commands(app, plugins)
    return app


app = build_app()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
