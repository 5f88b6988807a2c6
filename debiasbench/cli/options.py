"""The ``run`` and ``eval`` options, generated from the run schema (:mod:`debiasbench.run.config`).

Each schema field a command has becomes one ``typer.Option`` (its flags, help, envvar, default);
the command function's signature is built with :class:`inspect.Signature`, so Typer sees an
ordinary annotated function. Parsed values become a :class:`RunConfig` whose method, selector and
metric options are typed against the named plugin objects before anything runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, Optional

import typer

from debiasbench.cli.common import split_csv
from debiasbench.run.config import (
    RunConfig,
    SchemaField,
    schema,
    with_typed_options,
)

QUIET = inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, default=False,
                          annotation=Annotated[bool, typer.Option("--quiet", "-q", help="Only the final line.")])


def flags(field: SchemaField) -> tuple[str, ...]:
    """The field's CLI names: its own, else ``--field-name``."""
    return field.setting.flags or (f"--{field.name.replace('_', '-')}",)


def parameter_name(field: SchemaField) -> str:
    """The Python name Typer passes the value under (``--no-cache`` -> ``no_cache``)."""
    if field.setting.cli == "negated":
        return flags(field)[0].lstrip("-").replace("-", "_")
    return field.name


def _cli_type(field: SchemaField) -> tuple[Any, Any]:
    """(annotation, default) of the option as Typer parses it."""
    cli = field.setting.cli
    if cli in ("pairs", "owner-pairs", "repeat"):
        return Optional[list[str]], None
    if cli == "csv":
        return Optional[str], None
    if cli == "negated":
        return bool, False
    return (Optional[field.annotation] if field.optional else field.annotation), field.default


def parameter(field: SchemaField) -> inspect.Parameter:
    """One keyword-only parameter with its ``typer.Option``; required settings get no default."""
    s = field.setting
    annotation, default = _cli_type(field)
    info = typer.Option(*flags(field), help=s.help, envvar=s.envvar, metavar=s.metavar)
    return inspect.Parameter(parameter_name(field), inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[annotation, info],
                             default=inspect.Parameter.empty if s.required else default)


def command_fields(command: str) -> list[SchemaField]:
    """The schema fields ``command`` has, in schema order."""
    return [f for f in schema() if command in f.setting.commands]


def config_from_values(command: str, values: dict[str, Any]) -> RunConfig:
    """Parsed option values -> a RunConfig with typed plugin options (one line on bad input)."""
    from debiasbench.plugin_system.loader import get_registry
    from debiasbench.plugin_system.options import parse_owner_pairs, parse_pairs

    kwargs: dict[str, Any] = {}
    for field in command_fields(command):
        value, cli = values[parameter_name(field)], field.setting.cli
        short = flags(field)[-1]
        if cli == "negated":
            value = not value
        elif cli == "csv":
            value = split_csv(value)
        elif cli == "pairs":
            value = parse_pairs(value, short)
        elif cli == "owner-pairs":
            value = parse_owner_pairs(value, short)
        elif cli == "repeat":
            value = list(value or ())
        kwargs[field.name] = value
    return with_typed_options(RunConfig(**kwargs), get_registry())


def schema_command(command: str, body: Callable[[RunConfig, bool], None], doc: str) -> Callable[..., None]:
    """A Typer command function for ``command``: the schema's options plus ``--quiet``, calling
    ``body(config, quiet)``."""

    def command_function(**values: Any) -> None:
        quiet = values.pop("quiet")
        body(config_from_values(command, values), quiet)

    command_function.__signature__ = inspect.Signature([*map(parameter, command_fields(command)), QUIET])  # type: ignore[attr-defined]
    command_function.__doc__ = doc
    command_function.__name__ = command_function.__qualname__ = f"{command}_command"
    return command_function


def _track_flag() -> Any:
    """``--track`` of ``sweep`` and ``study``: the run schema's ``track`` setting (one declaration), added to the file's."""
    field = next(f for f in schema() if f.name == "track")
    return Annotated[Optional[list[str]], typer.Option(*flags(field), metavar=field.setting.metavar,
                                                       help=f"{field.setting.help} Added to the file's track.")]


TrackFlag = _track_flag()
