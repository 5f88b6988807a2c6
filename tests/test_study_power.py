"""The flagship study file's statistics settings, checked before any run on the real metric plugins:
the equivalence margin against the measure's range, and the dry run's minimum detectable effects."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("debiasbench_metrics")
pytest.importorskip("debiasbench_unlearn")

from debiasbench.statistics.verdicts import planned_mde  # noqa: E402
from debiasbench.cli import app  # noqa: E402
from debiasbench.campaign.study_file import load_study  # noqa: E402
from debiasbench.campaign.study_power import plan_power  # noqa: E402
from debiasbench.plugin_system.loader import get_plugins  # noqa: E402

FLAGSHIP = Path(__file__).resolve().parents[1] / "studies" / "transfer-hatecheck.toml"
runner = CliRunner()


def _variant(tmp_path: Path, extra: str) -> Path:
    text = FLAGSHIP.read_text().replace("equivalence_margin = 5.0\n", "").replace("[study]\n", f"[study]\n{extra}\n", 1)
    path = tmp_path / "study.toml"
    path.write_text(text.replace('results_dir = "', f'results_dir = "{tmp_path}/'))
    return path


@pytest.mark.parametrize(("extra", "message"), [
    ("equivalence_margin = 150.0", "is not smaller than the range of crows-pairs.score (0 to 100)"),
    ("equivalence_margin = 0", "equivalence_margin must be a positive number"),
    ("resamples = 1000", "resamples must be an integer of at least"),
])
def test_flagship_statistics_settings_fail_in_one_line_before_any_run(tmp_path: Path, data_dir: Path, extra: str, message: str) -> None:
    result = runner.invoke(app, ["study", str(_variant(tmp_path, extra)), "--dry-run"])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 3  # one message (wrapped at most)


def test_dry_run_plans_each_family_cell_from_item_counts(tmp_path: Path, data_dir: Path) -> None:
    study = load_study(_variant(tmp_path, "equivalence_margin = 2.0"))
    cells = plan_power(study, get_plugins().registry)
    # every item of each domain (no eval_limit, no dev split): CrowS-Pairs' bias_type counts, StereoSet's intrasentence counts
    expected = {("crows-pairs.score", "gender"): 262, ("crows-pairs.score", "race"): 516, ("crows-pairs.score", "religion"): 105,
                ("stereoset-intra.ss", "gender"): 255, ("stereoset-intra.ss", "race"): 962, ("stereoset-intra.ss", "religion"): 79}
    assert {(c.measure, c.domain): c.test_items for c in cells} == expected
    registry = get_plugins().registry
    specs = {s.name: s for m in ("crows-pairs", "stereoset") for s in registry.get("metric", m).measures}
    for c in cells:
        spec = specs[c.measure]
        assert c.mde_change == pytest.approx(planned_mde(spec.item_sd, c.test_items))
        assert c.mde_contrast == pytest.approx(planned_mde(spec.item_sd, c.test_items, contrast=True)) and c.mde_contrast > c.mde_change
    result = runner.invoke(app, ["study", str(_variant(tmp_path, "equivalence_margin = 2.0")), "--dry-run"])
    assert result.exit_code == 0 and "what the study can detect" in result.output


def test_dry_run_cuts_items_to_the_metrics_preset_limit_as_a_run_does(tmp_path: Path, data_dir: Path) -> None:
    """The quick preset scores 40 StereoSet items per domain and task: the planner counts those, not the file's
    (it once planned 673 race items for a run that scored 28, an MDE of 7.7 where the study measured 35)."""
    text = _variant(tmp_path, "").read_text().replace('preset = "full"', 'preset = "quick"').replace("dev_fraction = 0.0", "dev_fraction = 0.3")
    path = tmp_path / "quick.toml"
    path.write_text(text)
    cells = {(c.measure, c.domain): c.test_items for c in plan_power(load_study(path), get_plugins().registry)}
    assert cells[("stereoset-intra.ss", "race")] == cells[("stereoset-intra.ss", "gender")] == round(40 * 0.7)
    assert cells[("crows-pairs.score", "race")] == round(516 * 0.7)  # CrowS-Pairs' quick preset cuts no items


def test_group_mean_cells_are_marked_lower_bounds_in_the_plan_and_the_dry_run(tmp_path: Path, data_dir: Path) -> None:
    from debiasbench.campaign.study_power import plan_pooled

    study = load_study(_variant(tmp_path, ""))
    cells = plan_power(study, get_plugins().registry)
    assert {c.measure for c in cells if c.lower_bound} == {"stereoset-intra.ss"}  # a mean over target terms
    pool = plan_pooled(study, cells)
    assert pool is not None and pool.lower_bound
    result = runner.invoke(app, ["study", str(_variant(tmp_path, "")), "--dry-run"])
    assert result.exit_code == 0 and ">=" in result.output and "lower bound" in result.output
