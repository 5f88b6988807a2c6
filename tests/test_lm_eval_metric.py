"""``--metrics lm-eval:TASK`` on a tiny GPT-2: the family's registration, the rows a run writes (figures equal to
lm-eval's, one item per document, lm-eval's stderr, the subset handed to lm-eval), and bad input refused in one
line before any model loads. Task yamls read local files the test writes (tests/lm_eval_tasks.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

pytest.importorskip("lm_eval")

import debiasbench.plugin_system.loader as plugins_module  # noqa: E402
from debiasbench.cli import app  # noqa: E402
from debiasbench.errors import DebiasbenchError  # noqa: E402
from debiasbench.plugin_system.loader import load_plugins  # noqa: E402
from debiasbench.results.tables import read_table  # noqa: E402
from debiasbench.run.config import RunConfig  # noqa: E402
from debiasbench.run.end_to_end import execute, plan_run  # noqa: E402
from debiasbench_metrics import plugin as metrics_plugin  # noqa: E402
from tests import tiny_plugins  # noqa: E402
from tests.lm_eval_tasks import blimp_pair, blimp_task, lambada_task  # noqa: E402

PAIRS = [("The cat sleeps.", "The cat sleep."), ("Dogs bark.", "Dogs barks."), ("She is here.", "She are here."),
         ("We were late.", "We was late."), ("He runs fast.", "He run fast."), ("They sing.", "They sings.")]
PASSAGES = ["the old man walked to the river and sat by the water", "she opened the door and saw the garden",
            "the children played in the park until the sun went down", "he read the letter twice before he burned the letter"]


@pytest.fixture()
def tasks(tmp_path: Path) -> Path:
    folder = tmp_path / "tasks"
    blimp_task(folder, "tiny_blimp", [blimp_pair(g, b, i) for i, (g, b) in enumerate(PAIRS)])
    lambada_task(folder, "tiny_lambada", [json.dumps({"text": t}) for t in PASSAGES])
    return folder


@pytest.fixture()
def plugins(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The tiny model and metrics plus the first-party metrics plugin (which registers the lm-eval family)."""
    loaded = load_plugins(extra={"tiny": tiny_plugins, "bias-metrics": metrics_plugin}, entry_points=[])
    monkeypatch.setattr(plugins_module, "_CACHED", loaded)
    return loaded


def _run(plugins: Any, tasks: Path, out: Path, metrics: list[str], **extra: Any) -> Any:
    config = RunConfig(model="tiny", metrics=metrics, metric_include=tasks, results_dir=out, use_cache=False, threads=1, **extra)
    return execute(plan_run(config, plugins))


def test_the_family_is_listed(plugins: Any) -> None:
    listed = json.loads(CliRunner().invoke(app, ["list", "--json"], catch_exceptions=False).stdout)
    assert "lm-eval:TASK" in listed["metrics"]
    detail = CliRunner().invoke(app, ["list", "metrics", "lm-eval"], catch_exceptions=False)
    assert detail.exit_code == 0 and "lm-evaluation-harness task TASK" in detail.stdout
    status = next(s for s in plugins.statuses if s.name == "bias-metrics")
    assert "lm-eval:TASK" in status.provides["metric"]


def test_rows_items_and_stderr_equal_lm_evals_own(plugins: Any, tasks: Path, tmp_path: Path) -> None:
    _run(plugins, tasks, tmp_path / "r", ["lm-eval:tiny_blimp", "lm-eval:tiny_lambada"],
         metric_options={"lm-eval:tiny_lambada": {"bootstrap_iters": "100"}})
    rows = {(r["measure"], r["domain"]): r for r in read_table(tmp_path / "r", "metrics").to_pylist()}
    items = read_table(tmp_path / "r", "items").to_pylist()
    acc = rows[("lm-eval:tiny_blimp.acc", "all")]
    assert acc["n"] == len(PAIRS) and acc["metric"] == "lm-eval:tiny_blimp"
    blimp_items = [i for i in items if i["measure"] == "lm-eval:tiny_blimp.acc"]
    assert sorted(int(i["item"]) for i in blimp_items) == list(range(len(PAIRS)))  # one item per lm-eval doc_id
    assert acc["value"] == pytest.approx(sum(i["value"] for i in blimp_items) / len(PAIRS))
    assert all(i["decision"] == (i["value"] == 1.0) for i in blimp_items)
    stderr = rows[("lm-eval:tiny_blimp.acc_stderr", "all")]["value"]
    p = acc["value"]
    assert stderr == pytest.approx((p * (1 - p) / (len(PAIRS) - 1)) ** 0.5)  # lm-eval's mean_stderr (sample sd / sqrt n)
    ppl = rows[("lm-eval:tiny_lambada.perplexity", "all")]
    nll = [i["value"] for i in items if i["measure"] == "lm-eval:tiny_lambada.perplexity"]
    assert len(nll) == len(PASSAGES) and ppl["value"] == pytest.approx(float(__import__("math").exp(sum(nll) / len(nll))))
    assert ("lm-eval:tiny_lambada.acc", "all") in rows and ("lm-eval:tiny_lambada.perplexity_stderr", "all") in rows
    assert rows[("lm-eval:tiny_lambada.perplexity", "all")]["better"] == "lower" and acc["better"] == "higher"


