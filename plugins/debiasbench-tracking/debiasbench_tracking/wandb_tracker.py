"""``--track wandb[:PROJECT]``: one Weights & Biases run per debiasbench run; a sweep or study is a
W&B group (its own run, job type ``parent``, plus one run per point, job type ``point``). PROJECT is ``NAME`` or ``ENTITY/NAME`` (default ``WANDB_PROJECT``, else ``debiasbench``).
``WANDB_MODE=offline`` logs without a server (``wandb sync`` uploads later); online, the server must
answer before any model loads."""

from __future__ import annotations

import os
import re
import shutil
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from debiasbench.api import DebiasbenchError, Tracker, TrackerRun
from debiasbench_tracking.common import check_reachable, port_of, require

EXTRA = "debiasbench-tracking[wandb]"
PROJECT = "debiasbench"
DEFAULT_SERVER = "https://api.wandb.ai"
_PROJECT = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?")


def _wandb() -> Any:
    return require("wandb", "wandb", EXTRA)


def offline() -> bool:
    """W&B writes locally only (``WANDB_MODE`` offline, dryrun or disabled)."""
    return os.environ.get("WANDB_MODE", "").lower() in ("offline", "dryrun", "disabled")


def _project(target: str | None) -> tuple[str | None, str]:
    spec = target or os.environ.get("WANDB_PROJECT") or PROJECT
    entity, _, project = spec.rpartition("/")
    return entity or os.environ.get("WANDB_ENTITY") or None, project


class WandbRun(TrackerRun):
    """One W&B run (``reinit="create_new"``: a sweep's run and its points' runs are open together)."""

    def __init__(self, run: Any, target: str | None, group: str) -> None:
        self.run, self.target, self.group = run, target, group

    def log_params(self, params: Mapping[str, str]) -> None:
        self.run.config.update(dict(params), allow_val_change=True)

    def log_metrics(self, values: Mapping[str, float], step: int) -> None:
        self.run.log(dict(values), step=step)

    def log_summary(self, values: Mapping[str, float]) -> None:
        self.run.summary.update(dict(values))

    def log_artifact(self, path: Path, folder: str = "") -> None:
        # a copy inside the run's folder: run.save links, and the scratch file may be gone before the upload
        target = Path(self.run.dir) / folder / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        self.run.save(str(target), base_path=self.run.dir, policy="now")

    def child(self, name: str) -> WandbRun:
        return _init(self.target, name, self.group, "point")

    def finish(self, failed: bool = False) -> None:
        self.run.finish(exit_code=1 if failed else 0)


def _init(target: str | None, name: str, group: str | None, job_type: str) -> WandbRun:
    wandb = _wandb()
    entity, project = _project(target)
    # WANDB_DIR read at each run: wandb freezes its environment at its first init in a process, so a
    # later run (a second study, a test) would otherwise write into the first one's folder
    run = wandb.init(project=project, entity=entity, name=name, group=group, job_type=job_type, reinit="create_new",
                     dir=os.environ.get("WANDB_DIR") or None)
    return WandbRun(run, target, group or name)


class WandbTracker(Tracker):
    name = "wandb"
    aliases = ("w&b",)
    description = "Weights & Biases: params, step metrics, figures (summary) and result files per run; a sweep or study as a group"
    extra = EXTRA
    target_help = "PROJECT or ENTITY/PROJECT (default WANDB_PROJECT, else debiasbench); WANDB_MODE=offline logs without a server"

    def check(self, target: str | None) -> None:
        _wandb()
        if target is not None and not _PROJECT.fullmatch(target):
            raise DebiasbenchError(f"--track wandb:{target}: a W&B project is NAME or ENTITY/NAME (letters, digits, _ . -)")
        if offline():
            return
        server = urllib.parse.urlparse(os.environ.get("WANDB_BASE_URL") or DEFAULT_SERVER)
        if server.scheme not in ("http", "https") or not server.hostname:
            raise DebiasbenchError(f"WANDB_BASE_URL={os.environ.get('WANDB_BASE_URL')!r} is not an http(s) URL")
        check_reachable(server.hostname, port_of(server, f"WANDB_BASE_URL={os.environ.get('WANDB_BASE_URL')!r}"), "the W&B server",
                        "; or log offline with WANDB_MODE=offline (then `wandb sync`)")

    def start(self, target: str | None, name: str, group: str | None = None) -> WandbRun:
        return _init(target, name, group, "run" if group is None else "parent")
