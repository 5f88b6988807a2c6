"""The short before/after table printed at the end of ``run`` and ``eval``."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table

HEADLINE_DOMAINS = ("gender", "race", "religion", "all")


def _fmt(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def summary_table(rows: list[dict[str, Any]], title: str, extra_domains: tuple[str, ...] = ()) -> Table:
    """One line per measure x domain: before, after, change, interval.

    Only the study's headline domains (plus ``extra_domains``, e.g. the source domain) are shown so
    the table stays readable in a terminal; the caption says how many rows ``compare`` has besides.
    """
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0))
    for column in ("measure", "domain", "n", "before", "after", "change", "95% CI", "ideal"):
        table.add_column(column, justify="left" if column in ("measure", "domain") else "right", no_wrap=True)
    keyed: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in rows:
        keyed.setdefault((row["measure"], row["domain"]), {})[row["stage"]] = row
    shown_domains = HEADLINE_DOMAINS + tuple(d for d in extra_domains if d and d not in HEADLINE_DOMAINS)
    if not any(domain in shown_domains for _, domain in keyed):  # e.g. only other domains were evaluated
        shown_domains = tuple(sorted({domain for _, domain in keyed}))
    hidden = sum(1 for (_, domain) in keyed if domain not in shown_domains)
    if hidden:
        table.caption = f"{hidden} more measure x domain rows (other domains) are in the results: debiasbench compare"
    order = {d: i for i, d in enumerate(shown_domains)}
    visible = {key: stages for key, stages in keyed.items() if key[1] in order}
    for (measure, domain), stages in sorted(visible.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])):
        before, after = stages.get("before"), stages.get("after")
        shown = after or before
        assert shown is not None
        change = after["value"] - before["value"] if before and after else None
        interval = f"{_fmt(shown['ci_low'], 1)}-{_fmt(shown['ci_high'], 1)}" if shown.get("ci_low") is not None else ""
        table.add_row(measure, domain, str(shown["n"]), _fmt(before["value"] if before else None),
                      _fmt(after["value"] if after else None), (f"{change:+.2f}" if change is not None else ""),
                      interval, _fmt(shown.get("ideal"), 0))
    return table


def trajectory_table(rows: list[dict[str, Any]], title: str = "trajectory") -> Table:
    """One line per probe step: forget loss, then each headline measure x domain; the best step is starred.

    "Best" is the step with the smallest mean distance to the ideal over the shown bias measures
    (headline measures with an ideal, every probed domain), so overshooting past 50 counts against
    a step. The full trajectory (every measure) is in the results (``trajectories`` table).
    """
    from debiasbench.analysis.compare import headline_measures

    headline = headline_measures(rows)
    order = {d: i for i, d in enumerate(HEADLINE_DOMAINS)}
    columns = sorted({(r["measure"], r["domain"]) for r in rows if r["measure"] in headline},
                     key=lambda c: (c[0], order.get(c[1], len(order)), c[1]))
    steps = sorted({r["step"] for r in rows})
    by_step: dict[int, dict[tuple[str, str], dict[str, Any]]] = {s: {} for s in steps}
    for row in rows:
        by_step[row["step"]][(row["measure"], row["domain"])] = row
    distance = {
        step: [v["distance"] for key, v in cells.items() if key in columns and v.get("ideal") is not None]
        for step, cells in by_step.items()
    }
    scored = {s: sum(d) / len(d) for s, d in distance.items() if d}
    best = min(scored, key=scored.__getitem__) if scored else None
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0))
    table.add_column("step", justify="right", no_wrap=True)
    table.add_column("forget\nloss", justify="right", no_wrap=True)
    for measure, domain in columns:  # the metric part of the name: one headline measure per metric
        table.add_column(f"{measure.split('.')[0]}\n{domain}", justify="right", no_wrap=True)
    table.caption = "measures: " + ", ".join(sorted(headline)) + "; full trajectory in the results"
    table.add_column("mean\ndistance", justify="right", no_wrap=True)
    for step in steps:
        cells = by_step[step]
        any_row = next(iter(cells.values()))
        loss = any_row.get("forget_loss")
        table.add_row(
            f"{step}{' *' if step == best else ''}",
            "" if loss is None or loss != loss else f"{loss:.2f}",
            *[_fmt(cells[c]["value"]) if c in cells else "" for c in columns],
            _fmt(scored.get(step)),
        )
    return table
