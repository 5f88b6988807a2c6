"""``debiasbench sweep``: TOML parsing and errors, grid expansion, validation before work, resume.

The runs use the real orchestrator with the tiny in-process plugins of tests/tiny_plugins.py (a 2-layer
GPT-2, a real gradient-ascent step, a real log-probability metric per domain), so a whole sweep takes seconds.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from debiasbench.reports.compare import compare
from debiasbench.cli import app
from debiasbench.errors import DebiasbenchError
from debiasbench.run.config import RunConfig
from debiasbench.campaign.sweep import mark_done
from debiasbench.campaign.sweep_file import load_sweep
from debiasbench.results.schemas import RUNS_SCHEMA
from debiasbench.results.tables import read_table, to_table
from debiasbench.runtime.atomic import write_table_atomic
from tests import tiny_plugins
from tests.tiny_plugins import TinyGA

runner = CliRunner()


@pytest.fixture(autouse=True)
def only_tiny_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the tiny plugins are installed, for the CLI too."""
    import debiasbench.plugin_system.loader

    loaded = debiasbench.plugin_system.loader.load_plugins(extra={"tiny": tiny_plugins}, entry_points=[])
    monkeypatch.setattr(debiasbench.plugin_system.loader, "_CACHED", loaded)


SWEEP = """
model = "tiny"
forget_set = "tiny-hate-2"
metrics = ["probe-logprob"]
device = "cpu"
cache_dir = "{cache}"
results_dir = "{results}"

[grid]
method = ["none", "tiny-ga"]
domain = ["gender", "race"]
seed = [0, 1]

[options.tiny-ga]
learning_rate = [0.01, 0.05]
max_steps = 2
"""


def _write(tmp_path: Path, text: str = SWEEP) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(text.format(cache=tmp_path / "cache", results=tmp_path / "results"))
    return path


def test_expansion_order_and_options(tmp_path: Path) -> None:
    sweep = load_sweep(_write(tmp_path))
    # per seed: one evaluation + 2 learning rates x 2 domains
    assert len(sweep.points) == 2 * (1 + 2 * 2)
    first = [p.config for p in sweep.points[:5]]
    assert [c.seed for c in first] == [0] * 5  # seed outermost: a partial sweep covers every cell once
    assert first[0].method is None and first[0].domain is None
    assert [(c.domain, c.method_options["learning_rate"]) for c in first[1:]] == [
        ("gender", 0.01), ("race", 0.01), ("gender", 0.05), ("race", 0.05)]
    assert all(c.method_options.get("max_steps") == 2 for c in first[1:])  # typed, as -o max_steps=2 would be
    assert len({p.config_hash for p in sweep.points}) == len(sweep.points)
    assert isinstance(first[0], RunConfig) and first[0].results_dir == tmp_path / "results"


def test_resume_skips_points_already_in_runs_table(tmp_path: Path) -> None:
    sweep = load_sweep(_write(tmp_path))
    done = sweep.points[2]
    write_table_atomic(to_table([{"run_id": "x", "config_hash": done.config_hash}], RUNS_SCHEMA), tmp_path / "results" / "runs" / "x.parquet")
    mark_done(sweep)
    assert [p.index for p in sweep.points if p.done] == [done.index]
    assert len(sweep.todo) == len(sweep.points) - 1


