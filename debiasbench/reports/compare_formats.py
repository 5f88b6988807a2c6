"""Render a :class:`~debiasbench.reports.compare.Comparison` as a rich table, Markdown, CSV, JSON or LaTeX.

Wide formats (table, markdown, latex) show one table per measure: rows are configurations,
columns evaluated domains, so each fits a terminal or a paper column. CSV and JSON are long
(one record per cell) because that is what analysis code wants.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from typing import Any

from debiasbench.reports.compare import Cell, Column, Comparison, RowKey, Stat

FORMATS = ("table", "markdown", "csv", "json", "latex")

LEGEND = ("where a cell has paired statistics every figure in it is on the held-out test items of its runs: "
          "the after value (mean over seeds), d = change in distance to the measure's ideal, crossing "
          "included (negative = closer, better) with its 95% paired interval (one item resample shared "
          "by before, every seed and every arm; items crossed with seeds: docs/statistics.md) and p (exact McNemar "
          "for one seed's per-item decisions, else the crossed t test), q = Benjamini-Hochberg over the table's "
          "cells, Δ = the raw change after - before, 'past 50' = the after value crossed the ideal (by how much); "
          "cells without paired statistics show value ± sd over the runs (seeds) on all their items and the "
          "baseline's own interval")


SURVIVAL_LEGEND = ("relearned = the value after --relearn-steps of fine-tuning the unlearned model on benign text, kept = the share "
                   "of the change that survived it, (relearned - before) / (after - before), 1 = all kept, 0 = all lost, with "
                   "its 95% percentile interval over the same items resampled in the three stages; undefined where the "
                   "change's interval holds 0 (docs/relearning.md)")


def survival_legend(comparison: Comparison) -> str:
    """:data:`SURVIVAL_LEGEND` where some cell has a survival, else empty."""
    return SURVIVAL_LEGEND if any(c.survival is not None for c in comparison.cells.values()) else ""


def num(value: float | None, signed: bool = False) -> str:
    """Two decimals (two significant digits below 0.01); '–' for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    sign = "+" if signed else ""
    if value != 0 and abs(value) < 0.01:
        return f"{value:{sign}.2g}"
    return f"{value:{sign}.2f}"


def _value(stat: Stat) -> str:
    return num(stat.mean) + (f" ± {num(stat.sd)}" if stat.sd is not None else "")


def _shown_value(cell: Cell) -> str:
    """The after value on the test items where the cell is paired; else the value over all items."""
    if cell.paired is not None:
        return num(cell.paired.after)
    return _value(cell.value)


def _interval(cell: Cell) -> str:
    """d with its paired interval, p and q where the cell has them; else the value's own interval."""
    p = cell.paired
    if p is not None:
        return (f"d {num(p.d_delta, True)} [{num(p.d_delta_ci[0], True)}, {num(p.d_delta_ci[1], True)}] "
                f"p={_p(p.p)} q={_p(cell.q_bh)}")
    if cell.change is None and cell.ci_low is not None and cell.ci_high is not None:
        return f"[{num(cell.ci_low)}, {num(cell.ci_high)}]"
    return ""


def _p(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.2g}" if value >= 0.001 else "<0.001"


def _past(cell: Cell) -> str:
    p = cell.paired
    if p is None or not p.crossed or cell.ideal is None:
        return ""
    return f"  past {cell.ideal:g} by {num(p.past)}"


def _changes(cell: Cell) -> str:
    """Δ (and the crossing of the ideal) on the test items where the cell is paired, else over every item."""
    if cell.change is None:
        return ""
    if cell.paired is not None:
        return f"Δ {num(cell.paired.delta, True)}{_past(cell)}"
    dist = cell.distance_change.mean if cell.distance_change is not None else None
    return f"Δ {num(cell.change.mean, True)}  d {num(dist, True)}"


def _relearned(cell: Cell) -> str:
    """The relearned value and the share of the change it left (empty where the run did not relearn)."""
    s = cell.survival
    return "" if s is None else f"relearned {num(s.relearned)} kept {s.text()}"


def _toward(cell: Cell) -> float:
    """Negative when the cell moved toward the ideal (colours)."""
    if cell.paired is not None:
        return cell.paired.d_delta
    return cell.distance_change.mean if cell.distance_change is not None else 0.0


def ideal_text(ideal: float | None, better: str | None) -> str:
    """``ideal 50, closer`` / ``no ideal, lower``."""
    return f"ideal {ideal:g}, {better or '?'}" if ideal is not None else f"no ideal, {better or '?'}"


def _ideal(comparison: Comparison, measure: str) -> str:
    return ideal_text(*comparison.measures[measure])


