"""The study report's heatmaps tell the truth (issue: "Plots that tell the truth"): a fixed colour
scale in units of each cell's MDE, neutral cells where the interval holds 0, the verdict in every
cell, readable text, no label running into a neighbouring panel, and figures no wider than the
report shows unscaled. Synthetic results only: no model, no resampling."""

from __future__ import annotations

import math
from itertools import combinations
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.image
import matplotlib.pyplot as plt
import pytest
from matplotlib import colormaps
from matplotlib.colors import to_rgba

from debiasbench.reports import study_heatmap as hm
from debiasbench.reports import study_plots as sp
from debiasbench.reports.study_results import ArmRun, StudyCell, StudyClaim, StudyContrast, StudyResults
from debiasbench.domains import DOMAINS

M = "crows-pairs.score"
PIXELS = round((hm.REPORT_WIDTH) * hm.DPI)  # the width the HTML report shows unscaled (1125 px)


@pytest.fixture(autouse=True)
def _close_figures() -> Any:
    yield
    plt.close("all")


def _cell(arm: str, source: str, domain: str, est: float, ci: tuple[float, float], mde: float, control: str | None = None,
          method: str | None = None) -> StudyCell:
    return StudyCell(arm, method or arm, control, source, domain, M, (0, 1, 2), 40, 50.0, 50.0 + est, est, ci, est, ci, 0.5,
                     (est - 1.0, est, est + 1.0), mde=mde, in_family=control is None)


def _claim(method: str, source: str, domain: str, verdict: str, controls: tuple[str, ...] = (), not_tested: str = "") -> StudyClaim:
    return StudyClaim(method, source, domain, M, "same-domain" if source == domain else "cross-domain", controls, 1.0, (-1.0, 3.0),
                      0.2, 8.0, verdict=verdict, not_tested=not_tested)


def _study(domains: list[str] | None = None) -> Any:
    return SimpleNamespace(family=SimpleNamespace(measures=[M], domains=domains), tradeoff_measure=None)


def _smoke() -> StudyResults:
    """The shape of the issue's study: one source, four evaluated domains, a method with a control."""
    r = StudyResults(family="tiny")
    for arm, control in (("mlm-unlearn", None), ("random-tokens (mlm-unlearn)", "random-tokens")):
        r.runs.append(ArmRun(arm, "mlm-unlearn", control, "gender", 0, f"run-{arm}", {}))
    cells = {  # domain -> (estimate, interval, MDE) for the method arm
        "gender": (-9.0, (-14.0, -4.0), 7.0), "race": (5.9, (-2.9, 22.3), 23.2),  # one pair of 17 flipping: p = 1
        "religion": (30.0, (20.0, 40.0), 6.0), "all": (0.0, (0.0, 0.0), 0.0)}
    for d, (est, ci, mde) in cells.items():
        r.cells.append(_cell("mlm-unlearn", "gender", d, est, ci, mde))
        r.cells.append(_cell("random-tokens (mlm-unlearn)", "gender", d, est / 2, (est / 2 - 1, est / 2 + 1), 3.0,
                             control="random-tokens", method="mlm-unlearn"))
        r.contrasts.append(StudyContrast("mlm-unlearn", "random-tokens", "gender", d, M, (0, 1, 2), est, est / 2, est / 2,
                                         (est / 2 - 1.0, est / 2 + 1.0), 0.3, (est / 2,), in_family=True, mde=3.0))
    verdicts = {"gender": "closer", "race": "inconclusive", "religion": "farther"}
    for d, v in verdicts.items():
        r.claims.append(_claim("mlm-unlearn", "gender", d, v, ("random-tokens",)))
    r.claims.append(_claim("mlm-unlearn", "gender", "all", "inconclusive", ("random-tokens",),
                           not_tested="control benign-ga missing: not tested"))
    return r


def _wide(arms: int = 1, evaluated: int = 13) -> StudyResults:
    """Every domain a source, long arm names: the labels most likely to collide (13 evaluated
    domains: one panel a row; 3: several panels a row, each after another's source labels)."""
    r = StudyResults(family="wide")
    verdicts = ["closer", "farther", "equivalent", "inconclusive"]
    for a in range(arms):
        arm = f"arm {a} with a rather long descriptive name (variant {a})"
        for i, s in enumerate(DOMAINS):
            r.runs.append(ArmRun(arm, arm, None, s, 0, f"run-{a}-{s}", {}))
            for j, d in enumerate([*DOMAINS, "all"][:evaluated]):
                est = (i - j) * 2.5 + a
                r.cells.append(_cell(arm, s, d, est, (est - 4.0, est + 4.0), 5.6))
                r.claims.append(_claim(arm, s, d, verdicts[(i + j) % 4]))
    return r


