"""``debiasbench plugins``: what each installed plugin provides, and why one did not load."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from debiasbench.cli.common import out


def plugins_command(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """List installed plugins: what each provides, its distribution and version, and any load error."""
    from debiasbench.plugin_system.loader import get_plugins

    loaded = get_plugins()
    if as_json:
        out.print_json(json.dumps([s.to_dict() for s in loaded.statuses]))
        return
    table = Table(title="debiasbench plugins")
    for column in ("plugin", "distribution", "version", "status", "provides"):
        table.add_column(column)
    for s in loaded.statuses:
        provides = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in s.provides.items())
        status = {"ok": "[green]ok[/]", "disabled": "[yellow]disabled[/]"}.get(s.status, f"[red]{escape(s.error or '')}[/]")
        status += "".join(f"\n[yellow]{escape(w)}[/]" for w in s.warnings)
        table.add_row(s.name, s.distribution, s.version, status, escape(provides))
    out.print(table)