def _label_columns(comparison: Comparison) -> list[tuple[str, Callable[[RowKey], str]]]:
    """Row-label columns, dropping those that are the same for every row."""
    candidates: list[tuple[str, Callable[[RowKey], str]]] = [
        ("model", lambda k: k.model),
        ("method", lambda k: "baseline" if k.is_baseline else k.method),
        ("source", lambda k: "–" if k.is_baseline else k.source_domain),
        ("variant", lambda k: comparison.variants.get(k, "")),
    ]
    keep = [(name, get) for name, get in candidates
            if name in ("method", "source") or len({get(k) for k in comparison.rows}) > 1]
    return keep + [("runs", lambda k: str(comparison.runs.get(k, 0)))]


def _measure_columns(comparison: Comparison, measure: str) -> list[Column]:
    return [c for c in comparison.columns if c.measure == measure]


def _rows_for(comparison: Comparison, columns: list[Column]) -> list[RowKey]:
    return [k for k in comparison.rows if any((k, c) in comparison.cells for c in columns)]


def _context(comparison: Comparison) -> str:
    """What is constant across rows (shown once instead of in a column)."""
    models = sorted({k.model for k in comparison.rows})
    return f"model {models[0]}" if len(models) == 1 else ""


def context_line(comparison: Comparison) -> str:
    """One line printed above the terminal tables: the settings every row shares."""
    context = _context(comparison)
    return f"{context}; {len(comparison.rows)} rows" if context else f"{len(comparison.rows)} rows"


# --------------------------------------------------------------------------- rich