def _by_gid(fig: Any, prefix: str) -> dict[tuple[int, int, int], Any]:
    """(panel, row, col) -> the cell's rectangle ("cell") or text ("text")."""
    out = {}
    for k, ax in enumerate(a for a in fig.axes if a.get_label() != "<colorbar>" and a.get_visible()):
        for artist in [*ax.patches, *ax.texts]:
            gid = artist.get_gid() or ""
            if gid.startswith(prefix + ":"):
                _, row, col = gid.split(":")
                out[(k, int(row), int(col))] = artist
    return out


def _figure(results: StudyResults, contrasts: bool = False) -> tuple[Any, list[hm.Panel]]:
    """The figure plot_all saves (same panels, labels and title), not saved."""
    spec = sp.heatmap_specs(_study(), results)["contrasts" if contrasts else "heatmap"]
    return hm.heatmap_figure(*spec), spec[0]


def _colourbar_norm(fig: Any) -> Any:
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1, "one colourbar shared by every panel"
    return bars[0]._colorbar.norm


@pytest.mark.parametrize("factor", [0.001, 1.0, 1000.0])
def test_colour_limits_are_fixed_whatever_the_data(factor: float) -> None:
    r = StudyResults(family="f", runs=[ArmRun("m", "m", None, "gender", 0, "run", {})])
    r.cells = [_cell("m", "gender", d, factor * v, (factor * v * 0.5, factor * v * 1.5), factor * 4.0)
               for d, v in (("gender", 4.0), ("race", 100.0), ("religion", -4.0))]
    fig, _ = _figure(r)
    norm = _colourbar_norm(fig)
    assert (norm.vmin, norm.vmax) == (-hm.SCALE_LIMIT, hm.SCALE_LIMIT)
    faces = _by_gid(fig, "cell")
    cmap = colormaps[hm.CMAP]
    # 1 MDE is 1 MDE whatever the units and whatever the largest cell: the scale is not stretched to the data
    assert faces[(0, 0, 0)].get_facecolor() == pytest.approx(cmap(0.75))
    assert faces[(0, 0, 2)].get_facecolor() == pytest.approx(cmap(0.25))
    assert faces[(0, 0, 1)].get_facecolor() == pytest.approx(cmap(1.0))  # 25 MDE, clipped to 2


def test_same_cell_same_colour_in_every_panel() -> None:
    r = _smoke()
    r.runs.append(ArmRun("other", "other", None, "gender", 0, "run-other", {}))
    r.cells.append(_cell("other", "gender", "gender", -9.0, (-14.0, -4.0), 7.0))
    r.cells.append(_cell("other", "gender", "race", 900.0, (800.0, 1000.0), 7.0))  # a huge cell elsewhere changes nothing
    fig, _ = _figure(r)
    faces = _by_gid(fig, "cell")
    assert faces[(0, 0, 0)].get_facecolor() == pytest.approx(faces[(2, 0, 0)].get_facecolor())
    assert faces[(2, 0, 3)].get_facecolor() == pytest.approx(to_rgba(hm.MISSING))  # no result: white, said so
    assert _by_gid(fig, "text")[(2, 0, 3)].get_text() == "no data"


def test_interval_holding_zero_is_neutral_whatever_the_estimate() -> None:
    fig, _ = _figure(_smoke())
    faces = _by_gid(fig, "cell")
    neutral = to_rgba(hm.NEUTRAL)
    assert faces[(0, 0, 1)].get_facecolor() == pytest.approx(neutral)  # +5.9, interval [-2.9, 22.3]: grey, not red
    assert faces[(0, 0, 3)].get_facecolor() == pytest.approx(neutral)  # interval [0, 0] and MDE 0: nothing to scale by
    ax = [a for a in fig.axes if a.get_label() != "<colorbar>"][0]
    hatched = {(round(p.get_x() + 0.5), round(p.get_y() + 0.5)) for p in ax.patches if p.get_hatch()}
    assert hatched == {(1, 0), (3, 0)}  # (col, row): exactly the neutral cells are hatched
    coloured = faces[(0, 0, 0)].get_facecolor()  # -9 [-14, -4]: closer, blue
    assert coloured != pytest.approx(neutral) and coloured[2] > coloured[0]
    assert faces[(0, 0, 2)].get_facecolor() == pytest.approx(colormaps[hm.CMAP](1.0))  # +30 = 5 MDE: clipped to the darkest red


