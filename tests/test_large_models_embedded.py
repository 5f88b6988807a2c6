"""Slow: ``--device-map auto``, LoRA by size and gradient checkpointing on the embedded SmolLM2-135M (CPU),
loaded from the session's cache (tests/conftest.py), where it is dequantised once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("debiasbench_hf")
pytest.importorskip("debiasbench_metrics")
pytest.importorskip("debiasbench_unlearn")

from debiasbench.run.config import RunConfig  # noqa: E402
from debiasbench.run.end_to_end import execute, plan_run  # noqa: E402
from debiasbench.plugin_system.loader import get_plugins  # noqa: E402
from debiasbench.results.tables import read_table  # noqa: E402

pytestmark = pytest.mark.slow


def _eval_items(tmp_path: Path, data_dir: Path, cache: Path, name: str, **kw: object) -> list[tuple[str, float]]:
    config = RunConfig(metrics=["crows-pairs"], eval_limit=12, eval_domains=["gender"], results_dir=tmp_path / name, data_dir=data_dir,
                       cache_dir=cache, use_cache=False, threads=1, **kw)  # type: ignore[arg-type]
    execute(plan_run(config, get_plugins()))
    items = read_table(tmp_path / name, "items").to_pylist()
    return sorted((row["item"], row["value"]) for row in items)


def test_device_map_auto_gives_the_same_pair_decisions_on_cpu(tmp_path: Path, data_dir: Path, session_cache: Path) -> None:
    plain = _eval_items(tmp_path, data_dir, session_cache, "plain")
    mapped = _eval_items(tmp_path, data_dir, session_cache, "mapped", device_map="auto")
    assert plain and mapped == plain
    run = read_table(tmp_path / "mapped", "runs").to_pylist()[0]
    assert json.loads(run["config"])["resolved"]["model_info"]["device_map"] == {"": "cpu"}


def test_lora_by_threshold_with_checkpointing_on_the_embedded_model(tmp_path: Path, data_dir: Path, session_cache: Path) -> None:
    pytest.importorskip("peft")
    config = RunConfig(method="mlm-unlearn", domain="gender", preset="quick", metrics=["crows-pairs"], eval_limit=8,
                       eval_domains=["gender"], forget_limit=8, method_options={"max_steps": 1, "batch_size": 4},
                       lora_threshold=1e6, gradient_checkpointing=True, results_dir=tmp_path / "r", data_dir=data_dir,
                       cache_dir=session_cache, threads=1)  # the session's cache: the model converted once
    execute(plan_run(config, get_plugins()))
    run = read_table(tmp_path / "r", "runs").to_pylist()[0]
    resolved, info = json.loads(run["config"])["resolved"], json.loads(run["method_info"])
    assert resolved["lora"]["applied"] is True and resolved["lora"]["parameters"] > 1e8
    assert info["gradient_checkpointing"] is True and 0 < info["trained_parameters"] < resolved["lora"]["parameters"] / 100
    assert json.loads(run["peak_memory_by_device"])["cpu"] == run["peak_memory_mb"] > 0
