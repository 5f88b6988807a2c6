"""``--track``: a run, a sweep and a study logged for real to MLflow's local file store, W&B offline and
TensorBoard event files, each read back with the library's own reader; and the bad input that must
fail in one line before any model loads (docs/tracking.md). Runs use the tiny in-process plugins."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import debiasbench.plugin_system.loader as loader
import debiasbench_tracking.plugin as tracking_plugin
from debiasbench.cli import app
from debiasbench.run.config import RunConfig
from debiasbench.run.end_to_end import plan_run
from debiasbench.run.tracked import execute_tracked
from debiasbench.tracking import targets
from tests import tiny_plugins, tiny_study_plugins
from tests.tiny_plugins import TinyProvider

runner = CliRunner()


@pytest.fixture(autouse=True)
def only_tiny_plugins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """The tiny plugins and the first-party trackers; W&B offline in tmp_path; every --track checked afresh."""
    loaded = loader.load_plugins(extra={"tiny": tiny_plugins, "tiny-study": tiny_study_plugins, "trackers": tracking_plugin},
                                 entry_points=[])
    monkeypatch.setattr(loader, "_CACHED", loaded)
    monkeypatch.setattr(targets, "_CHECKED", set())
    for name, value in {"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true",
                        "WANDB_CONSOLE": "off", "MLFLOW_EXPERIMENT_NAME": "debiasbench"}.items():
        monkeypatch.setenv(name, value)
    return loaded


def _config(tmp_path: Path, track: list[str], **kw: Any) -> RunConfig:
    base = dict(method="tiny-ga", model="tiny", domain="gender", forget_set="tiny-hate", metrics=["text-logprob"],
                results_dir=tmp_path / "results", cache_dir=tmp_path / "cache", device="cpu", eval_every=1, track=track)
    base.update(kw)
    return RunConfig(**base)


def _mlflow_runs(uri: str) -> list[Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("debiasbench")
    return list(client.search_runs([experiment.experiment_id]))


def _artifacts(client: Any, run_id: str, path: str = "") -> list[str]:
    out = []
    for info in client.list_artifacts(run_id, path or None):
        out += _artifacts(client, run_id, info.path) if info.is_dir else [info.path]
    return out


def _wandb_records(run_dir: Path) -> list[Any]:
    """The records of an offline run's ``.wandb`` file. wandb 0.31 ships no Python reader for it (its
    core is in Go), so this reads the documented layout: a 7-byte header (``:W&B``, magic 0xBEE1,
    version 0), then LevelDB-log chunks in 32 KiB blocks -- CRC (4 bytes), length (2, little-endian),
    type (1: full, 2: first, 3: middle, 4: last) -- each whole record a ``wandb_internal_pb2.Record``."""
    from wandb.proto import wandb_internal_pb2

    data = next(run_dir.glob("*.wandb")).read_bytes()
    assert data[:4] == b":W&B" and int.from_bytes(data[4:6], "little") == 0xBEE1
    block, position, pending, records = 32768, 7, b"", []
    while position + 7 <= len(data):
        if block - position % block < 7:  # a block's tail too short for a chunk header is padding
            position += block - position % block
            continue
        length, kind = int.from_bytes(data[position + 4:position + 6], "little"), data[position + 6]
        if kind == 0 and length == 0:
            break  # zero padding at the end of the file
        chunk, position = data[position + 7:position + 7 + length], position + 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def _wandb_items(run_dir: Path, kind: str) -> dict[str, Any]:
    """Every ``summary`` or ``config`` update of the offline run, last value wins."""
    out: dict[str, Any] = {}
    for record in _wandb_records(run_dir):
        if record.WhichOneof("record_type") == kind:
            for item in getattr(record, kind).update:
                out[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return out


def _wandb_history(run_dir: Path) -> list[dict[str, Any]]:
    """Every ``run.log`` call of an offline run: ``{"_step": ..., key: value}``."""
    return [{item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in r.history.item}
            for r in _wandb_records(run_dir) if r.WhichOneof("record_type") == "history"]


def test_one_run_logged_to_mlflow_wandb_and_tensorboard(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    uri = f"file:{tmp_path / 'mlruns'}"
    config = _config(tmp_path, [f"mlflow:{uri}", "wandb", f"tensorboard:{tmp_path / 'tb'}"])
    result = execute_tracked(plan_run(config))
    before = next(r["value"] for r in result.metrics_rows if r["stage"] == "before")
    after = next(r["value"] for r in result.metrics_rows if r["stage"] == "after")
    losses = [info.forget_loss for info in result.outcome.history]

    # MLflow: one finished run with the configuration, the loss per step, the figures and the files
    (run,) = _mlflow_runs(uri)
    client = MlflowClient(tracking_uri=uri)
    assert run.info.status == "FINISHED" and run.info.run_name == "tiny-ga tiny gender seed 0"
    assert run.data.params["method"] == "tiny-ga" and run.data.params["run_id"] == result.run_id
    assert run.data.params["resolved.method_options.max_steps"] == "3" and run.data.params["resolved.model"] == "tiny"
    history = client.get_metric_history(run.info.run_id, "train/forget_loss")
    assert [m.step for m in history] == [1, 2, 3] and [m.value for m in history] == pytest.approx(losses)
    probes = client.get_metric_history(run.info.run_id, "probe/text-logprob/gender")
    assert [m.step for m in probes] == [0, 1, 2, 3]
    assert run.data.metrics["before/text-logprob/gender"] == pytest.approx(before)
    assert run.data.metrics["after/text-logprob/gender"] == pytest.approx(after)
    assert run.data.metrics["change/text-logprob/gender"] == pytest.approx(after - before)
    assert run.data.metrics["run/steps"] == 3
    files = _artifacts(client, run.info.run_id)
    assert {"summary.json", f"results/metrics/{result.run_id}.parquet", f"results/runs/{result.run_id}.parquet",
            f"results/trajectories/{result.run_id}.parquet"} <= set(files)

    # W&B offline: the config, every logged step, the summary and the run's files in the offline run folder
    (run_dir,) = (tmp_path / "wandb").glob("offline-run-*")
    summary = _wandb_items(run_dir, "summary")
    assert summary["before/text-logprob/gender"] == pytest.approx(before)
    assert summary["change/text-logprob/gender"] == pytest.approx(after - before)
    config = json.dumps(_wandb_items(run_dir, "config"))
    assert "tiny-ga" in config and result.run_id in config
    steps = {row["_step"]: row for row in _wandb_history(run_dir)}
    assert [steps[s]["train/forget_loss"] for s in (1, 2, 3)] == pytest.approx(losses)
    assert (run_dir / "files" / "results" / "metrics" / f"{result.run_id}.parquet").is_file()
    assert (run_dir / "files" / "summary.json").is_file()

    # TensorBoard: scalars per step, the figures, the params text, the files beside the events
    (folder,) = (tmp_path / "tb").iterdir()
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("train/forget_loss")] == [(s, pytest.approx(v)) for s, v in zip((1, 2, 3), losses)]
    assert events.Scalars("after/text-logprob/gender")[0].value == pytest.approx(after)
    assert "tiny-ga" in events.Tensors("params/text_summary")[0].tensor_proto.string_val[0].decode()
    assert (folder / "artifacts" / "results" / "metrics" / f"{result.run_id}.parquet").is_file()


SWEEP = """
model = "tiny"
forget_set = "tiny-hate-2"
metrics = ["probe-logprob"]
device = "cpu"
cache_dir = "{cache}"
results_dir = "{results}"
track = ["tensorboard:{tb}"]

