"""Slow: ``transfer-smoke.toml``, cut to one method, one control and tiny subsets, on the embedded SmolLM2-135M:
``--executor ray`` (a 2-CPU cluster on 127.0.0.1, started and stopped by the test) writes the same
runs (configuration hashes) with the same per-item decisions as ``--executor local``."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("debiasbench_unlearn")
pytest.importorskip("debiasbench_metrics")
pytest.importorskip("ray")

from typer.testing import CliRunner  # noqa: E402

from debiasbench.cli import app  # noqa: E402
from debiasbench.results.tables import read_table  # noqa: E402

pytestmark = pytest.mark.slow
SMOKE = Path(__file__).resolve().parents[1] / "studies" / "transfer-smoke.toml"
CUTS = {'method = ["mlm-unlearn", "token-ga"]': 'method = ["mlm-unlearn"]', "eval_limit = 20": "eval_limit = 8",
        "forget_limit = 16": "forget_limit = 4", "max_tokens = 4096": "max_tokens = 1024", "eval_every = 2\n": "",
        'controls = ["random-tokens", "benign-ga"]': 'controls = ["random-tokens"]'}
"""One method and its control derived before running, no trajectory probe: the result-matched
control's ordering is tested on the tiny plugins (tests/test_executors.py), in seconds."""


def _decisions(results: Path) -> dict[str, dict[tuple[str, str, str, str], object]]:
    runs = read_table(results, "runs").to_pylist()
    assert len({r["config_hash"] for r in runs}) == len(runs)
    items = read_table(results, "items").to_pylist()
    by_run = {r["run_id"]: r["config_hash"] for r in runs}
    out: dict[str, dict[tuple[str, str, str, str], object]] = {h: {} for h in by_run.values()}
    for i in items:
        if i["run_id"] in by_run and i["decision"] is not None:
            out[by_run[i["run_id"]]][(i["stage"], i["measure"], i["domain"], i["item"])] = i["decision"]
    return out


def test_smoke_study_on_ray_equals_local(data_dir: Path, tmp_path: Path) -> None:
    text = SMOKE.read_text()
    for old, new in CUTS.items():
        assert old in text, old
        text = text.replace(old, new)
    study = tmp_path / "smoke.toml"
    study.write_text("threads = 1\n" + text)  # one torch thread in both executors: the same float sums, the same decisions
    local = CliRunner().invoke(app, ["study", str(study), "--results-dir", str(tmp_path / "local"), "-q"])
    assert local.exit_code == 0, local.output
    from tests.ray_loopback import loopback_cluster

    with loopback_cluster(cpus=2):  # the executor joins it
        ray = CliRunner().invoke(app, ["study", str(study), "--results-dir", str(tmp_path / "ray"), "-q", "--executor", "ray"])
    assert ray.exit_code == 0, ray.output
    expected = _decisions(tmp_path / "local")
    assert len(expected) == 2  # mlm-unlearn and its random-tokens control
    assert _decisions(tmp_path / "ray") == expected
    assert all(expected.values())  # CrowS-Pairs decisions before and after, per pair