def test_scaled_and_neutral_rules() -> None:
    assert hm.scaled(hm.HeatCell("a", "b", 50.0, (40.0, 60.0), 5.0)) == hm.SCALE_LIMIT
    assert hm.scaled(hm.HeatCell("a", "b", -50.0, (-60.0, -40.0), 5.0)) == -hm.SCALE_LIMIT
    assert hm.scaled(hm.HeatCell("a", "b", 5.0, (4.0, 6.0), 10.0)) == 0.5
    assert hm.scaled(hm.HeatCell("a", "b", 5.0, (4.0, 6.0), math.nan)) is None
    assert hm.is_neutral(hm.HeatCell("a", "b", 5.0, (4.0, 6.0), math.nan))
    assert hm.is_neutral(hm.HeatCell("a", "b", 5.0, (math.nan, math.nan), 3.0))
    assert hm.is_neutral(hm.HeatCell("a", "b", 5.0, (0.0, 10.0), 3.0))  # the bound itself holds 0
    assert not hm.is_neutral(hm.HeatCell("a", "b", 5.0, (0.1, 10.0), 3.0))


def test_verdicts_marked_in_every_cell_with_a_legend() -> None:
    results = _smoke()
    fig, _ = _figure(results, contrasts=True)
    texts = {k[2]: t.get_text() for k, t in _by_gid(fig, "text").items()}
    assert texts[0].endswith(hm.SYMBOLS["closer"]) and texts[1].endswith(hm.SYMBOLS["inconclusive"])
    assert texts[2].endswith(hm.SYMBOLS["farther"]) and texts[3].endswith(hm.SYMBOLS[""])  # not tested
    assert texts[0].startswith("-4.5") and texts[3].startswith("0.0")  # the estimate in the measure's units, no "-0.0"
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    for verdict in ("closer", "farther", "equivalent", "inconclusive"):
        assert hm.SYMBOLS[verdict] in legend and verdict in legend
    assert "control benign-ga missing" in legend and "holds 0" in legend
    # the arm heatmap: the claim is against the control, so its own change is not marked as if it were tested
    fig, _ = _figure(results)
    arm_texts = _by_gid(fig, "text")
    assert all(t.get_text().endswith(hm.SYMBOLS[""]) for t in arm_texts.values())
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "control arm" in legend and "contrasts figure" in legend


def test_claim_without_controls_marks_the_change() -> None:
    r = StudyResults(family="f", runs=[ArmRun("m", "m", None, "gender", 0, "run", {})])
    r.cells = [_cell("m", "gender", "gender", -9.0, (-14.0, -4.0), 7.0), _cell("m", "gender", "race", 1.0, (-3.0, 5.0), 7.0),
               _cell("m", "gender", "religion", 0.5, (-1.0, 2.0), 7.0)]
    r.claims = [_claim("m", "gender", "gender", "closer"), _claim("m", "gender", "race", "equivalent")]
    cells = sp.arm_panels(r, M)[0][1]
    assert [(c.verdict, c.reason) for c in cells] == [("closer", ""), ("equivalent", ""), ("", "outside the family of claims")]


def test_contrast_shown_but_not_tested_says_why() -> None:
    if "not_tested" not in StudyContrast.__dataclass_fields__:
        pytest.skip("StudyContrast has no not_tested here")
    results = _smoke()
    results.contrasts[0] = StudyContrast("mlm-unlearn", "random-tokens", "gender", "gender", M, (0,), -9.0, -4.5, -4.5, (-5.5, -3.5), 0.01,
                                         (-4.5,), mde=3.0, not_tested="random-tokens ran longer than the method: unmatched")
    cell = sp.contrast_panels(results, M)[0][1][0]
    assert (cell.verdict, cell.reason) == ("", "random-tokens ran longer than the method: unmatched")  # not the claim's "closer"


def test_text_is_readable_on_its_fill() -> None:
    def luminance(colour: Any) -> float:
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgba(colour)[:3]]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    fig, _ = _figure(_wide())
    faces, texts = _by_gid(fig, "cell"), _by_gid(fig, "text")
    assert len(texts) == 12 * 13
    for key, text in texts.items():
        lighter, darker = sorted((luminance(faces[key].get_facecolor()), luminance(text.get_color())), reverse=True)
        assert (lighter + 0.05) / (darker + 0.05) >= 4.5, (key, text.get_text())  # WCAG AA for normal text


