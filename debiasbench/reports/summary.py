"""The short before/after table printed at the end of ``run`` and ``eval``, and for a run with
``--relearn-steps`` the relearned table: how much of each change survived relearning."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table

HEADLINE_DOMAINS = ("gender", "race", "religion", "all")


def _fmt(value: float | None, digits: int = 2) -> str:
    """Fixed point, or scientific notation where fixed point would swamp the table (a blown-up perplexity)."""
    if value is None:
        return ""
    if value != value or abs(value) >= 1e5:
        return f"{value:.{max(digits, 1)}e}" if value == value else "nan"
    return f"{value:.{digits}f}"


def _signed(value: float, digits: int = 2) -> str:
    return _fmt(value, digits) if value < 0 or value != value else "+" + _fmt(value, digits)


def summary_table(rows: list[dict[str, Any]], title: str, extra_domains: tuple[str, ...] = (), items: Any = None) -> Table:
    """One line per headline measure x domain, every figure on the held-out test items (``items``:
    the run's per-item rows): before, after, the change in distance to the ideal (negative = closer)
    with its paired 95 % interval and p, the raw change, the ideal, and "past 50" where the after
    value crossed the ideal.

    Only the study's headline domains (plus ``extra_domains``, e.g. the source domain) are shown so
    the table stays readable in a terminal; the caption says what else ``compare`` has.
    """
    from debiasbench.statistics.paired import paired_cell

    item_rows = items.to_pylist() if items is not None else None
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0))
    for column in ("measure", "domain", "n", "before", "after", "d", "95% CI", "p", "Δ"):
        table.add_column(column, justify="left" if column in ("measure", "domain") else "right", no_wrap=column != "measure",
                         overflow="fold")
    keyed: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    headline = {r["measure"] for r in rows if r.get("headline")} or {r["measure"] for r in rows}
    for row in rows:
        if row["measure"] in headline:
            keyed.setdefault((row["measure"], row["domain"]), {})[row["stage"]] = row
    shown_domains = HEADLINE_DOMAINS + tuple(d for d in extra_domains if d and d not in HEADLINE_DOMAINS)
    if not any(domain in shown_domains for _, domain in keyed):  # e.g. only other domains were evaluated
        shown_domains = tuple(sorted({domain for _, domain in keyed}))
    hidden = sum(1 for (_, domain) in keyed if domain not in shown_domains)
    notes = (["every figure on the held-out test items; d = change in distance to the ideal (negative = closer) with "
              "its paired 95% interval and p (McNemar or crossed t); Δ = after - before; * = past the ideal"] if item_rows else [])
    if hidden:
        notes.append(f"{hidden} more headline rows (other domains) and every sub-measure: debiasbench compare")
    table.caption = "; ".join(notes) or None
    order = {d: i for i, d in enumerate(shown_domains)}
    visible = {key: stages for key, stages in keyed.items() if key[1] in order}
    crossed: list[str] = []
    ideals: dict[str, str] = {}
    metric_shown = None
    for (measure, domain), stages in sorted(visible.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])):
        metric_shown = _metric_heading(table, measure, metric_shown, 9)
        before, after = stages.get("before"), stages.get("after")
        shown = after or before
        assert shown is not None
        paired = paired_cell(item_rows, measure, domain, shown) if before and after else None
        flag = ""
        if paired is not None:
            n, b, a, change = paired.n, paired.before, paired.after, _signed(paired.delta)
            toward = _signed(paired.d_delta)
            interval, p = f"{_signed(paired.d_delta_ci[0], 1)}..{_signed(paired.d_delta_ci[1], 1)}", _p(paired.p)
            if paired.crossed:
                flag = "*"
                crossed.append(f"{measure} {domain}: past {_fmt(shown.get('ideal'), 0)} by {_fmt(paired.past, 1)}")
        else:
            n, b, a = shown["n"], before["value"] if before else None, after["value"] if after else None
            change = _signed(a - b) if a is not None and b is not None else ""
            toward = ""
            interval = f"{_fmt(shown['ci_low'], 1)}-{_fmt(shown['ci_high'], 1)}" if shown.get("ci_low") is not None and not after else ""
            p = ""
        table.add_row(_short(measure), domain, str(n), _fmt(b), _fmt(a) + flag, toward, interval, p, change)
        ideals[measure] = _ideal_text(shown)
    table.caption = "; ".join([*([table.caption] if table.caption else []), "ideal: " + ", ".join(f"{m} {t}" for m, t in ideals.items()),
                               *crossed]) if ideals else table.caption
    return table


def relearn_table(rows: list[dict[str, Any]], title: str, extra_domains: tuple[str, ...] = (), items: Any = None) -> Table | None:
    """After ``--relearn-steps``: one line per headline measure x shown domain (as :func:`summary_table`)
    with before, after, relearned and the share of the change kept, ``(relearned - before) / (after - before)``,
    with its paired percentile interval, on the test items (docs/relearning.md); None when the run did not relearn."""
    from debiasbench.statistics.paired import aligned, cell_stats, side, stages_on_test, weights_seed
    from debiasbench.statistics.survival import cell_survival

    headline = {r["measure"] for r in rows if r.get("headline")} or {r["measure"] for r in rows}
    keyed: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in rows:
        if row["measure"] in headline:
            keyed.setdefault((row["measure"], row["domain"]), {})[row["stage"]] = row
    shown = HEADLINE_DOMAINS + tuple(d for d in extra_domains if d and d not in HEADLINE_DOMAINS)
    cells = {key: stages for key, stages in keyed.items() if "relearned" in stages and "after" in stages and key[1] in shown}
    if not cells:
        return None
    item_rows = items.to_pylist() if items is not None else []
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0))
    for column in ("measure", "domain", "n", "before", "after", "relearned", "kept", "95% CI"):
        table.add_column(column, justify="left" if column in ("measure", "domain") else "right", no_wrap=column != "measure",
                         overflow="fold")
    table.caption = ("kept = (relearned - before) / (after - before), 1 = all of the change kept, 0 = all lost, with its "
                     "95% percentile interval over the test items resampled in the three stages; undefined where the "
                     "change's interval holds 0 (docs/relearning.md)")
    order = {d: i for i, d in enumerate(shown)}
    metric_shown = None
    for (measure, domain), stages in sorted(cells.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])):
        metric_shown = _metric_heading(table, measure, metric_shown, 8)
        row, n, values = stages["after"], stages["after"]["n"], [stages[s]["value"] for s in ("before", "after", "relearned")]
        kept, interval = "", ""
        test = stages_on_test(item_rows, measure, domain) if row.get("aggregate") and row.get("better") else {}
        if {"before", "after", "relearned"} <= set(test):
            pair = aligned(side(test["before"]), side(test["after"]), f"{measure} {domain}")
            seed = weights_seed(measure, domain)
            stats = cell_stats([pair], row["aggregate"], row["ideal"], row["better"], seed=seed)
            if stats is not None:
                survival = cell_survival(pair[0], [pair[1]], [side(test["relearned"])], row["aggregate"], stats.delta_ci, seed)
                n, values = stats.n, [stats.before, stats.after, survival.relearned]
                kept = "undefined" if survival.value is None else _fmt(survival.value)
                interval = f"{_fmt(survival.ci[0])}..{_fmt(survival.ci[1])}" if survival.ci else ""
        table.add_row(_short(measure), domain, str(n), *[" " + _fmt(v) for v in values], " " + kept, " " + interval)
    return table


def _metric_heading(table: Table, measure: str, shown: str | None, columns: int) -> str:
    """A heading row with the metric's name when it changes, so each row names only its measure
    (``score``, ``accuracy-unguarded``): full names such as ``winogender.gotcha-gap`` would wrap into
    unreadable pieces in an 80-column terminal."""
    metric = measure.split(".", 1)[0]
    if metric != shown:
        table.add_row(metric, *[""] * (columns - 1), style="bold")
    return metric


def _short(measure: str) -> str:
    """The measure's name under its metric's heading, indented."""
    return " " + measure.split(".", 1)[1] if "." in measure else measure


def _ideal_text(row: dict[str, Any]) -> str:
    ideal, better = row.get("ideal"), row.get("better")
    if ideal is None:
        return f"{better or '?'} is better"
    return f"{ideal:g}" if better == "closer" else f"{ideal:g} ({better})"


def _p(value: float) -> str:
    return f"{value:.2g}" if value >= 0.001 else "<0.001"


def trajectory_table(rows: list[dict[str, Any]], title: str = "trajectory") -> Table:
    """One line per probe step: forget loss, then each headline measure x domain; the best step is starred.

    "Best" is the step with the smallest mean distance to the ideal over the shown bias measures
    (headline measures with an ideal, every probed domain), so overshooting past 50 counts against
    a step. The full trajectory (every measure) is in the results (``trajectories`` table).
    """
    from debiasbench.reports.compare_rows import headline_measures

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
