"""What the commands share: the two consoles and small text helpers.

Nothing heavy is imported here (or at the top of any command module): ``--help`` stays fast.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

out = Console()
err = Console(stderr=True)


def warn(message: str) -> None:
    """One yellow line on stderr."""
    err.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def split_csv(text: str | None) -> list[str] | None:
    """``"a, b,"`` -> ``["a", "b"]``; nothing given -> None."""
    return [part.strip() for part in text.split(",") if part.strip()] if text else None
