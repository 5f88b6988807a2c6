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
