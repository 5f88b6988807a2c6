"""The study report: one document model rendered as Markdown and as static HTML, plus figures.

The report folder holds ``report.md``, ``report.html`` (the same content; images beside it),
``cells.csv`` (every cell and contrast), ``study.json`` (the arms and their runs), and the
figures: ``heatmap.png`` (source x evaluated ``d_delta`` per arm, on a fixed scale in units of each cell's MDE, intervals holding 0 grey, verdicts marked),
``contrasts.png`` (the differences from each control), ``tradeoff.png`` (distance to the ideal
vs perplexity along the trajectory, one line per arm) and ``seeds.png`` (per-seed points).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from debiasbench.reports.study_answer import answer, attainable, controls_blocks
from debiasbench.reports.study_answer import fmt as _fmt
from debiasbench.reports.study_answer import fmt_p as _p
from debiasbench.reports.domain_order import domain_order
from debiasbench.reports.study_records import write_cells
from debiasbench.reports.study_results import StudyCell, StudyContrast, StudyResults
from debiasbench.errors import DebiasbenchError
from debiasbench.results.storage import describe, short_reason, open_store

Block = tuple  # ("h1"|"h2"|"p", text) | ("table", headers, rows) | ("img", file, alt)


def mark(p_holm: float | None, p: float | None) -> str:
    """``**`` Holm-adjusted p < 0.05, ``*`` raw p < 0.05 only, empty otherwise."""
    if p_holm is not None and not math.isnan(p_holm) and p_holm < 0.05:
        return "**"
    if p is not None and not math.isnan(p) and p < 0.05:
        return "*"
    return ""


def _cell_text(c: StudyCell | StudyContrast) -> str:
    est, ci = (c.d_delta, c.d_delta_ci) if isinstance(c, StudyCell) else (c.effect, c.effect_ci)
    return f"{_fmt(est)} [{_fmt(ci[0])}, {_fmt(ci[1])}] p={_p(c.p)} p_holm={_p(c.p_holm)}{mark(c.p_holm, c.p)}"


def _change_text(c: StudyCell) -> str:
    past = f"; past the ideal by {c.past:.1f} (p={_p(c.past_p)})" if c.crossed else ""
    return f"{c.before:.1f} -> {c.after:.1f}: {_fmt(c.delta)} [{_fmt(c.delta_ci[0])}, {_fmt(c.delta_ci[1])}] p={_p(c.delta_p)}{past}"


def _survival_text(c: StudyCell) -> str:
    s = c.survival
    return f"{c.before:.1f} -> {c.after:.1f} -> {s.relearned:.1f}: kept {s.text()}" if s is not None else "–"


def matrix(cells: Sequence[Any], sources: list[str], domains: list[str], text: Any = _cell_text) -> tuple[list[str], list[list[str]]]:
    by = {(c.source, c.domain): c for c in cells}
    headers = ["source \\ evaluated", *domains]
    rows = [[s, *[text(by[(s, d)]) if (s, d) in by else "–" for d in domains]] for s in sources]
    return headers, rows


@dataclass
class Report:
    blocks: list[Block]

    def markdown(self) -> str:
        out = []
        for b in self.blocks:
            if b[0] in ("h1", "h2", "h3"):
                out.append("#" * int(b[0][1]) + " " + b[1])
            elif b[0] == "p":
                out.append(b[1])
            elif b[0] == "list":
                out.append("\n".join(f"- {x}" for x in b[1]))
            elif b[0] == "table":
                headers, rows = b[1], b[2]
                lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
                lines += ["| " + " | ".join(r) + " |" for r in rows]
                out.append("\n".join(lines))
            elif b[0] == "img":
                out.append(f"![{b[2]}]({b[1]})")
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        e = html.escape
        out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>",
               "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
               "table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 6px}"
               "th{background:#f4f4f4}img{max-width:100%}</style></head><body>"]
        for b in self.blocks:
            if b[0] in ("h1", "h2", "h3"):
                out.append(f"<{b[0]}>{e(b[1])}</{b[0]}>")
            elif b[0] == "p":
                out.append(f"<p>{e(b[1])}</p>")
            elif b[0] == "list":
                out.append("<ul>" + "".join(f"<li>{e(x)}</li>" for x in b[1]) + "</ul>")
            elif b[0] == "table":
                out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in b[1]) + "</tr>"
                           + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in b[2]) + "</table>")
            elif b[0] == "img":
                out.append(f"<p><img src='{e(b[1])}' alt='{e(b[2])}'></p>")
        out.append("</body></html>")
        return "\n".join(out) + "\n"


def _cost_increase(results: StudyResults) -> dict[str, float]:
    """run -> after / before - 1 of the study's cost measure (its before and after rows, StudyResults.costs)."""
    return {run: after / before - 1.0 for run, (before, after) in results.costs.items() if before}


