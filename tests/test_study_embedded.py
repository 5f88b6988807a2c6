"""Slow: ``debiasbench study studies/transfer-smoke.toml`` end to end on the embedded SmolLM2-135M
and the shared data: every arm and both controls run, the report is complete, and the
result-matched control really is matched (its probe perplexity reaches its run's increase)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

pytest.importorskip("debiasbench_unlearn")
pytest.importorskip("debiasbench_metrics")

from typer.testing import CliRunner  # noqa: E402

from debiasbench.cli import app  # noqa: E402
from debiasbench.results.tables import read_table  # noqa: E402

pytestmark = pytest.mark.slow
SMOKE = Path(__file__).resolve().parents[1] / "studies" / "transfer-smoke.toml"


def test_smoke_study_end_to_end(data_dir: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    run = CliRunner().invoke(app, ["study", str(SMOKE), "--results-dir", str(results), "-q"])
    assert run.exit_code == 0, run.output
    runs = read_table(results, "runs").to_pylist()
    methods = sorted(r["method"] for r in runs)
    assert methods == ["benign-ga", "benign-ga", "mlm-unlearn", "mlm-unlearn", "token-ga"]
    random_arm = next(r for r in runs if json.loads(r["config"])["method_options"].get("selector") == "random")
    assert json.loads(random_arm["config"])["selector_options"] == {"budget_from": "annotated"}
    trajectories = read_table(results, "trajectories").to_pylist()

    def increase(run_id: str) -> float:
        ppl = [r["value"] for r in sorted(trajectories, key=lambda r: r["step"]) if r["run_id"] == run_id and r["metric"] == "perplexity"]
        return ppl[-1] / ppl[0] - 1

    for control in (r for r in runs if r["method"] == "benign-ga"):
        target = json.loads(control["config"])["method_options"]["target_ppl_increase"]
        assert increase(control["run_id"]) >= target or json.loads(control["method_info"]).get("target_not_reached") == target
    report = results / "report"
    text = (report / "report.md").read_text()
    for section in ("d_delta of crows-pairs.score", "### mlm-unlearn", "### benign-ga (token-ga)", "mlm-unlearn - random-tokens",
                    "token-ga - benign-ga", "Per-seed d_delta", "tradeoff.png"):
        assert section in text, section
    assert (report / "report.html").read_text().count("<table>") >= 5
    cells = list(csv.DictReader((report / "cells.csv").open()))
    family = [c for c in cells if c["p_holm"]]
    assert len(family) == 2 * 3 + 3 * 3  # (2 methods + 3 method-control contrasts) x 3 family domains, one source
    assert all(float(c["low"]) <= float(c["high"]) and float(c["p_holm"]) >= float(c["p"]) for c in family)
