"""One tracker run per named tracker, driven as one: each call goes to every backend.

A backend that fails while logging (a server gone mid-run, a full disk) is reported on stderr and
dropped, so a finished run's results are never lost to its tracker; the checks that can fail
early (:func:`~debiasbench.tracking.targets.check_tracking`) ran before any model loaded.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from debiasbench.plugin_system.interfaces import TrackerRun
from debiasbench.tracking.targets import TrackTarget


class Tracking:
    """Several :class:`TrackerRun` s (one per ``--track`` value) behind the TrackerRun methods."""

    def __init__(self, runs: Mapping[str, TrackerRun]) -> None:
        self.runs: dict[str, TrackerRun] = dict(runs)

    @classmethod
    def start(cls, targets: Sequence[TrackTarget], name: str, group: str | None = None) -> Tracking:
        """Open a top-level run called ``name`` in every tracker."""
        runs: dict[str, TrackerRun] = {}
        for t in targets:
            label = f"{t.name}{':' + t.target if t.target else ''}"
            try:
                runs[label] = t.tracker.start(t.target, name, group)
            except Exception as exc:  # noqa: BLE001 - one tracker must not stop the run
                _warn(label, "could not start a run", exc)
        return cls(runs)

    def __bool__(self) -> bool:
        return bool(self.runs)

    def _each(self, what: str, call: Callable[[TrackerRun], Any]) -> None:
        for label, run in list(self.runs.items()):
            try:
                call(run)
            except Exception as exc:  # noqa: BLE001 - see the module docstring
                _warn(label, what, exc)
                self.runs.pop(label, None)

    def log_params(self, params: Mapping[str, str]) -> None:
        self._each("log_params", lambda run: run.log_params(params))

    def log_metrics(self, values: Mapping[str, float], step: int) -> None:
        self._each("log_metrics", lambda run: run.log_metrics(values, step))

    def log_summary(self, values: Mapping[str, float]) -> None:
        self._each("log_summary", lambda run: run.log_summary(values))

    def log_artifact(self, path: Path, folder: str = "") -> None:
        self._each("log_artifact", lambda run: run.log_artifact(path, folder))

    def child(self, name: str) -> Tracking:
        """A nested run in every tracker (a sweep's or study's point)."""
        children: dict[str, TrackerRun] = {}
        for label, run in self.runs.items():
            try:
                children[label] = run.child(name)
            except Exception as exc:  # noqa: BLE001
                _warn(label, "could not start a child run", exc)
        return Tracking(children)

    def finish(self, failed: bool = False) -> None:
        self._each("finish", lambda run: run.finish(failed))


def _warn(label: str, what: str, exc: BaseException) -> None:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    sys.stderr.write(f"warning: tracker {label}: {what} failed ({type(exc).__name__}: {first}); it is left out from here on\n")