def test_eval_limit_hands_lm_eval_the_chosen_documents(plugins: Any, tasks: Path, tmp_path: Path) -> None:
    _run(plugins, tasks, tmp_path / "r", ["lm-eval:tiny_blimp"], eval_limit=3)
    items = [i for i in read_table(tmp_path / "r", "items").to_pylist() if i["measure"] == "lm-eval:tiny_blimp.acc"]
    assert len(items) == 3 and len({i["item"] for i in items}) == 3
    run = read_table(tmp_path / "r", "metrics").to_pylist()
    assert next(r for r in run if r["measure"] == "lm-eval:tiny_blimp.acc")["n"] == 3


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_unknown_task_gets_a_did_you_mean_before_any_model_loads(plugins: Any, tasks: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    result = _cli("eval", "--model", "tiny", "--metrics", "lm-eval:tiny_blimpp", "--lm-eval-include", str(tasks),
                  "--results-dir", str(out))
    assert result.exit_code != 0
    assert "unknown lm-eval task 'tiny_blimpp'" in result.stderr and "did you mean 'tiny_blimp'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()


def test_missing_include_folder_and_a_group_are_one_line(plugins: Any, tasks: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    result = _cli("eval", "--model", "tiny", "--metrics", "lm-eval:tiny_blimp", "--lm-eval-include", str(tmp_path / "nope"),
                  "--results-dir", str(out))
    assert result.exit_code != 0 and "is not a folder" in result.stderr and not out.exists()
    assert len(result.stderr.strip().splitlines()) == 1
    with pytest.raises(DebiasbenchError, match="is a tag of 1 tasks; name its tasks one by one"):
        (tasks / "tagged.yaml").write_text((tasks / "tiny_blimp.yaml").read_text().replace("tag: []", "tag: [tiny_tag]")
                                           .replace("task: tiny_blimp", "task: tiny_tagged"))
        plan_run(RunConfig(model="tiny", metrics=["lm-eval:tiny_tag"], metric_include=tasks, results_dir=out), plugins)


def test_lm_eval_not_installed_names_the_extra(plugins: Any, tasks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "lm_eval" else real(name, *a))
    out = tmp_path / "r"
    result = _cli("eval", "--model", "tiny", "--metrics", "lm-eval:tiny_blimp", "--lm-eval-include", str(tasks),
                  "--results-dir", str(out))
    assert result.exit_code != 0 and not out.exists()
    assert "pip install 'debiasbench-metrics[lm-eval]'" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_sweep_file_names_tasks_and_the_include_folder(plugins: Any, tasks: Path, tmp_path: Path) -> None:
    from debiasbench.campaign.sweep_file import load_sweep

    path = tmp_path / "sweep.toml"
    path.write_text(f'model = "tiny"\nmetrics = ["lm-eval:tiny_blimp"]\nmetric_include = "{tasks}"\n'
                    f'results_dir = "{tmp_path / "r"}"\n\n[metric_options."lm-eval:tiny_blimp"]\nbatch_size = 4\n\n'
                    '[grid]\nmethod = ["none"]\ndomain = ["gender"]\n')
    point = load_sweep(path, plugins=plugins).points[0].config
    assert point.metric_include == tasks and point.metric_options == {"lm-eval:tiny_blimp": {"batch_size": 4}}
    path.write_text(path.read_text().replace("tiny_blimp", "tiny_blmp"))
    with pytest.raises(DebiasbenchError, match="did you mean 'tiny_blimp'"):
        load_sweep(path, plugins=plugins)


def test_the_baseline_key_follows_the_local_data_not_only_the_task_config(plugins: Any, tasks: Path) -> None:
    """A data file edited in place (same path, same yaml) changes the cache key; the same bytes keep it."""
    from debiasbench.plugin_system.interfaces import EvalContext

    def key() -> Any:
        metric = plugins.registry.build_metric("lm-eval:tiny_blimp", include=tasks).obj
        return metric.protocol_key(EvalContext(data=None, registry=plugins.registry), metric.Options())  # type: ignore[arg-type]

    data = tasks / "data" / "tiny_blimp.jsonl"
    first = key()
    assert first["local_data"] == {str(data): __import__("hashlib").sha256(data.read_bytes()).hexdigest()}
    assert key() == first
    data.write_text(data.read_text().replace("The cat sleeps.", "The cat naps."), encoding="utf-8")
    assert key()["local_data"] != first["local_data"] and key()["task_config"] == first["task_config"]
