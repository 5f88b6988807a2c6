"""What the three backends share: importing their library with a one-line hint, a connect check, safe names."""

from __future__ import annotations

import datetime as dt
import importlib
import re
import socket
import urllib.parse
from types import ModuleType

from debiasbench.api import DebiasbenchError

CONNECT_TIMEOUT_S = 3.0
"""How long a tracker server has to accept a connection before the run is refused (before any model loads)."""


def require(module: str, tracker: str, extra: str) -> ModuleType:
    """``module`` imported, or one line naming the pip extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DebiasbenchError(f"--track {tracker} needs the {module.split('.')[0]} library, which is not installed; "
                               f"install it with: pip install '{extra}'") from None


def check_reachable(host: str, port: int, what: str, hint: str = "") -> None:
    """One line when ``host:port`` does not accept a TCP connection within :data:`CONNECT_TIMEOUT_S`."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__)
        raise DebiasbenchError(f"{what} at {host}:{port} did not answer within {CONNECT_TIMEOUT_S:g} s ({reason}); "
                               f"start it or fix the address{hint}") from None


def port_of(url: urllib.parse.ParseResult, label: str) -> int:
    """An http(s) URL's port, else its scheme's default (443, 80); one line when the port is not a number."""
    try:
        return url.port or (443 if url.scheme.lower() == "https" else 80)
    except ValueError:
        raise DebiasbenchError(f"{label}: the port is not a number between 0 and 65535") from None


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def folder_name(name: str) -> str:
    """A run name as a folder name: unsafe characters as ``_``."""
    return _UNSAFE.sub("_", name).strip("_") or "run"


def stamped(name: str) -> str:
    """``20261207T125301-NAME``: a run's folder, sortable and distinct from an earlier run of the same name."""
    return f"{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%dT%H%M%S%f')[:-3]}-{folder_name(name)}"