def rich_tables(comparison: Comparison) -> list[Any]:
    """One rich Table per measure; cells coloured green when closer to the ideal."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    labels = _label_columns(comparison)
    tables = []
    for measure in comparison.measure_names():
        columns = _measure_columns(comparison, measure)
        title = f"[bold]{escape(measure)}[/]  ({_ideal(comparison, measure)})"
        table = Table(title=title, title_justify="left", show_lines=True)
        for name, _ in labels:
            table.add_column(name, justify="right" if name == "runs" else "left")
        for column in columns:
            table.add_column(column.domain, justify="right")
        for key in _rows_for(comparison, columns):
            cells: list[Any] = []
            for column in columns:
                cell = comparison.cells.get((key, column))
                if cell is None:
                    cells.append(Text("–", style="dim"))
                    continue
                text = Text(_shown_value(cell), style="bold" if column.domain == key.source_domain else "")
                dist = _toward(cell)
                if _interval(cell):
                    text.append("\n" + _interval(cell), style="green" if dist < 0 else "red" if dist > 0 else "")
                for extra in (_changes(cell), _relearned(cell)):
                    if extra:
                        text.append("\n" + extra, style="dim")
                cells.append(text)
            table.add_row(*[get(key) for _, get in labels], *cells)
        tables.append(table)
    return tables


def attainable_line(comparison: Comparison) -> str:
    """Which p-values the table's tests can reach, against the family's smallest Holm threshold."""
    paired = [c.paired for c in comparison.cells.values() if c.paired is not None]
    if not paired:
        return ""
    threshold = 0.05 / len(paired)
    floors = [p.p_floor for p in paired if p.test == "mcnemar"]
    parts = [f"{len(paired)} tested cells, smallest Holm threshold 0.05/{len(paired)} = {threshold:.2g}"]
    if floors:
        blocked = sum(f > threshold for f in floors)
        parts.append(f"smallest attainable p of the McNemar cells {min(floors):.2g} to {max(floors):.2g} "
                     f"({blocked} cannot reach the threshold: too few discordant items)")
    if len(floors) < len(paired):
        parts.append("crossed t tests: no floor")
    return "; ".join(parts)


def render_text(comparison: Comparison, width: int = 160) -> str:
    """The rich tables as plain text (``--format table --output FILE``)."""
    from rich.console import Console

    console = Console(file=io.StringIO(), record=True, width=width, color_system=None)
    console.print(context_line(comparison), markup=False)
    for table in rich_tables(comparison):
        console.print(table)
    console.print(LEGEND + "; bold = the unlearned (source) domain", soft_wrap=True, markup=False)
    if survival_legend(comparison):
        console.print(survival_legend(comparison), soft_wrap=True, markup=False)
    if attainable_line(comparison):
        console.print(attainable_line(comparison), soft_wrap=True, markup=False)
    text = console.export_text()
    return text if text.endswith("\n") else text + "\n"


# --------------------------------------------------------------------------- markdown


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(comparison: Comparison) -> str:
    labels = _label_columns(comparison)
    context = _context(comparison)
    parts = []
    for measure in comparison.measure_names():
        columns = _measure_columns(comparison, measure)
        parts.append(f"### {measure} ({_ideal(comparison, measure)}{'; ' + context if context else ''})\n")
        header = [name for name, _ in labels] + [c.domain for c in columns]
        parts.append("| " + " | ".join(header) + " |")
        parts.append("|" + "|".join(["---"] * len(labels) + ["---:"] * len(columns)) + "|")
        for key in _rows_for(comparison, columns):
            cells = []
            for column in columns:
                cell = comparison.cells.get((key, column))
                if cell is None:
                    cells.append("–")
                    continue
                value = _shown_value(cell)
                if column.domain == key.source_domain:
                    value = f"**{value}**"
                cells.append("<br>".join(p for p in (value, _interval(cell), _changes(cell), _relearned(cell)) if p))
            parts.append("| " + " | ".join(_md_escape(t) for t in [get(key) for _, get in labels] + cells) + " |")
        parts.append("")
    parts.append(f"_{LEGEND}; bold = the unlearned (source) domain._\n")
    if survival_legend(comparison):
        parts.append(f"_{survival_legend(comparison)}._\n")
    if attainable_line(comparison):
        parts.append(f"_{attainable_line(comparison)}._\n")
    return "\n".join(parts)


# --------------------------------------------------------------------------- latex

_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
          "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in text).replace("–", "--")


def _tex_num(value: float | None, signed: bool = False) -> str:
    """A number for use inside math mode (``{-}`` keeps a minus sign from becoming a binary operator)."""
    text = num(value, signed)
    return "\\mbox{--}" if text == "–" else text.replace("-", "{-}").replace("+", "{+}")


def _tex_cell(cell: Cell, in_domain: bool) -> str:
    if cell.paired is not None:
        p = cell.paired
        value = _tex_num(p.after)
        text = f"$\\mathbf{{{value}}}$" if in_domain else f"${value}$"
        text += (f" ($d\\,{_tex_num(p.d_delta, True)}$ [${_tex_num(p.d_delta_ci[0], True)}$, ${_tex_num(p.d_delta_ci[1], True)}$]; "
                 f"$\\Delta\\,{_tex_num(p.delta, True)}$"
                 + (f"; kept ${_tex_num(cell.survival.value)}$" if cell.survival is not None else "") + ")")
        return text
    value = _tex_num(cell.value.mean) + (f" \\pm {_tex_num(cell.value.sd)}" if cell.value.sd is not None else "")
    text = f"$\\mathbf{{{value}}}$" if in_domain else f"${value}$"
    if cell.change is not None:
        dist = cell.distance_change.mean if cell.distance_change is not None else None
        text += f" ($\\Delta\\,{_tex_num(cell.change.mean, True)}$; $d\\,{_tex_num(dist, True)}$)"
    return text


def render_latex(comparison: Comparison) -> str:
    """One booktabs tabular per measure; cell = value ± sd (Δ change; d distance change)."""
    labels = _label_columns(comparison)
    context = _context(comparison)
    parts = ["% debiasbench compare: requires \\usepackage{booktabs}", f"% {LEGEND}"]
    for measure in comparison.measure_names():
        columns = _measure_columns(comparison, measure)
        width = len(labels) + len(columns)
        parts.append(f"% {measure}")
        parts.append("\\begin{tabular}{" + "l" * len(labels) + "r" * len(columns) + "}")
        parts.append("\\toprule")
        caption = f"{measure} ({_ideal(comparison, measure)}{'; ' + context if context else ''})"
        parts.append(f"\\multicolumn{{{width}}}{{l}}{{{_tex(caption)}}} \\\\")
        parts.append("\\midrule")
        parts.append(" & ".join(_tex(name) for name, _ in labels) + " & " + " & ".join(_tex(c.domain) for c in columns) + " \\\\")
        parts.append("\\midrule")
        for key in _rows_for(comparison, columns):
            cells = [_tex_cell(comparison.cells[(key, c)], c.domain == key.source_domain) if (key, c) in comparison.cells else "--"
                     for c in columns]
            parts.append(" & ".join(_tex(get(key)) for _, get in labels) + " & " + " & ".join(cells) + " \\\\")
        parts.append("\\bottomrule")
        parts.append("\\end{tabular}")
        parts.append("")
    return "\n".join(parts)


# --------------------------------------------------------------------------- csv / json


def render_csv(comparison: Comparison) -> str:
    records = comparison.records()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]) if records else ["measure"], lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: ("" if v is None else v) for k, v in record.items()})
    return buffer.getvalue()


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def render_json(comparison: Comparison) -> str:
    payload = {
        "legend": LEGEND,
        "warnings": comparison.warnings,
        "measures": {m: {"ideal": ideal, "better": better} for m, (ideal, better) in sorted(comparison.measures.items())},
        "cells": [{k: _finite(v) for k, v in r.items()} for r in comparison.records()],
    }
    return json.dumps(payload, indent=2) + "\n"


RENDERERS: dict[str, Callable[[Comparison], str]] = {
    "table": render_text,
    "markdown": render_markdown,
    "csv": render_csv,
    "json": render_json,
    "latex": render_latex,
}