def build_report(study: Any, results: StudyResults, figures: dict[str, str]) -> Report:
    """The report's content: what was run, the matrices, the contrasts, the figures."""
    blocks: list[Block] = [("h1", f"Study {study.name}")]
    sources = domain_order([r.source for r in results.runs])
    arms = list(dict.fromkeys(r.arm for r in results.runs))
    seeds = sorted({r.seed for r in results.runs})
    blocks.append(("p", f"{len(results.runs)} runs from {study.source} in {describe(study.results_dir)}: arms {', '.join(arms)}; "
                        f"source domains {', '.join(sources)}; seeds {', '.join(map(str, seeds))}. All figures are on the "
                        f"test items. Every interval and test shares one item resample per measure and domain across arms "
                        f"and seeds ({study.resamples} resamples), with items crossed with seeds (docs/statistics.md)"
                        + ("; conditional on these seeds (seed_level = false)" if getattr(study, "seed_level", None) is False else "")
                        + ". d_delta = the change in distance to the ideal, pooled over seeds (negative: "
                        "closer); a score that went past the ideal is marked with how far."))
    blocks += answer(study, results)
    blocks.append(("p", f"Families of claims: {results.family!r}, "
                        + ", ".join(f"{name} ({n} p-values)" for name, n in results.families.items())
                        + ". p: raw (crossed t, or exact McNemar for one seed's decisions: no resampling floor); p_holm: Holm "
                        "within the family; q_bh (in cells.csv): Benjamini-Hochberg. ** Holm p < 0.05, * raw p < 0.05 only. "
                        + attainable(results)))
    if results.missing:
        blocks.append(("p", f"Not run yet ({len(results.missing)}): " + "; ".join(results.missing)))
    if study.skipped or results.notes:
        blocks.append(("list", [*study.skipped, *results.notes]))
    cost = results.cost
    increase = _cost_increase(results)
    blocks += controls_blocks(results)
    blocks.append(("h2", "Runs"))
    if cost:
        blocks.append(("p", f"{cost} change: after over before, on the run's evaluated items (docs/damage.md)."))
    blocks.append(("table", ["arm", "source", "seed", "run", "steps", "stop", f"{cost or 'cost'} change", "seconds", "damage"],
                   [[r.arm, r.source, str(r.seed), r.run_id, str(r.run.get("steps")), str(r.run.get("stop_reason")),
                     f"{increase[r.run_id]:+.1%}" if r.run_id in increase else "–", f"{r.run.get('duration_s') or 0:.0f}",
                     results.damage.get(r.run_id, "").removeprefix("damage: ").split(": the model lost")[0] or "–"]
                    for r in results.runs]))
    for measure in study.family.measures:
        domains = domain_order([c.domain for c in results.cells if c.measure == measure])
        blocks.append(("h2", f"d_delta of {measure} (source x evaluated domain)"))
        for arm in arms:
            cells = [c for c in results.cells if c.arm == arm and c.measure == measure]
            if cells:
                blocks.append(("h3", arm))
                blocks.append(("table", *matrix(cells, sources, domains)))
        blocks.append(("h2", f"Change of {measure}: before -> after, delta (source x evaluated domain)"))
        blocks.append(("p", "The change itself (after - before, mean over seeds, same intervals; p not adjusted). A likelihood "
                            "score that falls below the ideal has moved away from it: read it with d_delta above."))
        for arm in arms:
            cells = [c for c in results.cells if c.arm == arm and c.measure == measure]
            if cells:
                blocks.append(("h3", arm))
                blocks.append(("table", *matrix(cells, sources, domains, _change_text)))
        if any(c.survival is not None for c in results.cells if c.measure == measure):
            blocks.append(("h2", f"Survival of {measure} after relearning (source x evaluated domain)"))
            blocks.append(("p", "before -> after -> relearned (after --relearn-steps of fine-tuning on benign text), and the "
                                "share of the change kept, (relearned - before) / (after - before), with its 95% percentile "
                                "interval over the shared item resample; undefined where the change's interval holds 0 "
                                "(docs/relearning.md)."))
            for arm in arms:
                cells = [c for c in results.cells if c.arm == arm and c.measure == measure and c.survival is not None]
                if cells:
                    blocks.append(("h3", arm))
                    blocks.append(("table", *matrix(cells, sources, domains, _survival_text)))
        contrasts = [c for c in results.contrasts if c.measure == measure]
        if contrasts:
            blocks.append(("h2", f"Beyond the controls: method d_delta - control d_delta, {measure}"))
            for method, control in dict.fromkeys((c.method, c.control) for c in contrasts):
                mine = [c for c in contrasts if c.method == method and c.control == control]
                blocks.append(("h3", f"{method} - {control}"))
                blocks.append(("table", *matrix(mine, sources, domains)))
        blocks.append(("h2", f"Per-seed d_delta, {measure}"))
        blocks.append(("table", ["arm", "source", "evaluated", "per seed", "mean"],
                       [[c.arm, c.source, c.domain, ", ".join(_fmt(x) for x in c.per_seed_d_delta), _fmt(c.d_delta)]
                        for c in results.cells if c.measure == measure and (study.family.domains is None or c.domain in study.family.domains)]))
    for name, alt in (("heatmap", "transfer heatmap"), ("contrasts", "differences from the controls"),
                      ("tradeoff", "distance to ideal vs perplexity"), ("seeds", "per-seed points")):
        if name in figures:
            blocks.append(("h2", alt.capitalize()))
            blocks.append(("img", figures[name], alt))
    return Report(blocks)


