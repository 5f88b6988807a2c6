"""The documented example plugin (tests/example_plugin): unit-tested on the tiny model, then
pip-installed (once a session: ``example_plugin_env`` in tests/conftest.py) and used through the
command line exactly as the docs say."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from debiasbench.plugin_system.interfaces import EvalContext

PLUGIN_DIR = Path(__file__).parent / "example_plugin"
CLI = [sys.executable, "-m", "debiasbench.cli"]


# --8<-- [start:tiny-model-test]
def test_pronoun_gap_on_tiny_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from debiasbench.plugin_system.registry import Registry
    from debiasbench.testing import evaluate_metric, tiny_model_handle

    monkeypatch.syspath_prepend(str(PLUGIN_DIR))  # not needed once the package is pip-installed
    from debiasbench_example_plugin import plugin

    metric = plugin.PronounGap()
    ctx = EvalContext(data=None, registry=Registry(), domains=("gender",))  # type: ignore[arg-type]  # this metric reads no data files
    same = evaluate_metric(metric, tiny_model_handle(), ctx, plugin.PronounGapOptions(first="He", second="He"))
    assert {r.value for r in same.rows} == {0.0}  # identical sentences: no gap
    ctx.limit = 4  # what --eval-limit sets: a seeded subset of the templates per domain
    result = evaluate_metric(metric, tiny_model_handle(), ctx, metric.Options())  # the rows the core computes from the items
    rows = {r.domain: r for r in result.rows}
    assert set(rows) == {"gender", "all"} and rows["gender"].n == 4 and rows["gender"].value > 0
    assert rows["gender"].ci_low <= rows["gender"].value <= rows["gender"].ci_high
    assert result.items.num_rows == 8 and result.protocol["first"] == "He" and result.protocol["limit"] == 4
# --8<-- [end:tiny-model-test]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_installed_plugin_is_listed(example_plugin_env: dict[str, str]) -> None:
    result = _run("plugins", "--json", env=example_plugin_env)
    assert result.returncode == 0, result.stderr
    status = next(s for s in json.loads(result.stdout) if s["name"] == "example-metric")
    assert status["status"] == "ok" and status["distribution"] == "debiasbench-example-plugin"
    assert status["provides"] == {"metric": ["pronoun-gap"]}


@pytest.mark.slow
def test_installed_plugin_is_usable_in_eval(example_plugin_env: dict[str, str], tmp_path: Path) -> None:
    from debiasbench.testing import tiny_model_handle

    listing = _run("list", "models", "--json", env=example_plugin_env)
    if not any(m["name"] == "huggingface" for m in json.loads(listing.stdout or "[]")):
        pytest.skip("no provider loads a local model folder (debiasbench-hf not installed)")
    model_dir = tmp_path / "tiny-model"
    tiny_model_handle().save(model_dir)
    env = {**example_plugin_env, "DEBIASBENCH_CACHE": str(tmp_path / "cache")}
    results = tmp_path / "results"
    result = _run("eval", "--model", str(model_dir), "--metrics", "pronoun-gap", "-M", "pronoun-gap.second=They",
                  "--device", "cpu", "--results-dir", str(results), "--quiet", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    compared = _run("compare", str(results), "--metric", "pronoun-gap", "--format", "json", env=env)
    assert compared.returncode == 0, compared.stderr
    cells = json.loads(compared.stdout)["cells"]
    assert sorted(c["domain"] for c in cells) == ["all", "gender", "religion"]
    assert all(c["measure"] == "pronoun-gap" and c["ideal"] == 0.0 and c["value"] > 0 for c in cells)
