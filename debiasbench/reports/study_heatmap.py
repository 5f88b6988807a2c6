"""Drawing the study's transfer heatmaps (matplotlib, Agg, imported lazily): panels of
source x evaluated-domain cells on one fixed colour scale, with their colourbar and legend. Which
cells go in which panel is :mod:`.study_plots`' job; this module only draws them.

The heatmaps tell the truth by construction:

- **A fixed colour scale, in units of the cell's MDE.** A cell is coloured by its estimate divided
  by its own minimum detectable effect (the smallest effect its test finds with 80 % power at
  two-sided 0.05), clipped to [-2, 2], on a diverging map centred on 0 (blue: closer to the ideal,
  red: farther). The limits never depend on the data: they are the same in every panel and every
  study, with one shared colourbar. Why MDE units rather than points of the measure: the family's
  measures come in different units (``crows-pairs.score`` in percentage points,
  ``crows-pairs.margin`` in log-probability), so a fixed number of points would need a constant
  per measure that nothing in the results declares; and the MDE is the yardstick the report's
  verdicts already use. 1 MDE is an effect the cell finds four times in five; past 2 MDE a cell
  is clearly beyond what its design resolves, so more colour would only stretch the scale for
  one cell. The estimate itself, in the measure's units, is printed in every cell.
- **A cell whose 95 % interval holds 0 is neutral**: light grey and hatched, whatever its point
  estimate (so one pair of 17 flipping, +5.9 with p = 1, is grey, not the darkest red). So is a
  cell with no interval or no positive MDE: without them there is nothing to scale by.
- **The verdict per cell**, beside the estimate: ↓ closer, ↑ farther (the claim's Holm p < 0.05),
  ≈ equivalent within the margin, ? inconclusive, – not tested, with a legend that gives the
  reasons. A claim with controls is judged in the contrasts figure, so its arm cells show –.
- **The size the report shows.** Figures are at most 7.5 inches wide at 150 dpi (1125 px, the
  save's padding included), which the HTML report's 1200 px column shows unscaled and Markdown
  shows at its own size; panels wrap into rows rather than shrink, only the first column of panels
  carries the source labels, titles wrap to their panel, and constrained layout keeps labels,
  colourbar and legend apart. The layout is then frozen, so the file holds what the tests measured.
"""


from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["CMAP", "DPI", "MISSING", "NEUTRAL", "PAD", "REPORT_WIDTH", "SCALE_LIMIT", "SYMBOLS", "Grid", "HeatCell", "Panel",
           "cell_text", "face_colour", "grid_shape", "heatmap_figure", "is_neutral", "scaled", "text_colour"]

SCALE_LIMIT = 2.0  # |estimate / MDE| where the colour saturates: the fixed limits of every heatmap
CMAP = "RdBu_r"  # diverging, colour-blind safe; white at 0
NEUTRAL = "#e3e3e3"  # the face of a cell whose interval holds 0
HATCH, HATCH_COLOUR = "////", "#b3b3b3"
MISSING = "#ffffff"  # a cell with no result: white, "no data"
DPI = 150
REPORT_WIDTH = 7.5  # inches, padding included: 1125 px at DPI, shown unscaled in the report's 1200 px column
MIN_CELL_W, MAX_CELL_W, CELL_H = 0.55, 0.8, 0.42  # inches
PANEL_GAP = 0.2  # inches between panels
PAD = 0.1  # inches savefig(bbox_inches="tight") adds on each side
SYMBOLS = {"closer": "↓", "farther": "↑", "equivalent": "≈", "inconclusive": "?", "": "–"}
_WORDS = {"closer": "closer to the ideal (Holm p < 0.05)", "farther": "farther from the ideal (Holm p < 0.05)",
          "equivalent": "equivalent within the margin", "inconclusive": "inconclusive"}


@dataclass(frozen=True)
class HeatCell:
    """What one heatmap cell shows: estimate, 95 % interval, the MDE it is scaled by, the verdict."""

    source: str
    domain: str
    estimate: float
    interval: tuple[float, float]
    mde: float
    verdict: str = ""  # closer | farther | equivalent | inconclusive | "" (not tested)
    reason: str = ""  # why not tested


Panel = tuple[str, list[HeatCell]]


def scaled(cell: HeatCell) -> float | None:
    """The colour value: estimate / MDE clipped to the fixed limits; None without a usable MDE."""
    if not math.isfinite(cell.estimate) or not math.isfinite(cell.mde) or cell.mde <= 0:
        return None
    return max(-SCALE_LIMIT, min(SCALE_LIMIT, cell.estimate / cell.mde))


