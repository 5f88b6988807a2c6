"""``--track NAME[:TARGET]`` values: parsed, looked up and checked before any model loads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from debiasbench.errors import DebiasbenchError
from debiasbench.plugin_system.interfaces import Tracker
from debiasbench.plugin_system.interfaces.common import PluginLookup


@dataclass(frozen=True)
class TrackTarget:
    """One ``--track`` value: the tracker object, its registered name and its TARGET (None: the backend's default)."""

    tracker: Tracker
    name: str
    target: str | None


_CHECKED: set[tuple[str, str | None]] = set()
"""Values already checked in this process: a sweep plans every point, the connect check runs once."""


def parse_track(spec: str, registry: PluginLookup) -> TrackTarget:
    """``mlflow:file:/tmp/runs`` -> (the mlflow tracker, ``file:/tmp/runs``); an unknown name fails with a did-you-mean."""
    name, _, target = spec.strip().partition(":")
    if not name:
        raise DebiasbenchError(f"--track {spec!r}: give a tracker name, e.g. --track mlflow or --track tensorboard:DIR "
                               "(see `debiasbench list trackers`)")
    tracker = registry.tracker(name)
    return TrackTarget(tracker, tracker.name, target or None)


def check_tracking(specs: Sequence[str], registry: PluginLookup) -> list[TrackTarget]:
    """Every ``--track`` value parsed and checked (backend installed, TARGET well formed, server answering)."""
    targets = [parse_track(spec, registry) for spec in specs]
    seen: set[tuple[str, str | None]] = set()
    for t in targets:
        key = (t.name, t.target)
        if key in seen:
            raise DebiasbenchError(f"--track {t.name}{':' + t.target if t.target else ''} is given twice")
        seen.add(key)
        if key not in _CHECKED:
            t.tracker.check(t.target)
            _CHECKED.add(key)
    return targets
