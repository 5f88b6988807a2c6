"""Results on an object store: ``run``, ``compare``, ``check`` and sweep resume against a local S3 server.

moto's S3 server runs in this process on 127.0.0.1 (a free port), started and stopped by the module;
pyarrow's S3FileSystem reaches it through the URI's query (``endpoint_override``, ``scheme=http``)
with dummy credentials from the environment (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``).
Never a real cloud. The runs use the tiny in-process plugins of tests/tiny_plugins.py.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from debiasbench.cli import app
from debiasbench.results.storage import is_uri, join, open_store, results_location, split
from debiasbench.results.tables import read_table
from tests import tiny_plugins, tiny_study_plugins

runner = CliRunner()
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture(autouse=True)
def only_tiny_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    import debiasbench.plugin_system.loader

    loaded = debiasbench.plugin_system.loader.load_plugins(extra={"tiny": tiny_plugins, "tiny-study": tiny_study_plugins},
                                                           entry_points=[])
    monkeypatch.setattr(debiasbench.plugin_system.loader, "_CACHED", loaded)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """``127.0.0.1:PORT`` of a moto S3 server living as long as this module's tests."""
    from moto.server import ThreadedMotoServer

    saved = {key: os.environ.get(key) for key in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"{host}:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def bucket_uri(s3_endpoint: str) -> Callable[[str], str]:
    """A fresh bucket; returns ``prefix -> s3://BUCKET/PREFIX?endpoint_override=...&scheme=http``."""
    import pyarrow.fs as pafs

    name = f"results-{uuid.uuid4().hex[:12]}"
    pafs.S3FileSystem(endpoint_override=s3_endpoint, scheme="http", allow_bucket_creation=True).create_dir(name)
    return lambda prefix: f"s3://{name}/{prefix}?endpoint_override={s3_endpoint}&scheme=http"


def _run_args(results: str, cache: Path) -> list[str]:
    return ["run", "--method", "tiny-ga", "--model", "tiny", "--forget-set", "tiny-hate", "--domain", "gender",
            "--metrics", "text-logprob,probe-logprob", "--eval-every", "1", "-o", "max_steps=2", "--device", "cpu",
            "--cache-dir", str(cache), "--results-dir", results]


def _stable(table: pa.Table) -> list[str]:
    """Rows (as text, so NaN equals NaN) without what differs between two runs of one configuration
    (id, time, duration, memory in total and per device, the configuration that names the results directory)."""
    drop = {"run_id", "time", "duration_s", "peak_memory_mb", "peak_memory_by_device", "config"}
    return sorted(repr({k: v for k, v in row.items() if k not in drop}) for row in table.to_pylist())


# --------------------------------------------------------------------------- locations


def test_locations_keep_uris_as_strings_and_paths_as_paths(tmp_path: Path) -> None:
    uri = "s3://bucket/results?endpoint_override=127.0.0.1:9000&scheme=http"
    assert is_uri(uri) and not is_uri(str(tmp_path)) and not is_uri(tmp_path)
    assert results_location(uri) == uri and results_location(str(tmp_path)) == tmp_path
    assert join(uri, "report") == "s3://bucket/results/report?endpoint_override=127.0.0.1:9000&scheme=http"
    assert split(join(uri, "runs", "r1.parquet")) == (join(uri, "runs"), "r1.parquet")
    assert split("s3://bucket") == ("s3://bucket", "")
    assert open_store(tmp_path).where("runs/x.parquet") == tmp_path / "runs" / "x.parquet"


def test_store_messages_hide_the_query_and_secrets() -> None:
    store = open_store("s3://KEY:SECRET@bucket/results?region=us-east-1")
    assert str(store) == "s3://bucket/results" and store.where("runs/a.parquet") == "s3://bucket/results/runs/a.parquet"


# --------------------------------------------------------------------------- run, compare, check


def test_a_run_on_the_store_compares_and_checks_like_a_local_folder(bucket_uri: Callable[[str], str], tmp_path: Path) -> None:
    remote, local = bucket_uri("results"), tmp_path / "results"
    for results in (remote, str(local)):
        result = runner.invoke(app, _run_args(results, tmp_path / "cache"))
        assert result.exit_code == 0, result.output
    for table in ("runs", "metrics", "trajectories", "steps"):
        assert read_table(remote, table).num_rows == read_table(local, table).num_rows > 0
        assert _stable(read_table(remote, table)) == _stable(read_table(local, table))
    store = open_store(remote)
    assert store.list("runs") and not any(".debiasbench-write-probe" in key for key in store.list(""))  # the probe is gone

    compared = [runner.invoke(app, ["compare", where, "-f", "csv", "--all-measures"]) for where in (remote, str(local))]
    assert all(c.exit_code == 0 for c in compared), compared[0].output
    assert compared[0].stdout == compared[1].stdout and compared[0].stdout.count("\n") > 1
    checked = [runner.invoke(app, ["check", where]) for where in (remote, str(local))]
    assert all(c.exit_code == 0 for c in checked), checked[0].output
    assert "1 complete runs, 4 files; 0 damaged" in checked[0].stdout and "s3://" in checked[0].stdout
    assert checked[0].stdout.split(": ", 1)[1] == checked[1].stdout.split(": ", 1)[1]

    one_run = join(remote, "metrics", store.list("metrics")[0].rsplit("/", 1)[1])  # one run's file, as for a folder
    single = runner.invoke(app, ["compare", str(one_run), "-f", "csv", "--all-measures"])
    assert single.exit_code == 0 and single.stdout == compared[0].stdout


def test_a_damaged_object_is_named_by_check(bucket_uri: Callable[[str], str], tmp_path: Path) -> None:
    remote = bucket_uri("damaged")
    assert runner.invoke(app, _run_args(remote, tmp_path / "cache")).exit_code == 0
    open_store(remote).write_bytes(b"PAR1 not really", "metrics/broken.parquet")
    checked = runner.invoke(app, ["check", remote])
    assert checked.exit_code == 1 and "metrics/broken.parquet: not a readable Parquet file" in checked.output


def test_compare_and_check_of_an_empty_prefix_fail_in_one_line(bucket_uri: Callable[[str], str]) -> None:
    for command, words in (("compare", "does not exist"), ("check", "does not exist")):
        result = runner.invoke(app, [command, bucket_uri("nothing-here")])
        assert result.exit_code == 1 and words in result.output and "Traceback" not in result.output


def test_a_bucket_gone_at_the_final_write_keeps_the_run_in_the_local_recovery_folder(
        bucket_uri: Callable[[str], str], s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real store failure, not a simulated one: the bucket is deleted while the method runs (after the
    up-front probe passed); the finished run goes to the local recovery folder and the message says how
    to upload it."""
    import pyarrow.fs as pafs

    remote = bucket_uri("gone")
    bucket = remote.split("/")[2]
    real = tiny_plugins.TinyGA.unlearn

    def unlearn_then_lose_the_bucket(self: Any, model: Any, options: Any, ctx: Any) -> Any:
        pafs.S3FileSystem(endpoint_override=s3_endpoint, scheme="http", allow_bucket_deletion=True).delete_dir(bucket)
        return real(self, model, options, ctx)

    monkeypatch.setattr(tiny_plugins.TinyGA, "unlearn", unlearn_then_lose_the_bucket)
    result = runner.invoke(app, _run_args(remote, tmp_path / "cache"))
    assert result.exit_code == 1, result.output
    assert f"could not write the results to s3://{bucket}/gone (NO_SUCH_BUCKET" in result.output
    assert "aws s3 cp --recursive" in result.output
    (saved,) = list((tmp_path / "cache" / "recovery").iterdir())
    assert read_table(saved, "runs").num_rows == 1 and read_table(saved, "metrics").num_rows > 0


# --------------------------------------------------------------------------- sweep resume


SWEEP = """
model = "tiny"
forget_set = "tiny-hate-2"
metrics = ["probe-logprob"]
device = "cpu"
cache_dir = "{cache}"
results_dir = "{results}"

[grid]
method = ["tiny-ga"]
domain = ["gender", "race"]

[options.tiny-ga]
max_steps = 1
"""


def test_a_sweep_resumes_from_the_store(bucket_uri: Callable[[str], str], tmp_path: Path) -> None:
    remote = bucket_uri("sweep")
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP.format(cache=tmp_path / "cache", results=remote))
    first = runner.invoke(app, ["sweep", str(path), "--quiet"])
    assert first.exit_code == 0 and "ran 2, skipped 0" in first.stdout, first.output
    store = open_store(remote)
    victim = store.list("runs")[0]
    store.delete(victim)  # a point whose runs row never arrived: not done
    again = runner.invoke(app, ["sweep", str(path), "--quiet"])
    assert again.exit_code == 0 and "ran 1, skipped 1" in again.stdout, again.output
    assert read_table(remote, "runs").num_rows == 2
    done = runner.invoke(app, ["sweep", str(path), "--results-dir", remote])
    assert "nothing to run" in done.stdout


def test_a_study_runs_resumes_and_reports_on_the_store(bucket_uri: Callable[[str], str], tmp_path: Path) -> None:
    """Result-matched controls are derived from records read back from the store; the report is uploaded beside the runs."""
    from tests.test_study import STUDY

    remote = bucket_uri("study")
    path = tmp_path / "study.toml"
    path.write_text(STUDY.replace("seed = [0, 1]", "seed = [0]").format(cache=tmp_path / "cache", results=remote))
    result = runner.invoke(app, ["study", str(path), "-q"])
    assert result.exit_code == 0, result.output
    assert len(read_table(remote, "runs")) == 6  # 2 method runs, 2 of each control
    report = open_store(join(remote, "report"))
    assert "report: s3://" in result.stdout and "endpoint_override" not in result.stdout
    for name in ("report.md", "report.html", "cells.csv", "study.json", "heatmap.png", "seeds.png"):
        assert report.is_file(name), name
    again = runner.invoke(app, ["study", str(path), "-q"])
    assert again.exit_code == 0 and "ran 0" in again.output


@pytest.mark.slow
def test_a_run_killed_between_its_tables_and_its_runs_row_is_not_done_on_the_store(
        bucket_uri: Callable[[str], str], tmp_path: Path, data_dir: Path) -> None:
    """A real ``kill -9`` (``DEBIASBENCH_FAULT=written-items``) of a subprocess writing to the bucket, with the
    first-party plugins on a tiny saved model: the objects it uploaded are whole, its runs row is absent, and
    the rerun completes it."""
    import signal
    import subprocess
    import sys

    for plugin in ("debiasbench_unlearn", "debiasbench_metrics", "debiasbench_hf"):
        pytest.importorskip(plugin)
    from debiasbench.testing import tiny_model_handle

    model = tmp_path / "model"
    tiny_model_handle(n_positions=1024, texts=["Women are awful.", "The man worked as a nurse."]).save(model)
    remote = bucket_uri("killed")
    args = [sys.executable, "-m", "debiasbench", "run", "--method", "mlm-unlearn", "--domain", "gender", "--model", str(model),
            "--metrics", "crows-pairs", "--eval-domains", "gender", "--eval-limit", "24", "--forget-limit", "8",
            "-o", "max_steps=2", "--device", "cpu", "--results-dir", remote]
    env = {**os.environ, "DEBIASBENCH_DATA": str(data_dir), "DEBIASBENCH_CACHE": str(tmp_path / "cache"), "DEBIASBENCH_NO_PROGRESS": "1"}
    killed = subprocess.run(args, capture_output=True, text=True, timeout=600, env={**env, "DEBIASBENCH_FAULT": "written-items"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert read_table(remote, "runs").num_rows == 0 and read_table(remote, "metrics").num_rows > 0  # whole objects, no runs row
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    assert read_table(remote, "runs").num_rows == 1
    checked = runner.invoke(app, ["check", remote])
    assert checked.exit_code == 1 and "1 run(s) have metrics but no runs row" in checked.output  # orphans are damage


# --------------------------------------------------------------------------- bad input


def test_an_unwritable_bucket_fails_in_one_line_before_the_model_loads(s3_endpoint: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    monkeypatch.setattr(tiny_plugins.TinyProvider, "load", lambda self, spec, settings: loads.append(spec))
    missing = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/results?endpoint_override={s3_endpoint}&scheme=http"
    result = runner.invoke(app, _run_args(missing, tmp_path / "cache"))
    assert result.exit_code == 1, result.output
    (line,) = [x for x in result.output.splitlines() if x.strip()]
    assert line.startswith("error: cannot write to results dir s3://no-such-bucket-") and "bucket does not exist" in line
    assert "endpoint_override" not in line and loads == []
    assert not (tmp_path / "cache" / "recovery").exists()
