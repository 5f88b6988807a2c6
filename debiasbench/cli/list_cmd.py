"""``debiasbench list KIND``: the registered objects of one kind, with their options."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from debiasbench.cli.common import out

KIND_ARG = {"methods": "method", "models": "model", "metrics": "metric", "datasets": "dataset", "selectors": "selector", "controls": "control"}


def _row(entry: Any) -> dict[str, Any]:
    from debiasbench.plugin_system.options import describe_options

    obj = entry.obj
    row: dict[str, Any] = {"name": entry.name, "aliases": list(obj.aliases), "plugin": entry.provider,
                           "description": obj.description, "options": describe_options(obj.Options)}
    if hasattr(obj, "measures"):
        row["measures"] = [{"name": m.name, "ideal": m.ideal, "better": m.better} for m in obj.measures]
    if hasattr(obj, "role"):
        row["role"] = obj.role
    return row


def list_command(
    kind: Annotated[str, typer.Argument(help="methods | models | metrics | datasets | selectors | controls")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List registered objects of one kind, with their options."""
    from debiasbench.domains import check_domain
    from debiasbench.plugin_system.loader import get_registry

    check_domain(kind, tuple(KIND_ARG), what="kind")
    rows = [_row(entry) for entry in get_registry().entries(KIND_ARG[kind])]
    if as_json:
        out.print_json(json.dumps(rows, default=str))
        return
    table = Table(title=f"{kind}")
    for column in ("name", "aliases", "plugin", "description", "options"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], ", ".join(row["aliases"]), row["plugin"], row["description"],
                      ", ".join(f"{o['name']}={o['default']}" for o in row["options"]))
    out.print(table)
