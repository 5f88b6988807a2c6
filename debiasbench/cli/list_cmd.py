"""``debiasbench list [KIND [NAME]]``: the kinds, one line per object of a kind, or one object's options.

Every cell wraps instead of being cut, so the listing reads in full at 80 columns and when piped.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer
from rich.table import Table
from rich.text import Text

from debiasbench.cli.common import out

KIND_ARG = {"methods": "method", "models": "model", "metrics": "metric", "datasets": "dataset", "selectors": "selector", "controls": "control",
            "trackers": "tracker"}


def _row(entry: Any) -> dict[str, Any]:
    from debiasbench.plugin_system.options import describe_options

    obj = entry.obj
    row: dict[str, Any] = {"name": entry.name, "aliases": list(obj.aliases), "plugin": entry.provider,
                           "description": obj.description, "options": describe_options(obj.Options)}
    if hasattr(obj, "measures"):
        row["measures"] = [{"name": m.name, "ideal": m.ideal, "better": m.better} for m in obj.measures]
    if hasattr(obj, "role"):
        row["role"] = obj.role
    if hasattr(obj, "target_help"):
        row["target"], row["extra"] = obj.target_help, obj.extra
    return row


def _shown(value: Any) -> str:
    """A default as one writes it after ``-o key=``: ``none``, ``true``, ``a,b``; an empty string as ``""``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value)) or '""'
    return str(value) if value != "" else '""'


def _grid(*columns: str) -> Table:
    """A borderless table whose first columns never wrap and whose last one folds: nothing is cut."""
    table = Table(box=None, pad_edge=False, show_header=False, expand=False)
    for column in columns[:-1]:
        table.add_column(column, no_wrap=True, style="bold" if column == "name" else None)
    table.add_column(columns[-1], overflow="fold")
    return table


def _names(registry: Any, kind: str) -> list[str]:
    """The names of one kind; for metrics also each family's pattern (``lm-eval:TASK``)."""
    return registry.names(kind) + ([e.name for e in registry.families()] if kind == "metric" else [])


def _entries(registry: Any, kind: str) -> list[Any]:
    """The entries of one kind; for metrics the families after the metrics."""
    return [*registry.entries(kind), *(registry.families() if kind == "metric" else ())]


def _kinds(as_json: bool) -> None:
    from debiasbench.plugin_system.loader import get_registry

    registry = get_registry()
    names = {kind: _names(registry, one) for kind, one in KIND_ARG.items()}
    if as_json:
        out.print_json(json.dumps(names))
        return
    table = _grid("kind", "count", "names")
    for kind, listed in names.items():
        table.add_row(kind, str(len(listed)), Text(", ".join(listed) or "none"))
    out.print(table)
    out.print("`debiasbench list KIND` lists a kind; `list KIND NAME` shows one's options", markup=False, highlight=False)


def _objects(kind: str, rows: list[dict[str, Any]]) -> None:
    table = _grid("name", "plugin", "description")
    for row in rows:
        aliases = f"\naliases: {', '.join(row['aliases'])}" if row["aliases"] else ""
        table.add_row(row["name"], row["plugin"], Text(row["description"] + aliases))
    out.print(table)
    out.print(f"{len(rows)} {kind}; `debiasbench list {kind} NAME` shows one's options", markup=False, highlight=False)


def _detail(kind: str, row: dict[str, Any]) -> None:
    out.print(Text.assemble((row["name"], "bold"), f" ({KIND_ARG[kind]} from plugin {row['plugin']})"))
    out.print(Text(row["description"]))
    if row["aliases"]:
        out.print(Text(f"aliases: {', '.join(row['aliases'])}"))
    if "role" in row:
        out.print(Text(f"role: {row['role']}"))
    if row.get("measures"):
        out.print("\nmeasures:", markup=False, highlight=False)
        measures = _grid("name", "what")
        for m in row["measures"]:
            ideal = f"ideal {m['ideal']}, " if m["ideal"] is not None else ""
            measures.add_row(m["name"], Text(f"{ideal}{m['better']} is better"))
        out.print(measures)
    if not row["options"]:
        out.print("options: none", markup=False, highlight=False)
        return
    out.print(f"\noptions ({'-M ' + row['name'] + '.' if kind == 'metrics' else '-o '}key=value):", markup=False, highlight=False)
    table = _grid("name", "what")
    for option in row["options"]:
        table.add_row(option["name"], Text(f"{option['type']}; default {_shown(option['default'])}\n{option['help']}"))
    out.print(table)


def list_command(
    kind: Annotated[Optional[str], typer.Argument(help="methods | models | metrics | datasets | selectors | controls | trackers; "
                                                  "none: every kind with its names", show_default=False)] = None,
    name: Annotated[Optional[str], typer.Argument(help="one object of KIND: its options in full", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the kinds, the objects of one kind (one line each), or one object's options."""
    from debiasbench.domains import check_domain
    from debiasbench.plugin_system.loader import get_registry

    if kind is None:
        _kinds(as_json)
        return
    check_domain(kind, tuple(KIND_ARG), what="kind")
    registry = get_registry()
    if name is not None:
        family = next((e for e in registry.families() if name in (e.name, e.obj.name)), None) if kind == "metrics" else None
        if family is None:
            registry.get(KIND_ARG[kind], name)  # an unknown name: one line with a did-you-mean
        row = _row(family or registry.find(KIND_ARG[kind], name))
        if as_json:
            out.print_json(json.dumps(row, default=str))
        else:
            _detail(kind, row)
        return
    rows = [_row(entry) for entry in _entries(registry, KIND_ARG[kind])]
    if as_json:
        out.print_json(json.dumps(rows, default=str))
        return
    _objects(kind, rows)
