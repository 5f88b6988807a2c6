"""Entry point ``trackers``: registers the mlflow, wandb and tensorboard trackers (their libraries load on use)."""

from __future__ import annotations

from debiasbench.api import Register, hookimpl
from debiasbench_tracking.mlflow_tracker import MLflowTracker
from debiasbench_tracking.tensorboard_tracker import TensorBoardTracker
from debiasbench_tracking.wandb_tracker import WandbTracker

DEBIASBENCH_API = "1"


@hookimpl
def register_trackers(register: Register) -> None:
    register(MLflowTracker())
    register(WandbTracker())
    register(TensorBoardTracker())
