"""``--track mlflow[:URI]``: one MLflow run per debiasbench run; a sweep or study is a parent run with
its points as nested runs. URI: ``file:/DIR`` (a local store), ``http(s)://HOST:PORT`` (a tracking
server), or MLflow's own default (``MLFLOW_TRACKING_URI``). The experiment is
``MLFLOW_EXPERIMENT_NAME``, else ``debiasbench``."""

from __future__ import annotations

import os
import re
import time
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from debiasbench.api import DebiasbenchError, Tracker, TrackerRun
from debiasbench_tracking.common import check_reachable, port_of, require

EXTRA = "debiasbench-tracking[mlflow]"
EXPERIMENT = "debiasbench"
DATABASES = {"sqlite", "postgresql", "mysql", "mssql"}
SCHEMES = {"file", "http", "https", "databricks", *DATABASES}
"""URI schemes MLflow's tracking stores accept (a database needs SQLAlchemy, which the full ``mlflow`` package brings)."""
MAX_PARAM_LENGTH = 6000  # MLflow refuses longer param values
_KEY = re.compile(r"[^A-Za-z0-9_\-./ ]")


def _mlflow() -> Any:
    return require("mlflow", "mlflow", EXTRA)


def check_uri(uri: str) -> None:
    """One line for a URI MLflow cannot use; an ``http(s)`` server must accept a connection."""
    parsed = urllib.parse.urlparse(uri)
    scheme = parsed.scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter: a local folder
        return
    if scheme not in SCHEMES:
        raise DebiasbenchError(f"--track mlflow:{uri}: not an MLflow tracking URI; use file:/DIR, http(s)://HOST:PORT "
                               f"or another of {', '.join(sorted(SCHEMES))}")
    if scheme in DATABASES:
        try:
            import sqlalchemy  # noqa: F401
        except ImportError:
            raise DebiasbenchError(f"--track mlflow:{uri}: a database store needs SQLAlchemy, which mlflow-skinny lacks; "
                                   "install it with: pip install mlflow (or use file:/DIR or an http(s) server)") from None
    if scheme == "file" and not (parsed.path or parsed.netloc):
        raise DebiasbenchError(f"--track mlflow:{uri}: a file URI needs a folder, e.g. file:/tmp/mlruns")
    if scheme in ("http", "https"):
        if not parsed.hostname:
            raise DebiasbenchError(f"--track mlflow:{uri}: an http(s) URI needs a host, e.g. http://localhost:5000")
        check_reachable(parsed.hostname, port_of(parsed, f"--track mlflow:{uri}"), "the MLflow tracking server")


class MLflowRun(TrackerRun):
    """One MLflow run, written through :class:`mlflow.tracking.MlflowClient` (no global active run)."""

    def __init__(self, client: Any, experiment_id: str, run_id: str) -> None:
        self.client, self.experiment_id, self.run_id = client, experiment_id, run_id

    def log_params(self, params: Mapping[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(_KEY.sub("_", k)[:250], v[:MAX_PARAM_LENGTH]) for k, v in params.items()]
        for start in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=items[start:start + 100])

    def log_metrics(self, values: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(_KEY.sub("_", k), float(v), now, step) for k, v in values.items()]
        for start in range(0, len(items), 1000):  # and at most 1,000 metrics
            self.client.log_batch(self.run_id, metrics=items[start:start + 1000])

    def log_summary(self, values: Mapping[str, float]) -> None:
        self.log_metrics(values, 0)

    def log_artifact(self, path: Path, folder: str = "") -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path=folder or None)

    def child(self, name: str) -> MLflowRun:
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        run = self.client.create_run(self.experiment_id, run_name=name, tags={MLFLOW_PARENT_RUN_ID: self.run_id})
        return MLflowRun(self.client, self.experiment_id, run.info.run_id)

    def finish(self, failed: bool = False) -> None:
        self.client.set_terminated(self.run_id, status="FAILED" if failed else "FINISHED")


class MLflowTracker(Tracker):
    name = "mlflow"
    description = "MLflow: params, step metrics, figures and result files per run; a sweep or study as nested runs"
    extra = EXTRA
    target_help = "a tracking URI: file:/DIR (local store), http(s)://HOST:PORT (server); default MLFLOW_TRACKING_URI or MLflow's"

    def check(self, target: str | None) -> None:
        mlflow = _mlflow()
        check_uri(target or mlflow.get_tracking_uri())

    def start(self, target: str | None, name: str, group: str | None = None) -> MLflowRun:
        from mlflow.tracking import MlflowClient

        uri = target or _mlflow().get_tracking_uri()
        if urllib.parse.urlparse(uri).scheme in ("", "file"):
            # MLflow 3 put its file store "in maintenance mode" and refuses it unless this is set; it still
            # works, needs no database (mlflow-skinny has no SQLAlchemy) and is what a laptop or CI uses.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        client = MlflowClient(tracking_uri=uri)
        experiment_name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
        experiment = client.get_experiment_by_name(experiment_name)
        experiment_id = experiment.experiment_id if experiment is not None else client.create_experiment(experiment_name)
        tags = {"debiasbench.group": group} if group else {}
        run = client.create_run(experiment_id, run_name=name, tags=tags)
        return MLflowRun(client, experiment_id, run.info.run_id)