[grid]
method = ["tiny-ga"]
domain = ["gender", "race"]

[options.tiny-ga]
max_steps = 2
"""


def test_a_sweep_is_a_parent_run_with_a_child_per_point(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP.format(cache=tmp_path / "cache", results=tmp_path / "results", tb=tmp_path / "tb"))
    uri = f"file:{tmp_path / 'mlruns'}"
    result = runner.invoke(app, ["sweep", str(path), "-q", "--track", f"mlflow:{uri}", "--track", "wandb"])
    assert result.exit_code == 0, result.output

    runs = _mlflow_runs(uri)
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.run_name == "sweep sweep" and parent.data.metrics["points/ran"] == 2
    assert parent.data.params["grid.domain"] == '["gender", "race"]'
    assert "sweep.toml" in _artifacts(MlflowClient(tracking_uri=uri), parent.info.run_id)
    assert sorted(c.data.params["domain"] for c in children) == ["gender", "race"]
    assert all(len(MlflowClient(tracking_uri=uri).get_metric_history(c.info.run_id, "train/forget_loss")) == 2 for c in children)

    (tb_parent,) = (tmp_path / "tb").iterdir()
    points = sorted(p.name for p in tb_parent.iterdir() if p.is_dir() and p.name != "artifacts")
    assert points == ["tiny-ga_tiny_gender_seed_0_max_steps_2", "tiny-ga_tiny_race_seed_0_max_steps_2"]  # one folder per point, named by its label
    events = EventAccumulator(str(tb_parent / points[0]))
    events.Reload()
    assert [e.step for e in events.Scalars("train/forget_loss")] == [1, 2]

    groups = {}
    for run_dir in (tmp_path / "wandb").glob("offline-run-*"):
        (run,) = [r.run for r in _wandb_records(run_dir) if r.WhichOneof("record_type") == "run"]
        groups[run.display_name] = (run.run_group, run.job_type)
    assert groups["sweep sweep"] == ("sweep sweep", "parent")
    assert sorted(v for k, v in groups.items() if k != "sweep sweep") == [("sweep sweep", "point")] * 2


STUDY = """
model = "tiny"
forget_set = "tiny-hate-2"
metrics = ["item-logprob"]
device = "cpu"
cache_dir = "{cache}"
results_dir = "{results}"

