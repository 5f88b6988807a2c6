"""Adds ``debiasbench example-hello`` through the public ``register_commands`` hook, the way a
third-party package extends the command line.

The command is a plain Typer-style function; the core mounts it with the same one-line error
handling as its own commands. Like every plugin module it imports nothing heavy at module level.
"""

from __future__ import annotations

from typing import Annotated

import typer

from debiasbench.api import DebiasbenchError, RegisterCommand, get_registry, hookimpl

DEBIASBENCH_API = "1"  # the major version of debiasbench.api.API_VERSION this plugin is written for (docs/api.md)

PACKAGE = __name__.partition(".")[0]


def example_hello(
    kind: Annotated[str, typer.Option("--kind", help="Registry kind to list: metric, method, model, dataset or selector.")] = "metric",
) -> None:
    """Say hello and list the objects of one kind this example plugin registers."""
    registry = get_registry()
    if kind not in ("metric", "method", "model", "dataset", "selector"):
        raise DebiasbenchError(f"unknown kind {kind!r}; use metric, method, model, dataset or selector")
    mine = [e.name for e in registry.entries(kind) if type(e.obj).__module__.partition(".")[0] == PACKAGE]
    typer.echo(f"hello from {PACKAGE}: {kind}s {', '.join(mine) if mine else '(none)'}")


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    register(example_hello, name="example-hello")
