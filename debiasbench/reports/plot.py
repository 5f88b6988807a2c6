"""Transfer heatmaps: source domain x evaluated domain, coloured by the change in distance to the ideal.

One panel per measure (columns of the figure) and configuration (rows: model, method, variant).
Green means the unlearning moved the measure closer to its ideal, red further away; the colour
scale is symmetric around 0 per measure so panels of one measure are comparable. matplotlib is
imported lazily (Agg backend) so the CLI stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from debiasbench.reports.compare import Comparison, RowKey
from debiasbench.reports.compare_formats import ideal_text, num
from debiasbench.reports.figure_file import save_figure
from debiasbench.errors import DebiasbenchError

_Panel = tuple[str, str, str, str, str]  # model, method, forget set, preset, method options


def _panels(comparison: Comparison) -> dict[_Panel, list[RowKey]]:
    panels: dict[_Panel, list[RowKey]] = {}
    for key in comparison.rows:
        if not key.is_baseline:
            panels.setdefault((key.model, key.method, key.forget_set, key.preset, key.method_options), []).append(key)
    return panels


def plot_transfer(comparison: Comparison, target: Path, dpi: int = 200) -> Path:
    """Write the heatmap figure to ``target`` (format from its suffix: png, pdf, svg) atomically."""
    panels = _panels(comparison)
    if not panels:
        raise DebiasbenchError("--plot needs unlearning runs (rows with a source domain); only plain evaluations were selected")
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import TwoSlopeNorm

    plotted = {c.measure for (k, c) in comparison.cells if not k.is_baseline}
    measures = [m for m in comparison.measure_names() if m in plotted]
    domains = {m: [c for c in comparison.columns if c.measure == m] for m in measures}
    panel_list = list(panels.items())
    sources = {p: keys for p, keys in panel_list}
    cell_w, cell_h = 1.05, 0.62
    widths = [max(2.6, cell_w * len(domains[m]) + 1.2) for m in measures]
    heights = [max(1.8, cell_h * len(sources[p]) + 1.2) for p, _ in panel_list]
    fig, axes = plt.subplots(len(panel_list), len(measures), figsize=(sum(widths) + 0.8, sum(heights)),
                             gridspec_kw={"width_ratios": widths, "height_ratios": heights}, squeeze=False)
    scale = {}
    for m in measures:
        changes = [abs(_toward(cell)) for (k, c), cell in comparison.cells.items() if c.measure == m and np.isfinite(_toward(cell))]
        scale[m] = max(changes, default=0.0) or 1.0

    for i, (panel, keys) in enumerate(panel_list):
        model, method, forget_set, preset, _ = panel
        variant = comparison.variants.get(keys[0], "")
        for j, measure in enumerate(measures):
            ax = axes[i][j]
            columns = domains[measure]
            grid = np.full((len(keys), len(columns)), np.nan)
            for r, key in enumerate(keys):
                for c, column in enumerate(columns):
                    cell = comparison.cells.get((key, column))
                    if cell is not None:
                        grid[r, c] = _toward(cell)
            norm = TwoSlopeNorm(vmin=-scale[measure], vcenter=0.0, vmax=scale[measure])
            cmap = matplotlib.colormaps["RdYlGn_r"].with_extremes(bad="#e6e6e6")
            image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, aspect="auto")
            for r, key in enumerate(keys):
                for c, column in enumerate(columns):
                    cell = comparison.cells.get((key, column))
                    shade = cmap(norm(grid[r, c])) if np.isfinite(grid[r, c]) else (0.9, 0.9, 0.9, 1.0)
                    ink = "white" if 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] < 0.45 else "black"
                    ax.text(c, r, _annotation(cell), ha="center", va="center", fontsize=7.5, color=ink,
                            fontweight="bold" if column.domain == key.source_domain else "normal")
            ax.set_xticks(range(len(columns)), [c.domain for c in columns], fontsize=8.5, rotation=30, ha="right")
            ax.set_yticks(range(len(keys)), [k.source_domain for k in keys], fontsize=8.5)
            if j == 0:
                ax.set_ylabel("unlearned (source) domain", fontsize=8.5)
            if i == len(panel_list) - 1:
                ax.set_xlabel("evaluated domain", fontsize=8.5)
            head = f"{measure} ({ideal_text(*comparison.measures[measure])})"
            who = " · ".join(p for p in (method, model if len({p[0] for p in panels}) > 1 else "", variant) if p)
            ax.set_title(f"{head}\n{who}", fontsize=9)
            bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
            bar.ax.tick_params(labelsize=7)
            bar.set_label("d: change toward the ideal (test items)", fontsize=7.5)
    fig.suptitle("Cross-domain transfer: change in distance to the ideal (green = closer, red = further)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, Path(target), dpi)


def _toward(cell: Any) -> float:
    """The cell's colour: the paired change in distance to the ideal on the test items where there is
    one, else the change in distance over all items (NaN: no change)."""
    if cell.paired is not None:
        return float(cell.paired.d_delta)
    return float(cell.distance_change.mean) if cell.distance_change is not None else float("nan")


def _annotation(cell: Any) -> str:
    if cell is None:
        return "–"
    if cell.paired is not None:
        p = cell.paired
        past = f"\npast {cell.ideal:g}" if p.crossed and cell.ideal is not None else ""
        return f"{num(p.after)}\nd{num(p.d_delta, True)} Δ{num(p.delta, True)}{past}"
    value = num(cell.value.mean) + (f"±{num(cell.value.sd)}" if cell.value.sd is not None else "")
    if cell.change is None:
        return value
    dist = cell.distance_change.mean if cell.distance_change is not None else None
    return f"{value}\nΔ{num(cell.change.mean, True)} d{num(dist, True)}"