def is_neutral(cell: HeatCell) -> bool:
    """Drawn grey: the interval holds 0 (or is missing), or there is no MDE to scale by."""
    low, high = cell.interval
    return not (math.isfinite(low) and math.isfinite(high)) or low <= 0.0 <= high or scaled(cell) is None


def face_colour(cell: HeatCell) -> tuple[float, float, float, float]:
    """The cell's fill: neutral grey, or the fixed diverging map at estimate / MDE."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize, to_rgba

    if is_neutral(cell):
        return to_rgba(NEUTRAL)
    return tuple(colormaps[CMAP](Normalize(-SCALE_LIMIT, SCALE_LIMIT)(scaled(cell))))  # type: ignore[return-value]


def text_colour(face: Sequence[float]) -> str:
    """Black or white, whichever contrasts more with the fill (WCAG relative luminance)."""
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in face[:3]]
    luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return "black" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "white"


def _decimals(cells: Sequence[HeatCell]) -> int:
    """One to three decimals, enough for the figure's largest estimate to show two digits."""
    largest = max([abs(c.estimate) for c in cells if math.isfinite(c.estimate) and c.estimate] or [1.0])
    return max(1, min(3, 1 - math.floor(math.log10(largest))))


def cell_text(cell: HeatCell, decimals: int) -> str:
    """The estimate in the measure's units over the verdict symbol (a line each: narrow cells stay legible)."""
    shown = round(cell.estimate, decimals) if math.isfinite(cell.estimate) else None
    value = "n/a" if shown is None else f"{0.0:.{decimals}f}" if shown == 0 else f"{shown:+.{decimals}f}"  # no "-0.0"
    return f"{value}\n{SYMBOLS.get(cell.verdict, '?')}"


def _draw_cell(ax: Any, row: int, col: int, cell: HeatCell | None, decimals: int, fontsize: float) -> None:
    """One rectangle (gid ``cell:row:col``; a hatched twin over a neutral one) and its text."""
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Rectangle

    face = face_colour(cell) if cell is not None else to_rgba(MISSING)
    box = Rectangle((col - 0.5, row - 0.5), 1, 1, facecolor=face, edgecolor="white", linewidth=1.5, gid=f"cell:{row}:{col}")
    ax.add_patch(box)
    if cell is not None and is_neutral(cell):  # hatch in its own patch: its colour is its edge colour on every matplotlib
        ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, facecolor="none", edgecolor=HATCH_COLOUR, linewidth=0, hatch=HATCH))
    text = cell_text(cell, decimals) if cell is not None else "no data"
    colour = text_colour(face) if cell is not None else "#888888"
    under = {"facecolor": NEUTRAL, "edgecolor": "none", "pad": 0.8} if cell is not None and is_neutral(cell) else None  # hatch off the digits
    ax.text(col, row, text, ha="center", va="center", fontsize=fontsize, color=colour, gid=f"text:{row}:{col}", bbox=under)


def _draw_panel(ax: Any, panel: Panel, sources: list[str], domains: list[str], labels: bool, style: tuple[int, float, int]) -> None:
    """One source x evaluated grid; the source labels only on the first column of panels."""
    decimals, fontsize, wrap = style
    by = {(c.source, c.domain): c for c in panel[1]}
    for i, source in enumerate(sources):
        for j, domain in enumerate(domains):
            _draw_cell(ax, i, j, by.get((source, domain)), decimals, fontsize)
    ax.set_xlim(-0.5, len(domains) - 0.5)
    ax.set_ylim(len(sources) - 0.5, -0.5)
    ax.set_xticks(range(len(domains)), domains, rotation=45, ha="right", rotation_mode="anchor", fontsize=7)
    ax.set_yticks(range(len(sources)), sources if labels else [""] * len(sources), fontsize=7)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title("\n".join(textwrap.wrap(panel[0], wrap)), fontsize=8)


class Grid(NamedTuple):
    """Where the panels go and how big the figure is (inches)."""

    ncols: int
    nrows: int
    width: float
    height: float
    cell_w: float