def test_results_dir_override(tmp_path: Path) -> None:
    sweep = load_sweep(_write(tmp_path), results_dir=tmp_path / "elsewhere")
    assert {p.config.results_dir for p in sweep.points} == {tmp_path / "elsewhere"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("reslts_dir = 'x'\n[grid]\nmethod = ['tiny-ga']\ndomain = ['gender']", "unknown key 'reslts_dir' at the top level; did you mean 'results_dir'?"),
        ("[grid]\nmethod = ['tiny-ga']\ndomian = ['gender']", "unknown key 'domian' in [grid]; did you mean 'domain'?"),
        ("[grid]\nmethod = ['tiny-ga']\ndomain = ['gender']\n[options.tiny-gaa]\nx = 1", "unknown key 'tiny-gaa' in [options]"),
        ("[grid]\nmethod = ['tiny-ga']\ndomain = ['gender']\n[optons.tiny-ga]\nx = 1", "did you mean 'options'?"),
        ("seed = [0, 1]\n[grid]\nmethod = ['tiny-ga']\ndomain = ['gender']", "'seed' is a list at the top level; put axes under [grid]"),
        ("[grid]\nmethod = ['tiny-ga']\ndomain = ['gender']\nseed = ['a']", "'seed' must be an integer"),
        ("[grid]\nmethod = ['tiny-ga']", "[grid] needs domain"),
        ("[grid]\nmethod = ['tiny-ga'\n", "is not valid TOML"),
        ("[grid]\nmethod = ['tiny-ga']\ndomain = ['gender']\nmetrics = ['a']", "'metrics' is a shared setting, not an axis"),
        ("save_model = 'x'\n[grid]\nmethod = ['tiny-ga']\ndomain = ['gender']", "save_model is not supported in a sweep"),
        ("method = 'tiny-ga'\n[grid]\ndomain = ['gender']", "'method' is an axis; put it under [grid]"),
        ("threads = 'four'\n[grid]\nmethod = ['none']", "'threads' must be an integer"),
        ("[grid]\nmethod = ['tiny-ga']\ndomain = ['gender']\n[options.tiny-ga]\nmax_steps = 2.5", "sweep point 1 (tiny-ga tiny"),
        ("[grid]\nmethod = ['tiny-ga']\ndomain = ['gender']\n[options.tiny-ga]\nmax_steps = 2.5", "max_steps=2.5 for method 'tiny-ga' is not a valid int"),
        ("[grid]\nmethod = ['tiny-ga']\ndomain = ['gender']\n[options.tiny-ga]\nlearning_rate = inf", "must be a finite number"),
        ("preset = 'quick'\n[grid]\nmethod = ['tiny-ga']\ndomain = ['gender']\npreset = ['full']", "given both at the top level and in [grid]"),
    ],
)
def test_sweep_file_errors_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("model = 'tiny'\n" * ("[options." in text) + text)
    with pytest.raises(DebiasbenchError) as info:
        load_sweep(path)
    assert message in str(info.value) and "\n" not in str(info.value)
    result = runner.invoke(app, ["sweep", str(path)])
    assert result.exit_code == 1 and message in result.stderr


def test_every_point_is_validated_before_any_runs(tmp_path: Path) -> None:
    path = _write(tmp_path, SWEEP.replace("max_steps = 2", "max_step = 2"))
    result = runner.invoke(app, ["sweep", str(path)])
    assert result.exit_code == 1
    assert "sweep point 2" in result.stderr and "did you mean 'max_steps'" in result.stderr
    assert read_table(tmp_path / "results", "metrics").num_rows == 0  # nothing ran


