"""The study's figures (matplotlib, Agg, imported lazily): transfer heatmaps with significance
marks, the differences from the controls, the trade-off along the trajectory, per-seed points."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from debiasbench.analysis.plot import _save
from debiasbench.analysis.study_render import _order, mark
from debiasbench.analysis.study_report import StudyResults


def _grid_panels(ax_list: Sequence[Any], panels: list[tuple[str, list[Any], str]], sources: list[str], domains: list[str]) -> Any:
    """One source x evaluated heatmap per panel, coloured by the estimate on one symmetric scale."""
    import numpy as np

    values = [getattr(c, attr) for _, cells, attr in panels for c in cells]
    scale = max([abs(v) for v in values if v is not None and math.isfinite(v)] or [1.0])
    image = None
    for ax, (title, cells, attr) in zip(ax_list, panels):
        grid = np.full((len(sources), len(domains)), np.nan)
        for c in cells:
            if c.source in sources and c.domain in domains:
                i, j = sources.index(c.source), domains.index(c.domain)
                grid[i, j] = getattr(c, attr)
                ax.text(j, i, f"{grid[i, j]:+.1f}{mark(c.p_holm, c.p)}", ha="center", va="center", fontsize=7)
        image = ax.imshow(grid, cmap="RdYlGn_r", vmin=-scale, vmax=scale)
        ax.set_title(title, fontsize=8)
        ax.set_xticks(range(len(domains)), domains, rotation=60, fontsize=7)
        ax.set_yticks(range(len(sources)), sources, fontsize=7)
    return image


def _heatmaps(panels: list[tuple[str, list[Any], str]], sources: list[str], domains: list[str], target: Path, label: str) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels) + 1, 0.45 * len(sources) + 2.2), squeeze=False)
    image = _grid_panels(list(axes[0]), panels, sources, domains)
    fig.colorbar(image, ax=list(axes[0]), shrink=0.8, label=label)
    fig.suptitle("** Holm p < 0.05, * raw p < 0.05", fontsize=8)
    return _save(fig, target, 150)


def cost_measure(study: Any, trajectories: Sequence[dict[str, Any]]) -> str | None:
    """The trajectory's x axis: ``[study] tradeoff_measure``, else the first headline measure with no
    ideal (a cost such as perplexity) outside the family."""
    if study.tradeoff_measure:
        return str(study.tradeoff_measure)
    for row in trajectories:
        if row["headline"] and row["ideal"] is None and row["measure"] not in study.family.measures:
            return str(row["measure"])
    return None


def _tradeoff(study: Any, results: StudyResults, target: Path) -> Path | None:
    """Per arm: mean over runs, at each probe (by its order), of the cost measure (x) and the mean
    over the family's domains of the family's first measure's distance to the ideal on the dev items (y)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measure, cost = study.family.measures[0], cost_measure(study, results.trajectories)
    if cost is None:
        return None
    domains = study.family.domains
    arm_of = {r.run_id: r.arm for r in results.runs}
    by_run: dict[str, dict[int, dict[str, list[float]]]] = {}
    for row in results.trajectories:
        point = by_run.setdefault(row["run_id"], {}).setdefault(row["step"], {"distance": [], "cost": []})
        if row["measure"] == measure and (domains is None or row["domain"] in domains):
            point["distance"].append(row["distance"])
        elif row["measure"] == cost:
            point["cost"].append(row["value"])
    lines: dict[str, dict[int, list[tuple[float, float]]]] = {}
    for run, steps in by_run.items():
        for order, step in enumerate(sorted(steps)):
            p = steps[step]
            if p["distance"] and p["cost"]:
                lines.setdefault(arm_of[run], {}).setdefault(order, []).append((p["cost"][0], sum(p["distance"]) / len(p["distance"])))
    if not lines:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for arm, orders in lines.items():
        xs = [sum(x for x, _ in orders[o]) / len(orders[o]) for o in sorted(orders)]
        ys = [sum(y for _, y in orders[o]) / len(orders[o]) for o in sorted(orders)]
        ax.plot(xs, ys, marker="o", label=arm)
    ax.set_xlabel(f"{cost} (trajectory probe)")
    ax.set_ylabel(f"distance to ideal, {measure}\n(mean over {', '.join(domains) if domains else 'domains'}; dev items)", fontsize=8)
    ax.legend(fontsize=7)
    ax.set_title("trade-off along the trajectory (mean over sources and seeds, by probe)", fontsize=9)
    return _save(fig, target, 150)


def _seeds(study: Any, results: StudyResults, target: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measure = study.family.measures[0]
    cells = [c for c in results.cells if c.measure == measure and (study.family.domains is None or c.domain in study.family.domains)]
    if not cells:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(cells)), 4))
    for i, c in enumerate(cells):
        ax.scatter([i] * len(c.per_seed_d_delta), c.per_seed_d_delta, s=12, color="grey")
        ax.errorbar([i], [c.d_delta], yerr=[[c.d_delta - c.d_delta_ci[0]], [c.d_delta_ci[1] - c.d_delta]], fmt="o", color="black", ms=3)
    ax.axhline(0, color="red", lw=0.5)
    ax.set_xticks(range(len(cells)), [f"{c.arm} | {c.source}->{c.domain}" for c in cells], rotation=90, fontsize=6)
    ax.set_ylabel(f"d_delta, {measure}")
    ax.set_title("per-seed d_delta (grey) and the mean with its crossed 95% interval", fontsize=9)
    return _save(fig, target, 150)


def plot_all(study: Any, results: StudyResults, folder: Path) -> dict[str, Path]:
    sources = _order([r.source for r in results.runs])
    measure = study.family.measures[0]
    domains = _order([c.domain for c in results.cells if c.measure == measure])
    arms = list(dict.fromkeys(r.arm for r in results.runs))
    panels = [(arm, [c for c in results.cells if c.arm == arm and c.measure == measure], "d_delta") for arm in arms]
    pairs = list(dict.fromkeys((c.method, c.control) for c in results.contrasts if c.measure == measure))
    contrast_panels = [(f"{m} - {c}", [x for x in results.contrasts if (x.method, x.control) == (m, c) and x.measure == measure], "effect")
                       for m, c in pairs]
    made = {
        "heatmap": _heatmaps([p for p in panels if p[1]], sources, domains, folder / "heatmap.png", f"d_delta, {measure}"),
        "contrasts": _heatmaps(contrast_panels, sources, domains, folder / "contrasts.png", "method d_delta - control d_delta"),
        "tradeoff": _tradeoff(study, results, folder / "tradeoff.png"),
        "seeds": _seeds(study, results, folder / "seeds.png"),
    }
    return {k: v for k, v in made.items() if v is not None}
