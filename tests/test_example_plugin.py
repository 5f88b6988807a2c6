"""The example third-party plugin: installed like any package, listed, and usable in `eval`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent / "example_plugin"
CLI = [sys.executable, "-m", "debiasbench"]


@pytest.fixture(scope="module")
def installed() -> None:
    """pip-install the example plugin into the running environment (editable, no network)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", str(ROOT)],
        check=True,
    )


def test_example_plugin_is_listed(installed: None) -> None:
    result = subprocess.run([*CLI, "plugins", "--json"], capture_output=True, text=True, check=True)
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    example = plugins["example-metric"]
    assert example["status"] == "ok"
    assert example["distribution"] == "debiasbench-example-plugin" and example["version"] == "0.1.0"
    assert example["provides"] == {"metric": ["pronoun-gap"]}
    assert plugins["example-method"]["provides"] == {"method": ["example-floored-ga"]}
    assert plugins["example-command"]["provides"] == {"command": ["example-hello"]}
    kinds = {kind for p in plugins.values() if p["status"] == "ok" for kind in p["provides"]}
    assert {"method", "model", "metric", "dataset", "selector"} <= kinds


@pytest.mark.slow
def test_example_metric_runs_in_eval(installed: None, tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "eval", "--model", "smollm2-135m-q4", "--metrics", "pronoun-gap", "--results-dir", str(tmp_path), "-q"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    from debiasbench.results.tables import read_table

    rows = read_table(tmp_path, "metrics").to_pylist()
    assert [(r["metric"], r["domain"], r["n"]) for r in rows] == [("pronoun-gap", "gender", 6)]
    assert rows[0]["value"] > 0 and rows[0]["plugin_version"] == "debiasbench-example-plugin 0.1.0"


def test_third_party_metric_method_and_command_work_like_first_party_ones(installed: None, tmp_path: Path) -> None:
    """The example package's metric is probed by the trajectory with its own probe values and follows
    its own `quick` values; its method trains through the public loop; its command is in --help."""
    from debiasbench.results.tables import read_table
    from debiasbench.testing import tiny_model_handle

    model = tmp_path / "tiny-model"
    tiny_model_handle().save(model)
    (tmp_path / "forget.txt").write_text("")
    result = subprocess.run(
        [*CLI, "run", "--model", str(model), "--method", "example-floored-ga", "--domain", "gender", "--metrics", "pronoun-gap",
         "--preset", "quick", "--eval-every", "2", "--forget-limit", "8", "-o", "max_steps=4", "-o", "batch_size=2", "--results-dir", str(tmp_path / "r"),
         "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "-q"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = read_table(tmp_path / "r", "metrics").to_pylist()
    assert {(r["stage"], r["n"]) for r in rows} == {("before", 3), ("after", 3)}  # quick: the metric's own 3 templates
    assert all(r["headline"] for r in rows)
    trajectory = read_table(tmp_path / "r", "trajectories").to_pylist()
    assert [r["step"] for r in trajectory] == [0, 2, 4] and {r["metric"] for r in trajectory} == {"pronoun-gap"}
    run = read_table(tmp_path / "r", "runs").to_pylist()[0]
    assert run["method"] == "example-floored-ga" and run["steps"] == 4
    assert json.loads(run["method_info"])["loss"]
    listing = subprocess.run([*CLI, "--help"], capture_output=True, text=True, check=True)
    assert "example-hello" in listing.stdout
