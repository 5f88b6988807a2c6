"""Fault injection for the crash tests: ``DEBIASBENCH_FAULT=phase[@n]`` kills this process with
SIGKILL the n-th time (default: the first) it reaches the named phase, as ``kill -9`` would.

Phases: ``evaluated-before``, ``unlearned``, ``evaluated-after``, ``written-items`` (between the
per-item tables and the run row). ``DEBIASBENCH_FAULT_ATTEMPT=k`` fires it only in a worker
running the k-th attempt of its point (executors set ``DEBIASBENCH_ATTEMPT``), so a retried point
then succeeds. Unset, :func:`fault_point` costs one dictionary lookup.
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
    attempt = os.environ.get("DEBIASBENCH_FAULT_ATTEMPT")
    if attempt and os.environ.get("DEBIASBENCH_ATTEMPT", "1") != attempt:
        return
    _reached[phase] = _reached.get(phase, 0) + 1
    if _reached[phase] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
