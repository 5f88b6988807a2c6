"""A progress bar from ``EvalContext.progress``, or a silent stand-in when the caller gave none."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from debiasbench.interfaces import ProgressFactory


class _Silent:
    def advance(self, n: float = 1, **fields: Any) -> None:
        """Nothing to draw."""


@contextmanager
def bar(progress: ProgressFactory | None, description: str, total: float | None) -> Iterator[Any]:
    """``with bar(ctx.progress, "crows-pairs", total) as b: b.advance(n)``."""
    if progress is None:
        yield _Silent()
        return
    with progress(description, total=total) as handle:
        yield handle