def write_report(study: Any, results: StudyResults) -> list[Any]:
    """Every file of the report folder, each written atomically. A report folder on an object store
    (``report_dir``, by default RESULTS/report) is rendered in a local temporary folder, then each
    file is uploaded whole (the plots are written by matplotlib, which needs a local file)."""
    import tempfile

    store = open_store(study.report_dir)
    if store.local:
        return _write_report_files(study, results, Path(store.location))
    with tempfile.TemporaryDirectory(prefix="debiasbench-report-") as tmp:
        files = _write_report_files(study, results, Path(tmp))
        try:
            return [store.write_bytes(f.read_bytes(), f.relative_to(tmp).as_posix()) for f in files]
        except OSError as exc:
            raise DebiasbenchError(f"could not upload the study report to {store} ({short_reason(exc)}); the runs are kept: "
                                   "rerun with --report-only once it is writable") from None


def _write_report_files(study: Any, results: StudyResults, folder: Path) -> list[Path]:
    from debiasbench.reports.study_plots import plot_all
    from debiasbench.campaign.study import dumps
    from debiasbench.runtime.atomic import write_text_atomic

    folder.mkdir(parents=True, exist_ok=True)
    figures = plot_all(study, results, folder)
    report = build_report(study, results, {k: p.name for k, p in figures.items()})
    files = [write_cells(results, folder / "cells.csv"), *figures.values()]
    for name, text in (("report.md", report.markdown()), ("report.html", report.html(f"Study {study.name}")), ("study.json", dumps(study))):
        write_text_atomic(folder / name, text)
        files.append(folder / name)
    return files
