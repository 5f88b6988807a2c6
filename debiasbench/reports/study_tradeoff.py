"""The study's trade-off figure: the family's distance to the ideal against the cost (damage)
measure, along the trajectory's probes, or, without a trajectory, after unlearning per arm and source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from debiasbench.reports.figure_file import save_figure
from debiasbench.reports.study_matching import cost_measure
from debiasbench.reports.study_results import StudyResults

__all__ = ["tradeoff_figure"]


def tradeoff_figure(study: Any, results: StudyResults, target: Path) -> Path | None:
    """Per arm: mean over runs, at each probe (by its order), of the cost measure (x) and the mean
    over the family's domains of the family's first measure's distance to the ideal on the dev items (y)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measure, cost = study.family.measures[0], cost_measure(study, results.trajectories)
    if cost is None:
        return _tradeoff_after(study, results, target)
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
    return save_figure(fig, target, 150)


def _tradeoff_after(study: Any, results: StudyResults, target: Path) -> Path | None:
    """Without a trajectory: one point per arm and source, the runs' mean increase of the cost measure (x)
    against the cell's d_delta of the family's first measure, mean over its cross-domain domains (y)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measure = study.family.measures[0]
    points: dict[str, list[tuple[float, float, str]]] = {}
    for arm, source in dict.fromkeys((r.arm, r.source) for r in results.runs):
        runs = [r for r in results.runs if (r.arm, r.source) == (arm, source) and r.run_id in results.costs]
        cells = [c for c in results.cells if (c.arm, c.source, c.measure) == (arm, source, measure) and c.domain != source
                 and c.domain in (study.family.domains or (c.domain,))]
        if not runs or not cells:
            continue
        x = 100.0 * sum(results.costs[r.run_id][1] / results.costs[r.run_id][0] - 1 for r in runs) / len(runs)
        points.setdefault(arm, []).append((x, sum(c.d_delta for c in cells) / len(cells), source))
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(7.3, 4.2))
    for arm, pts in points.items():
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], label=arm, s=30)
        for x, y, source in pts:
            ax.annotate(source, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.axhline(0.0, color="#888", lw=0.8)
    ax.set_xlabel(f"{results.cost} increase, % (after over before; mean over seeds)")
    ax.set_ylabel(f"d_delta of {measure}\n(mean over the other domains; negative: closer)", fontsize=8)
    ax.legend(fontsize=7)
    ax.set_title("damage vs cross-domain change, per arm and source (after unlearning)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, target, 150)
