"""The flagship study file's statistics settings, checked before any run on the real metric plugins:
the equivalence margin against the measure's range, and the dry run's minimum detectable effects."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("debiasbench_metrics")
pytest.importorskip("debiasbench_unlearn")

from debiasbench.analysis.statistics import planned_mde  # noqa: E402
from debiasbench.cli import app  # noqa: E402
from debiasbench.orchestration.study import load_study  # noqa: E402
from debiasbench.orchestration.study_power import plan_power  # noqa: E402
from debiasbench.plugin_system.loader import get_plugins  # noqa: E402

FLAGSHIP = Path(__file__).resolve().parents[1] / "studies" / "transfer-hatecheck.toml"
runner = CliRunner()


def _variant(tmp_path: Path, extra: str) -> Path:
    text = FLAGSHIP.read_text().replace("[study]\n", f"[study]\n{extra}\n", 1)
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
    assert [c.domain for c in cells] == ["gender", "race", "religion"]
    config = study.sweep.points[0].config
    spec = next(s for s in get_plugins().registry.get("metric", "crows-pairs").measures if s.name == "crows-pairs.score")
    for c in cells:  # every domain has more CrowS-Pairs pairs than the limit
        assert c.test_items == round(config.eval_limit * (1 - config.dev_fraction))
        if spec.item_sd is not None:
            assert c.mde_change == pytest.approx(planned_mde(spec.item_sd, c.test_items))
            assert c.mde_contrast > c.mde_change
    result = runner.invoke(app, ["study", str(_variant(tmp_path, "equivalence_margin = 2.0")), "--dry-run"])
    assert result.exit_code == 0 and "what the study can detect" in result.output
