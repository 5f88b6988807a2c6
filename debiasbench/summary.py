"""The short before/after table printed at the end of ``run`` and ``eval``."""

from __future__ import annotations

from typing import Any

from rich.table import Table

HEADLINE_DOMAINS = ("gender", "race", "religion", "all")


def _fmt(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def summary_table(rows: list[dict[str, Any]], title: str) -> Table:
    """One line per measure x domain: before, after, change, interval; headline domains first."""
    table = Table(title=title, show_lines=False)
    for column in ("measure", "domain", "n", "before", "after", "change", "95% CI (after or before)", "ideal"):
        table.add_column(column, justify="right" if column not in ("measure", "domain") else "left")
    keyed: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in rows:
        keyed.setdefault((row["measure"], row["domain"]), {})[row["stage"]] = row
    order = {d: i for i, d in enumerate(HEADLINE_DOMAINS)}
    for (measure, domain), stages in sorted(keyed.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 99), kv[0][1])):
        before, after = stages.get("before"), stages.get("after")
        shown = after or before
        assert shown is not None
        change = after["value"] - before["value"] if before and after else None
        interval = f"[{_fmt(shown['ci_low'])}, {_fmt(shown['ci_high'])}]" if shown.get("ci_low") is not None else ""
        table.add_row(measure, domain, str(shown["n"]), _fmt(before["value"] if before else None),
                      _fmt(after["value"] if after else None), (f"{change:+.2f}" if change is not None else ""),
                      interval, _fmt(shown.get("ideal"), 0))
    return table