def test_dry_run_lists_points(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sweep", str(_write(tmp_path)), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "10 points: 0 done, 10 to run" in result.stdout and "learning_rate=0.05" in result.stdout
    assert not (tmp_path / "results" / "metrics").exists()


def test_sweep_runs_resumes_and_compares(tmp_path: Path) -> None:
    path = _write(tmp_path)
    first = runner.invoke(app, ["sweep", str(path), "--quiet"])
    assert first.exit_code == 0, first.output
    assert "ran 10, skipped 0" in first.stdout
    runs = read_table(tmp_path / "results", "runs")
    assert runs.num_rows == 10 and len(set(runs.column("config_hash").to_pylist())) == 10

    # a run killed after writing its metrics but before its runs row: the rerun redoes only that one
    victim = runs.to_pylist()[3]
    (tmp_path / "results" / "runs" / f"{victim['run_id']}.parquet").unlink()
    again = runner.invoke(app, ["sweep", str(path), "--quiet"])
    assert again.exit_code == 0, again.output
    assert "ran 1, skipped 9" in again.stdout
    assert read_table(tmp_path / "results", "runs").num_rows == 10
    done = runner.invoke(app, ["sweep", str(path)])
    assert "nothing to run" in done.stdout

    comparison = compare(tmp_path / "results")
    assert comparison.runs and set(comparison.runs.values()) == {2}  # two seeds per row, the orphan left out
    assert any("without a runs row" in w for w in comparison.warnings)
    rows = {(k.method, k.source_domain, comparison.variants[k]) for k in comparison.rows}
    assert ("tiny-ga", "gender", "learning_rate=0.05") in rows and ("none", "none", "") in rows
    cell = next(c for (k, col), c in comparison.cells.items() if k.source_domain == "gender" and col.domain == "gender")
    assert cell.change is not None and cell.change.mean < 0  # gradient ascent lowered the probe's log-prob


def test_a_failing_point_does_not_stop_the_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from debiasbench.errors import TrainingDiverged

    calls = {"n": 0}
    real = TinyGA.unlearn

    def sometimes_diverges(self: Any, model: Any, options: Any, ctx: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TrainingDiverged("forget loss became nan at step 1; lower learning_rate")
        return real(self, model, options, ctx)

    monkeypatch.setattr(TinyGA, "unlearn", sometimes_diverges)
    text = SWEEP.replace('method = ["none", "tiny-ga"]', 'method = ["tiny-ga"]').replace("seed = [0, 1]", "seed = [0]")
    result = runner.invoke(app, ["sweep", str(_write(tmp_path, text)), "--quiet"])
    assert result.exit_code == 1
    assert "ran 3, skipped 0 already done, failed 1" in result.stdout and "lower learning_rate" in result.stderr
    assert read_table(tmp_path / "results", "runs").num_rows == 3


def test_point_configs_are_independent(tmp_path: Path) -> None:
    sweep = load_sweep(_write(tmp_path))
    sweep.points[0].config.metrics.append("x")
    assert sweep.points[1].config.metrics == ["probe-logprob"]
    assert dataclasses.asdict(sweep.points[1].config)["metric_options"] == {}



def test_ctrl_c_stops_the_sweep_and_the_rerun_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = TinyGA.unlearn

    def interrupted_second_time(self: Any, model: Any, options: Any, ctx: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(self, model, options, ctx)

    monkeypatch.setattr(TinyGA, "unlearn", interrupted_second_time)
    text = SWEEP.replace('method = ["none", "tiny-ga"]', 'method = ["tiny-ga"]').replace("seed = [0, 1]", "seed = [0]")
    path = _write(tmp_path, text)
    result = runner.invoke(app, ["sweep", str(path), "--quiet"])
    assert result.exit_code == 130 and "interrupted after 1 of 4 points" in result.stderr
    assert read_table(tmp_path / "results", "runs").num_rows == 1
    again = runner.invoke(app, ["sweep", str(path), "--quiet"])
    assert again.exit_code == 0 and "ran 3, skipped 1" in again.stdout


def test_the_documented_sweep_file_parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The TOML example in docs/compare.md stays valid against the first-party plugins."""
    pytest.importorskip("debiasbench_unlearn")
    pytest.importorskip("debiasbench_metrics")
    import debiasbench.plugin_system.loader

    monkeypatch.setattr(debiasbench.plugin_system.loader, "_CACHED", debiasbench.plugin_system.loader.load_plugins())
    docs = (Path(__file__).resolve().parent.parent / "docs" / "compare.md").read_text()
    (example,) = re.findall(r"```toml\n(.*?)```", docs, flags=re.S)
    path = tmp_path / "transfer.toml"
    path.write_text(example)
    sweep = load_sweep(path)
    methods = {p.config.method for p in sweep.points}
    assert methods == {None, "mlm-unlearn", "token-ga"}
    # per seed: 1 evaluation + 2 learning rates x 3 domains + 3 domains
    assert len(sweep.points) == 3 * (1 + 2 * 3 + 3)
    assert {p.config.metric_options["crows-pairs"]["scoring"] for p in sweep.points} == {"mean"}


# --------------------------------------------------------------------------- keys from the run schema, typed options


def test_sweep_keys_come_from_the_run_schema() -> None:
    from debiasbench.run.config import schema
    from debiasbench.campaign.sweep_file import AXES, TABLES, TOP_LEVEL

    fields = {f.name: f.setting for f in schema()}
    assert set(TOP_LEVEL) == {name for name, s in fields.items() if s.sweep == "top"}
    assert "threads" in TOP_LEVEL and "save_model" not in TOP_LEVEL and "method" not in TOP_LEVEL
    assert AXES == ("seed", "model", "preset", "forget_set", "split", "eval_limit", "forget_limit", "dtype", "method", "domain")
    assert TABLES == ("grid", "options", "selector_options", "metric_options")


def test_threads_is_a_shared_setting_outside_the_hash(tmp_path: Path) -> None:
    plain = load_sweep(_write(tmp_path))
    threaded = load_sweep(_write(tmp_path, "threads = 4\n" + SWEEP))
    assert {p.config.threads for p in threaded.points} == {4}
    assert [p.config_hash for p in threaded.points] == [p.config_hash for p in plain.points]


def test_a_sweep_point_hashes_like_the_same_command_line_run(tmp_path: Path) -> None:
    """TOML values and -o strings are typed by one function, so resume works across both."""
    from debiasbench.run.config import with_typed_options
    from debiasbench.plugin_system.loader import get_registry

    point = load_sweep(_write(tmp_path)).points[1].config
    cli = RunConfig(method="tiny-ga", domain="gender", model="tiny", forget_set="tiny-hate-2", metrics=["probe-logprob"],
                    method_options={"learning_rate": "0.01", "max_steps": "2"})
    assert with_typed_options(cli, get_registry()).config_hash() == point.config_hash()


def test_an_int_for_a_float_option_and_shared_selector_options(tmp_path: Path) -> None:
    text = SWEEP.replace("learning_rate = [0.01, 0.05]", "learning_rate = 1") + "\n[selector_options]\ntop_k = 0.5\n"
    sweep = load_sweep(_write(tmp_path, text))
    ga = [p.config for p in sweep.points if p.config.method]
    assert {type(c.method_options["learning_rate"]) for c in ga} == {float}
    assert all(c.selector_options == {} for c in ga)  # tiny-ga has no span selector: the shared table does not apply