def grid_shape(n_panels: int, sources: Sequence[str], domains: Sequence[str]) -> Grid:
    """Panels wrap into rows at the report's width rather than shrink below a readable cell."""
    label_w = 0.2 + 0.06 * max(len(s) for s in sources)
    room = REPORT_WIDTH - 2 * PAD - label_w - 0.2
    ncols = max(1, min(n_panels, int(room // (len(domains) * MIN_CELL_W + PANEL_GAP))))
    cell_w = min(MAX_CELL_W, (room - ncols * PANEL_GAP) / (ncols * len(domains)))
    width = max(5.5, min(REPORT_WIDTH - 2 * PAD, label_w + 0.2 + ncols * (len(domains) * cell_w + PANEL_GAP)))
    xlabels = 0.15 + 0.045 * max(len(d) for d in domains)  # names at 45 degrees
    nrows = math.ceil(n_panels / ncols)
    return Grid(ncols, nrows, width, nrows * (0.4 + len(sources) * CELL_H + xlabels) + 2.2, cell_w)


def _colourbar(fig: Any, axes: list[Any], label: str, span: float) -> Any:
    """One colourbar for every panel, about 4.5 inches long whatever ``span`` (the panels' width),
    with the fixed limits and what the clipping means."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    mappable = ScalarMappable(Normalize(-SCALE_LIMIT, SCALE_LIMIT), colormaps[CMAP])
    bar = fig.colorbar(mappable, ax=axes, location="bottom", shrink=min(0.9, 4.5 / span), aspect=35, extend="both", pad=0.02)
    limit = f"{SCALE_LIMIT:g}"
    bar.set_ticks([-SCALE_LIMIT, -SCALE_LIMIT / 2, 0, SCALE_LIMIT / 2, SCALE_LIMIT],
                  labels=[f"≤ −{limit}", f"−{SCALE_LIMIT / 2:g}", "0", f"+{SCALE_LIMIT / 2:g}", f"≥ +{limit}"])
    bar.ax.tick_params(labelsize=7)
    bar.set_label(f"colour: {label} ÷ the cell's MDE, clipped to ±{limit}  (← closer to the ideal · farther →)\n"
                  f"text: {label} in the measure's units, over the verdict", fontsize=7)
    return bar


def _legend(fig: Any, cells: Sequence[HeatCell], ncols: int) -> Any:
    """The neutral fill and the verdict symbols (written as in the cells), with why a cell was not tested."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    blank = Line2D([], [], linestyle="", marker="")
    handles: list[Any] = [Patch(facecolor=NEUTRAL, edgecolor=HATCH_COLOUR, hatch=HATCH, linewidth=0)]
    labels = ["95% interval holds 0 (or no MDE): not coloured"]
    for verdict, words in _WORDS.items():
        handles.append(blank)
        labels.append(f"{SYMBOLS[verdict]}  {words}")
    for reason in sorted({c.reason for c in cells if not c.verdict and c.reason}):
        handles.append(blank)
        reason = reason.removesuffix(": not tested")
        labels.append("\n   ".join(textwrap.wrap(f"{SYMBOLS['']}  not tested: {reason}", 60)))
    return fig.legend(handles, labels, loc="outside lower center", ncols=ncols, fontsize=7, frameon=False,
                      handlelength=1.6, columnspacing=1.5)


def heatmap_figure(panels: Sequence[Panel], sources: list[str], domains: list[str], label: str, title: str) -> Any:
    """The figure (not saved): every panel on the one fixed scale, the colourbar and the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = grid_shape(len(panels), sources, domains)
    fig, axes = plt.subplots(grid.nrows, grid.ncols, figsize=(grid.width, grid.height), squeeze=False, layout="constrained")
    cells = [c for _, mine in panels for c in mine]
    style = (_decimals(cells), 7.0 if grid.cell_w >= MIN_CELL_W else 6.0, max(12, int(len(domains) * grid.cell_w * 13)))
    flat = list(axes.flat)
    for k, ax in enumerate(flat):
        if k < len(panels):
            _draw_panel(ax, panels[k], sources, domains, k % grid.ncols == 0, style)
        else:
            ax.set_visible(False)
    _colourbar(fig, flat[:len(panels)], label, grid.ncols * (len(domains) * grid.cell_w + PANEL_GAP))
    _legend(fig, cells, 2 if grid.width >= 7.0 else 1)  # two columns of legend need 7 inches
    fig.suptitle("\n".join(textwrap.wrap(title, int(grid.width * 15))), fontsize=8)  # about 15 characters of 8 pt an inch
    _fit_height(fig, flat[:len(panels)], grid.nrows, len(sources) * CELL_H)
    return fig


def _fit_height(fig: Any, axes: list[Any], nrows: int, want: float) -> None:
    """Resize the figure until every panel is ``want`` inches tall (cells keep their shape, no gaps
    open between the rows), then freeze the layout, so that what is saved is what was checked.
    Constrained layout keeps its margins in inches, so each inch of height goes to the rows."""
    for _ in range(3):
        fig.canvas.draw()  # runs the layout
        have = min(ax.get_position().height for ax in axes) * fig.get_figheight()
        if abs(have - want) < 0.02:
            break
        fig.set_figheight(max(1.0, fig.get_figheight() + nrows * (want - have)))
    fig.canvas.draw()
    fig.set_layout_engine("none")