def _texts(ax: Any) -> list[Any]:
    shown = [ax.title, *ax.get_xticklabels(), *ax.get_yticklabels()]
    return [t for t in shown if t.get_visible() and t.get_text()]


def _overlap(a: Any, b: Any) -> bool:
    return a.x0 < b.x1 - 0.5 and b.x0 < a.x1 - 0.5 and a.y0 < b.y1 - 0.5 and b.y0 < a.y1 - 0.5


@pytest.mark.parametrize(("make", "contrasts"), [(_smoke, False), (_smoke, True), (lambda: _wide(arms=4, evaluated=3), False),
                                               (_wide, False)], ids=["one-source", "one-source-contrasts", "panels-side-by-side", "every-domain"])
def test_labels_do_not_run_into_other_panels(make: Any, contrasts: bool) -> None:
    fig, panels = _figure(make(), contrasts)
    fig.set_dpi(hm.DPI)  # as saved (the layout is frozen: only the pixels per inch change)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axes = [a for a in fig.axes if a.get_label() != "<colorbar>" and a.get_visible()]
    assert len(axes) == len(panels)
    assert sum(bool(ax.get_yticklabels()[0].get_text()) for ax in axes) == math.ceil(len(axes) / len({round(ax.get_position().x0, 3) for ax in axes}))
    for a, b in combinations(axes, 2):
        for t in _texts(a):
            box = t.get_window_extent(renderer)
            assert not _overlap(box, b.get_window_extent(renderer)), (t.get_text(), "runs into the panel", b.get_title())
            for u in _texts(b):
                assert not _overlap(box, u.get_window_extent(renderer)), (t.get_text(), u.get_text())
    others = [fig.legends[0].get_window_extent(renderer), fig._suptitle.get_window_extent(renderer),
              *(a.get_tightbbox(renderer) for a in fig.axes if a.get_label() == "<colorbar>")]
    for ax in axes:
        for box in others:
            assert not _overlap(ax.get_tightbbox(renderer), box)
    for box in [*others, *(ax.get_tightbbox(renderer) for ax in axes)]:  # nothing spills out of the figure
        assert box.x0 >= 0 and box.x1 <= fig.bbox.width and box.y0 >= 0 and box.y1 <= fig.bbox.height


def _trajectories(results: StudyResults) -> None:
    """Two probes per run: the family measure's distance on the dev items and perplexity."""
    for run in results.runs:
        for step in (0, 10):
            results.trajectories.append({"run_id": run.run_id, "step": step, "measure": M, "domain": "gender", "distance": 10.0 - step / 5,
                                         "value": 50.0, "headline": True, "ideal": 50.0})
            results.trajectories.append({"run_id": run.run_id, "step": step, "measure": "perplexity", "domain": "all", "distance": None,
                                         "value": 30.0 + step, "headline": True, "ideal": None})


def test_figures_are_drawn_at_the_size_the_report_shows(tmp_path: Path) -> None:
    """Every figure fits the HTML report's column unscaled (its CSS is read from the report itself),
    so 7 pt text is shown as 7 pt; and the report embeds each one."""
    import re

    from debiasbench.reports.study_render import build_report

    for name, results in (("smoke", _smoke()), ("side-by-side", _wide(arms=4, evaluated=3))):
        _trajectories(results)
        folder = tmp_path / name
        folder.mkdir()
        study = SimpleNamespace(name=name, source=f"{name}.toml", results_dir=str(tmp_path), resamples=100, skipped=[],
                                equivalence_margin=None, family=SimpleNamespace(measures=[M], domains=None, name=name),
                                tradeoff_measure=None)
        made = sp.plot_all(study, results, folder)
        assert set(made) == {"heatmap", "seeds", "tradeoff"} | ({"contrasts"} if results.contrasts else set())
        page = build_report(study, results, {k: p.name for k, p in made.items()}).html(name)
        column = int(re.search(r"body\{[^}]*max-width:(\d+)px", page).group(1)) - 2 * 16  # minus the 1em padding each side
        for key, path in made.items():
            assert f"<img src='{path.name}'" in page
            height, width = matplotlib.image.imread(path).shape[:2]
            assert width <= min(column, PIXELS), (path, width)
            if key != "tradeoff":
                assert width >= 0.7 * PIXELS, (path, width)  # and uses the width it has