[grid]
method = ["tiny-ga"]
domain = ["gender", "race"]

[options.tiny-ga]
learning_rate = 0.05
max_steps = 2

[study]
name = "tiny-transfer"
controls = ["tiny-half-lr"]

[study.family]
name = "tiny family"
measures = ["item-logprob"]
"""


def test_a_study_logs_its_runs_and_report(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    path = tmp_path / "study.toml"
    path.write_text(STUDY.format(cache=tmp_path / "cache", results=tmp_path / "results"))
    uri = f"file:{tmp_path / 'mlruns'}"
    result = runner.invoke(app, ["study", str(path), "-q", "--track", f"mlflow:{uri}"])
    assert result.exit_code == 0, result.output
    runs = _mlflow_runs(uri)
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.run_name == "study tiny-transfer" and parent.data.metrics["runs/ran"] == 4 and len(children) == 4
    files = _artifacts(MlflowClient(tracking_uri=uri), parent.info.run_id)
    assert {"study.toml", "report/report.md", "report/report.html", "report/cells.csv"} <= set(files)
    # the paired change of a cell, with its interval, from the per-item rows
    child = children[0].data.metrics
    measure = next(k for k in child if k.startswith("test_change_ci_low/item-logprob/"))
    cell = measure.split("/", 1)[1]
    assert child[f"test_change_ci_low/{cell}"] <= child[f"test_change/{cell}"] <= child[f"test_change_ci_high/{cell}"]
    assert child[f"test_change/{cell}"] == pytest.approx(child[f"test_after/{cell}"] - child[f"test_before/{cell}"])
    assert child[f"change/{cell}"] == pytest.approx(child[f"after/{cell}"] - child[f"before/{cell}"])
    assert f"test_d/{cell}" in child and f"test_p/{cell}" in child


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(("track", "code", "message"), [
    ("mlfow", 2, "unknown tracker 'mlfow'; did you mean 'mlflow'?"),
    ("mlflow:ftp://example/x", 1, "not an MLflow tracking URI"),
    ("mlflow:http://", 1, "an http(s) URI needs a host"),
    ("mlflow:http://127.0.0.1:{port}", 1, "the MLflow tracking server at 127.0.0.1:{port} did not answer within 3 s"),
    ("mlflow:http://127.0.0.1:99999", 1, "--track mlflow:http://127.0.0.1:99999: the port is not a number between 0 and 65535"),
    ("wandb:a/b/c", 1, "a W&B project is NAME or ENTITY/NAME"),
    ("tensorboard:s3://bucket/tb", 1, "give a local folder"),
    (":x", 1, "give a tracker name"),
])
def test_bad_track_is_one_line_before_the_model_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, track: str, code: int,
                                                      message: str) -> None:
    port = _free_port()
    monkeypatch.setattr(TinyProvider, "load", lambda *a: pytest.fail("the model loaded"))
    result = runner.invoke(app, ["run", "--method", "tiny-ga", "--model", "tiny", "--domain", "gender", "--forget-set", "tiny-hate",
                                 "--metrics", "text-logprob", "--results-dir", str(tmp_path / "r"), "--device", "cpu",
                                 "--track", track.format(port=port)])
    assert result.exit_code == code, result.output
    assert message.format(port=port) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists() and not (tmp_path / "wandb").exists()


def test_online_wandb_needs_its_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{_free_port()}")
    result = runner.invoke(app, ["run", "--method", "tiny-ga", "--model", "tiny", "--domain", "gender", "--forget-set", "tiny-hate",
                                 "--metrics", "text-logprob", "--results-dir", str(tmp_path / "r"), "--track", "wandb"])
    assert result.exit_code == 1 and "the W&B server" in result.stderr and "WANDB_MODE=offline" in result.stderr
    assert not (tmp_path / "r").exists()
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:99999")  # a port that is no number: one line, as MLflow's
    result = runner.invoke(app, ["run", "--method", "tiny-ga", "--model", "tiny", "--domain", "gender", "--forget-set", "tiny-hate",
                                 "--metrics", "text-logprob", "--results-dir", str(tmp_path / "r"), "--track", "wandb"])
    assert result.exit_code == 1 and "the port is not a number between 0 and 65535" in result.stderr, result.output
    assert "Traceback" not in result.output and not (tmp_path / "r").exists()


@pytest.mark.parametrize(("tracker", "module"), [("mlflow", "mlflow"), ("wandb", "wandb"), ("tensorboard", "tensorboard")])
def test_a_tracker_not_installed_names_its_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tracker: str, module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError, as without the package
    result = runner.invoke(app, ["run", "--method", "tiny-ga", "--model", "tiny", "--domain", "gender", "--forget-set", "tiny-hate",
                                 "--metrics", "text-logprob", "--results-dir", str(tmp_path / "r"), "--track", tracker])
    assert result.exit_code == 1
    assert f"pip install 'debiasbench-tracking[{tracker}]'" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_a_sweep_file_with_a_bad_tracker_fails_before_any_point(tmp_path: Path) -> None:
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP.format(cache=tmp_path / "cache", results=tmp_path / "results", tb=tmp_path / "tb")
                    .replace('track = ["tensorboard:', 'track = ["tensorbord:'))
    result = runner.invoke(app, ["sweep", str(path)])
    assert result.exit_code == 2 and "did you mean 'tensorboard'?" in result.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "tb").exists()


def test_a_point_a_parallel_worker_ran_is_logged_with_its_per_step_losses(tmp_path: Path) -> None:
    """A Ray or Slurm point is logged from its stored records: its losses come back from the steps table, so its
    child holds the same per-step curve as a point run in this process."""
    from mlflow.tracking import MlflowClient

    from debiasbench.campaign.tracked import log_stored_point
    from debiasbench.results.tables import read_table
    from debiasbench.run.end_to_end import execute
    from debiasbench.tracking.fanout import Tracking

    result = execute(plan_run(_config(tmp_path, [])))  # what a worker does: run and write the records, no tracker
    steps = read_table(tmp_path / "results", "steps").to_pylist()
    losses = [info.forget_loss for info in result.outcome.history]
    assert [r["step"] for r in steps] == [1, 2, 3] and [r["forget_loss"] for r in steps] == pytest.approx(losses)
    assert all(r["run_id"] == result.run_id for r in steps)

    uri = f"file:{tmp_path / 'mlruns'}"
    parent = Tracking.start(plan_run(_config(tmp_path, [f"mlflow:{uri}"])).trackers, "sweep stored", group="sweep stored")
    log_stored_point(parent, "the point", tmp_path / "results", result.run_id)
    parent.finish()
    (child,) = [r for r in _mlflow_runs(uri) if "mlflow.parentRunId" in r.data.tags]
    history = MlflowClient(tracking_uri=uri).get_metric_history(child.info.run_id, "train/forget_loss")
    assert [m.step for m in history] == [1, 2, 3] and [m.value for m in history] == pytest.approx(losses)
    assert child.data.metrics["run/steps"] == 3
