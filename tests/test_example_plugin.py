"""The example third-party plugin: installed like any package, listed, and usable in `eval`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "debiasbench"]


@pytest.fixture
def installed(example_plugin_env: dict[str, str]) -> dict[str, str]:
    """The environment in which the example plugin is pip-installed (once a session, tests/conftest.py)."""
    return example_plugin_env


def test_example_plugin_is_listed(installed: dict[str, str]) -> None:
    result = subprocess.run([*CLI, "plugins", "--json"], capture_output=True, text=True, env=installed, check=True)
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
def test_example_metric_runs_in_eval(installed: dict[str, str], tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "eval", "--model", "smollm2-135m-q4", "--metrics", "pronoun-gap", "--results-dir", str(tmp_path), "-q"],
        capture_output=True, text=True, env=installed, check=False,
    )
    assert result.returncode == 0, result.stderr
    from debiasbench.results.tables import read_table

    rows = read_table(tmp_path, "metrics").to_pylist()
    assert sorted((r["metric"], r["domain"], r["n"]) for r in rows) == [("pronoun-gap", "all", 24), ("pronoun-gap", "gender", 12),
                                                                       ("pronoun-gap", "religion", 12)]
    assert all(r["value"] > 0 and r["plugin_version"] == "debiasbench-example-plugin 0.1.0" for r in rows)


def test_third_party_metric_method_and_command_work_like_first_party_ones(installed: dict[str, str], tmp_path: Path) -> None:
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
        capture_output=True, text=True, env=installed, check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = read_table(tmp_path / "r", "metrics").to_pylist()
    # quick: the metric's own 3 templates per domain (gender, religion; all)
    assert {(r["stage"], r["domain"], r["n"]) for r in rows} == {(s, d, n) for s in ("before", "after")
                                                                 for d, n in (("gender", 3), ("religion", 3), ("all", 6))}
    assert all(r["headline"] for r in rows)
    trajectory = read_table(tmp_path / "r", "trajectories").to_pylist()
    assert sorted({r["step"] for r in trajectory}) == [0, 2, 4] and {r["metric"] for r in trajectory} == {"pronoun-gap"}
    assert {r["domain"] for r in trajectory} == {"gender", "religion", "all"} and len(trajectory) == 9  # the probe's 2 templates a domain
    run = read_table(tmp_path / "r", "runs").to_pylist()[0]
    assert run["method"] == "example-floored-ga" and run["steps"] == 4
    assert json.loads(run["method_info"])["loss"]
    listing = subprocess.run([*CLI, "--help"], capture_output=True, text=True, env=installed, check=True)
    assert "example-hello" in listing.stdout


def test_third_party_metric_gets_limits_domains_split_and_paired_statistics(installed: dict[str, str], tmp_path: Path) -> None:
    """The example metric holds no statistics code, yet `--eval-limit` and `--eval-domains` choose its
    items, its items are written with dev/test splits, the core gives its rows an interval, and
    `compare` gives its cells a paired interval and p."""
    from debiasbench.statistics.paired import split_of
    from debiasbench.results.tables import read_table
    from debiasbench.testing import tiny_model_handle

    model = tmp_path / "tiny-model"
    tiny_model_handle().save(model)
    common = ["--model", str(model), "--metrics", "pronoun-gap", "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "-q"]
    result = subprocess.run(
        [*CLI, "run", *common, "--method", "example-floored-ga", "--domain", "gender", "--eval-domains", "gender,religion",
         "--eval-limit", "10", "--dev-fraction", "0.25", "--forget-limit", "8", "-o", "max_steps=2", "-o", "batch_size=2",
         "--results-dir", str(tmp_path / "r")],
        capture_output=True, text=True, env=installed, check=False,
    )
    assert result.returncode == 0, result.stderr
    items = read_table(tmp_path / "r", "items").to_pylist()
    for stage in ("before", "after"):
        mine = [r for r in items if r["stage"] == stage]
        by_domain = {d: {r["item"] for r in mine if r["domain"] == d} for d in ("gender", "religion", "all")}
        assert [len(by_domain[d]) for d in ("gender", "religion", "all")] == [10, 10, 20]  # the limit, per domain
        assert by_domain["all"] == by_domain["gender"] | by_domain["religion"]
    before = {(r["domain"], r["item"]) for r in items if r["stage"] == "before"}
    assert before == {(r["domain"], r["item"]) for r in items if r["stage"] == "after"}  # paired: the same items
    assert {r["split"] for r in items} == {"dev", "test"}
    assert [r["split"] for r in items] == split_of("pronoun-gap", [r["item"] for r in items], 0, 0.25)
    rows = read_table(tmp_path / "r", "metrics").to_pylist()
    for row in rows:
        values = [r["value"] for r in items if (r["stage"], r["domain"]) == (row["stage"], row["domain"])]
        assert abs(row["value"] - sum(values) / len(values)) < 1e-9 and row["n"] == len(values)
        assert row["ci_low"] < row["value"] < row["ci_high"] and row["aggregate"] == "mean"
    compared = subprocess.run([*CLI, "compare", str(tmp_path / "r"), "--metric", "pronoun-gap", "--format", "json"],
                              capture_output=True, text=True, env=installed, check=False)
    assert compared.returncode == 0, compared.stderr
    cells = {c["domain"]: c for c in json.loads(compared.stdout)["cells"] if c["method"] == "example-floored-ga"}
    overall = cells["all"]
    assert overall["test_items"] >= 10 and overall["d_delta_ci_low"] <= overall["d_delta_ci_high"]
    assert 0 < overall["p"] <= 1

    only = subprocess.run([*CLI, "eval", *common, "--eval-domains", "religion", "--eval-limit", "3", "--results-dir", str(tmp_path / "e")],
                          capture_output=True, text=True, env=installed, check=False)
    assert only.returncode == 0, only.stderr
    assert sorted((r["domain"], r["n"]) for r in read_table(tmp_path / "e", "metrics").to_pylist()) == [("all", 3), ("religion", 3)]
