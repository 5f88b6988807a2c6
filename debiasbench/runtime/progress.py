"""Rich progress bars shared by the core and plugins (``EvalContext.progress``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from debiasbench.runtime.distributed import is_main_process


class _Bar:
    """Handle yielded by :func:`progress`: ``advance(n, **fields)`` moves the bar and shows fields."""

    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task = bar, task

    def advance(self, n: float = 1, **fields: Any) -> None:
        if self._bar is None:
            return
        status = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
        self._bar.update(self._task, advance=n, status=status)

    def update(self, total: float | None = None, description: str | None = None) -> None:
        if self._bar is None:
            return
        kwargs: dict[str, Any] = {}
        if total is not None:
            kwargs["total"] = total
        if description is not None:
            kwargs["description"] = description
        self._bar.update(self._task, **kwargs)


def enabled() -> bool:
    """Bars are drawn unless ``DEBIASBENCH_NO_PROGRESS`` is set, and by the main process only
    when ``accelerate launch`` started several (one bar, not one per process)."""
    return not os.environ.get("DEBIASBENCH_NO_PROGRESS") and is_main_process()


@contextmanager
def progress(description: str, total: float | None = None) -> Iterator[_Bar]:
    """A transient rich progress bar on stderr; a no-op handle when progress is disabled."""
    if not enabled():
        yield _Bar(None, None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(file=sys.stderr)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(description, total=total, status="")
        yield _Bar(bar, task)


@contextmanager
def progress_bar(factory: Any, description: str, total: float | None = None) -> Iterator[Any]:
    """A bar from a progress factory (``EvalContext.progress``, ``UnlearnContext.progress``), or a
    silent handle when the caller passed none: ``with progress_bar(ctx.progress, "scoring", n) as b: b.advance()``."""
    if factory is None:
        yield _Bar(None, None)
        return
    with factory(description, total=total) as handle:
        yield handle
