"""The study's figures (matplotlib, Agg, imported lazily), from its results: the transfer heatmaps
(``heatmap.png``, each arm's ``d_delta``; ``contrasts.png``, each method's ``d_delta`` minus its
control's; drawn by :mod:`.study_heatmap`), the trade-off (:mod:`.study_tradeoff`) and the per-seed
points.

The heatmap cells carry the verdict of the claim they belong to: a claim with controls is judged
in the contrasts figure, so its arm cells show no verdict. The per-seed figure lists its cells as
rows under each arm (horizontal labels stay legible however many cells there are), at the report's
width.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from debiasbench.reports.domain_order import domain_order
from debiasbench.reports.figure_file import save_figure
from debiasbench.reports.study_heatmap import DPI, PAD, REPORT_WIDTH, HeatCell, Panel, heatmap_figure
from debiasbench.reports.study_results import StudyCell, StudyClaim, StudyContrast, StudyResults
from debiasbench.reports.study_tradeoff import tradeoff_figure

__all__ = ["arm_cell", "arm_panels", "contrast_cell", "contrast_panels", "heatmap_specs", "plot_all"]


def _claim_mark(claim: StudyClaim | None) -> tuple[str, str]:
    if claim is None:
        return "", "outside the family of claims"
    if claim.not_tested:
        return "", claim.not_tested
    return claim.verdict, ""


def arm_cell(c: StudyCell, claims: dict[tuple[str, str, str, str], StudyClaim]) -> HeatCell:
    """An arm's change; it carries a verdict only where the claim is about this change itself."""
    claim = claims.get((c.arm, c.source, c.domain, c.measure))
    if c.control is not None:
        verdict, reason = "", "a control arm (its method is judged against it in the contrasts figure)"
    elif claim is not None and claim.controls and not claim.not_tested:
        verdict, reason = "", "a method with controls (its claim is judged in the contrasts figure)"
    else:
        verdict, reason = _claim_mark(claim)
    return HeatCell(c.source, c.domain, c.d_delta, c.d_delta_ci, c.mde, verdict, reason)


def contrast_cell(x: StudyContrast, claims: dict[tuple[str, str, str, str], StudyClaim]) -> HeatCell:
    """A method minus one control; its verdict is the method's claim against every control, unless
    the contrast itself is shown but not tested (an unmatched control)."""
    untested = getattr(x, "not_tested", "")
    verdict, reason = ("", untested) if untested else _claim_mark(claims.get((x.method, x.source, x.domain, x.measure)))
    return HeatCell(x.source, x.domain, x.effect, x.effect_ci, x.mde, verdict, reason)


def _seed_rows(cells: Sequence[StudyCell]) -> list[tuple[str, StudyCell | None]]:
    """The seeds figure's rows: a heading row per arm, then its cells as ``source → evaluated``."""
    rows: list[tuple[str, StudyCell | None]] = []
    for c in cells:
        if not rows or c.arm != (rows[-1][1].arm if rows[-1][1] else rows[-1][0]):
            rows.append((c.arm, None))
        rows.append((f"{c.source} → {c.domain}", c))
    return rows


def _seeds(study: Any, results: StudyResults, target: Path) -> Path | None:
    """Per-seed ``d_delta`` and the mean with its interval, one row per cell under its arm's heading:
    rows (not rotated columns) keep every label legible at the report's width."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measure = study.family.measures[0]
    cells = [c for c in results.cells if c.measure == measure and (study.family.domains is None or c.domain in study.family.domains)]
    if not cells:
        return None
    order = {arm: k for k, arm in enumerate(dict.fromkeys(c.arm for c in cells))}
    rows = _seed_rows(sorted(cells, key=lambda c: order[c.arm]))  # stable: each arm's cells together, in their order
    fig, ax = plt.subplots(figsize=(REPORT_WIDTH - 2 * PAD, 1.3 + 0.17 * len(rows)), layout="constrained")
    for i, (_, c) in enumerate(rows):
        if c is None:
            if i:
                ax.axhline(i - 0.5, color="#cccccc", lw=0.6)
            continue
        ax.scatter(c.per_seed_d_delta, [i] * len(c.per_seed_d_delta), s=12, color="grey", zorder=2)
        ax.errorbar([c.d_delta], [i], xerr=[[c.d_delta - c.d_delta_ci[0]], [c.d_delta_ci[1] - c.d_delta]], fmt="o", color="black", ms=3, zorder=3)
    ax.axvline(0, color="#b2182b", lw=0.6)
    ax.set_yticks(range(len(rows)), [label for label, _ in rows], fontsize=7)
    for tick, (_, c) in zip(ax.get_yticklabels(), rows):
        tick.set_fontweight("bold" if c is None else "normal")
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel(f"d_delta, {measure} (negative: closer to the ideal)", fontsize=8)
    fig.suptitle("per-seed d_delta (grey) and the mean with its crossed 95% interval (black), by arm", fontsize=8)  # the figure's centre: never past its edge
    return save_figure(fig, target, DPI)


def _claim_index(results: StudyResults) -> dict[tuple[str, str, str, str], StudyClaim]:
    return {(k.method, k.source, k.domain, k.measure): k for k in results.claims}


def arm_panels(results: StudyResults, measure: str) -> list[Panel]:
    """One panel per arm (methods and controls) with cells of ``measure``."""
    claims = _claim_index(results)
    panels = [(arm, [arm_cell(c, claims) for c in results.cells if c.arm == arm and c.measure == measure])
              for arm in dict.fromkeys(r.arm for r in results.runs)]
    return [p for p in panels if p[1]]


def contrast_panels(results: StudyResults, measure: str) -> list[Panel]:
    """One panel per method - control pair with contrasts of ``measure``."""
    claims = _claim_index(results)
    pairs = dict.fromkeys((c.method, c.control) for c in results.contrasts if c.measure == measure)
    return [(f"{m} - {c}", [contrast_cell(x, claims) for x in results.contrasts if (x.method, x.control, x.measure) == (m, c, measure)])
            for m, c in pairs]


def heatmap_specs(study: Any, results: StudyResults) -> dict[str, tuple[list[Panel], list[str], list[str], str, str]]:
    """name -> (panels, sources, domains, colour label, title) of each heatmap with data, for
    :func:`heatmap_figure` (the tests check the very figures the report gets)."""
    sources = domain_order([r.source for r in results.runs])
    measure = study.family.measures[0]
    domains = domain_order([c.domain for c in results.cells if c.measure == measure])
    where = "rows: source domain (unlearned), columns: evaluated domain; test items"
    specs = {
        "heatmap": (arm_panels(results, measure), sources, domains, "d_delta",
                    f"d_delta of {measure} per arm (negative: closer to the ideal); {where}"),
        "contrasts": (contrast_panels(results, measure), sources, domains, "method - control d_delta",
                      f"method d_delta - control d_delta of {measure} (negative: the method moved closer than the control); {where}"),
    }
    return {name: spec for name, spec in specs.items() if spec[0]}


def plot_all(study: Any, results: StudyResults, folder: Path) -> dict[str, Path]:
    """Every figure of the report that has data, by name."""
    made = {name: save_figure(heatmap_figure(*spec), folder / f"{name}.png", DPI) for name, spec in heatmap_specs(study, results).items()}
    made["tradeoff"] = tradeoff_figure(study, results, folder / "tradeoff.png")
    made["seeds"] = _seeds(study, results, folder / "seeds.png")
    return {k: v for k, v in made.items() if v is not None}
