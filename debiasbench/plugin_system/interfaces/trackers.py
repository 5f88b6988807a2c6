"""Experiment trackers: where runs, sweeps and studies log (MLflow, Weights & Biases, TensorBoard, ...).

``--track NAME[:TARGET]`` names a registered :class:`Tracker`; the core checks it before any model
loads (:meth:`Tracker.check`), then opens one :class:`TrackerRun` per run, or one per sweep or study
with a child per point (:meth:`TrackerRun.child`), and logs through the methods below. What it logs
(the configuration, the training trajectory, the figures, the files) is the core's choice
(``debiasbench/tracking/``), so every backend holds the same things.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from debiasbench.plugin_system.interfaces.common import Named


class TrackerRun(ABC):
    """One run in a tracker: a ``debiasbench run``, a sweep or study (the parent), or one of its points."""

    @abstractmethod
    def log_params(self, params: Mapping[str, str]) -> None:
        """The resolved configuration, flattened to ``dotted.key -> text`` (called once, first)."""

    @abstractmethod
    def log_metrics(self, values: Mapping[str, float], step: int) -> None:
        """Values of one training step (steps only grow within a run)."""

    @abstractmethod
    def log_summary(self, values: Mapping[str, float]) -> None:
        """Final figures (before, after, change per measure and domain), logged once after the steps."""

    @abstractmethod
    def log_artifact(self, path: Path, folder: str = "") -> None:
        """A file the run wrote (results table, summary, report), kept with the tracker run under ``folder``."""

    @abstractmethod
    def child(self, name: str) -> TrackerRun:
        """A run nested under this one (a sweep's or study's point)."""

    @abstractmethod
    def finish(self, failed: bool = False) -> None:
        """Close the run (``failed``: it stopped on an error); nothing is logged after."""


class Tracker(Named, ABC):
    """A tracking backend, named on the command line as ``--track NAME`` or ``--track NAME:TARGET``.

    ``extra``: the pip requirement that installs the backend's library, named when it is missing.
    ``target_help``: what TARGET means (a URI, a folder, a project), shown by ``debiasbench list trackers``.
    """

    extra: ClassVar[str] = ""
    target_help: ClassVar[str] = ""

    @abstractmethod
    def check(self, target: str | None) -> None:
        """Raise :class:`~debiasbench.errors.DebiasbenchError` in one line when the backend's library
        is not installed, ``target`` is malformed or its server does not answer (a short connect
        check). Called before any model loads; writes nothing."""

    @abstractmethod
    def start(self, target: str | None, name: str, group: str | None = None) -> TrackerRun:
        """Open a top-level run called ``name`` (``group``: the sweep or study it belongs to, if any)."""
