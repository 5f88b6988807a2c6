"""Slow: every debiasbench-debias method runs on the embedded SmolLM2-135M through the CLI with a
tiny budget (quick preset, 10 CrowS-Pairs pairs per domain), exits 0 and writes its rows before and after."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("debiasbench_debias")
pytest.importorskip("debiasbench_hf")
pytest.importorskip("debiasbench_metrics")

from typer.testing import CliRunner  # noqa: E402

from debiasbench.cli import app  # noqa: E402
from debiasbench.results.tables import read_table  # noqa: E402
from tests.run_checks import assert_smoke_run  # noqa: E402

pytestmark = pytest.mark.slow


# cda, dropout, inlp and sentence-debias take 50-135 s each on 2 CPU cores: ``full`` tests (run with -m full); their
# steps run on the tiny model every time (tests/test_debias_methods.py); self-debias keeps the embedded path in every run.
@pytest.mark.parametrize("method", [pytest.param(m, marks=pytest.mark.full) for m in ("cda", "dropout", "inlp", "sentence-debias")]
                         + ["self-debias"])
def test_method_runs_on_the_embedded_model(method: str, data_dir: Path, tmp_path: Path) -> None:
    args = ["run", "--method", method, "--model", "smollm2-135m-q4", "--domain", "gender", "--preset", "quick",
            "--metrics", "crows-pairs", "--eval-limit", "10", "--results-dir", str(tmp_path), "--device", "cpu",
            "--data-dir", str(data_dir)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    runs = read_table(tmp_path, "runs")
    assert runs.num_rows == 1 and runs.column("method").to_pylist() == [method]
    assert_smoke_run(tmp_path, method, limit=10)  # the rows it wrote: before and after, 10 pairs a domain, scores in 0-100
