"""Fault injection for the crash tests: ``DEBIASBENCH_FAULT=phase[@n]`` kills this process with
SIGKILL the n-th time (default: the first) it reaches the named phase, as ``kill -9`` would.

Phases: ``evaluated-before``, ``unlearned``, ``evaluated-after``, ``written-items`` (between the
per-item tables and the run row). Unset, :func:`fault_point` costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_reached: dict[str, int] = {}


def fault_point(phase: str) -> None:
    wanted = os.environ.get("DEBIASBENCH_FAULT")
    if not wanted:
        return
    name, _, count = wanted.partition("@")
    if name != phase:
        return
    _reached[phase] = _reached.get(phase, 0) + 1
    if _reached[phase] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
