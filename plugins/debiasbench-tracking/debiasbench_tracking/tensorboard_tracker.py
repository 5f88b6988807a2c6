"""``--track tensorboard[:DIR]``: TensorBoard event files, one folder per run under DIR (default
``tensorboard``); a sweep or study is a folder with a subfolder per point. The configuration is a
text summary (``params``), figures are scalars at the run's last step, and the run's files are
copied to the run folder's ``artifacts/``."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from debiasbench.api import DebiasbenchError, Tracker, TrackerRun
from debiasbench_tracking.common import folder_name, require, stamped

EXTRA = "debiasbench-tracking[tensorboard]"
DEFAULT_DIR = "tensorboard"


class TensorBoardRun(TrackerRun):
    """One event-file folder, written by ``torch.utils.tensorboard.SummaryWriter``."""

    def __init__(self, folder: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.folder, self.last_step = folder, 0
        self.writer: Any = SummaryWriter(log_dir=str(folder))

    def log_params(self, params: Mapping[str, str]) -> None:
        table = "\n".join(["| param | value |", "|---|---|", *(f"| {k} | {v.replace('|', '/')} |" for k, v in params.items())])
        self.writer.add_text("params", table, 0)
        (self.folder / "params.json").write_text(json.dumps(dict(params), indent=2, sort_keys=True), encoding="utf-8")

    def log_metrics(self, values: Mapping[str, float], step: int) -> None:
        for k, v in values.items():
            self.writer.add_scalar(k, v, step)
        self.last_step = max(self.last_step, step)

    def log_summary(self, values: Mapping[str, float]) -> None:
        for k, v in values.items():
            self.writer.add_scalar(k, v, self.last_step)
        self.writer.flush()

    def log_artifact(self, path: Path, folder: str = "") -> None:
        target = self.folder / "artifacts" / folder
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / path.name)

    def child(self, name: str) -> TensorBoardRun:
        return TensorBoardRun(self.folder / folder_name(name))

    def finish(self, failed: bool = False) -> None:
        if failed:
            self.writer.add_text("status", "failed", self.last_step)
        self.writer.close()


class TensorBoardTracker(Tracker):
    name = "tensorboard"
    description = "TensorBoard event files: step metrics, figures and params per run; a sweep or study as subfolders"
    extra = EXTRA
    target_help = f"a local folder of runs (default: {DEFAULT_DIR}); view with: tensorboard --logdir DIR"

    def check(self, target: str | None) -> None:
        require("tensorboard", "tensorboard", EXTRA)
        if target is not None and "://" in target:
            raise DebiasbenchError(f"--track tensorboard:{target}: give a local folder (TensorBoard's event files are "
                                   "written locally; sync them to a remote store afterwards)")
        folder = Path(target or DEFAULT_DIR)
        if folder.exists() and not folder.is_dir():
            raise DebiasbenchError(f"--track tensorboard:{folder}: this is a file, not a folder")
        existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
        if not existing.is_dir():
            raise DebiasbenchError(f"--track tensorboard:{folder}: {existing} is a file, so the folder cannot be made")

    def start(self, target: str | None, name: str, group: str | None = None) -> TensorBoardRun:
        return TensorBoardRun(Path(target or DEFAULT_DIR) / stamped(name))
