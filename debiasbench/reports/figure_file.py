"""Writing a matplotlib figure to its file: atomically, in the format its name asks for, and closed.

Shared by every figure of the reports (compare's transfer plot, a study's heatmaps, trade-off and
seeds), so that none of them imports another's drawing code to save.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from debiasbench.errors import DebiasbenchError
from debiasbench.runtime.atomic import atomic_path

__all__ = ["save_figure"]


def save_figure(fig: Any, target: Path, dpi: int) -> Path:
    """Save ``fig`` to ``target`` (.png, .pdf or .svg) atomically and close it; a bad name: one line."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(target, suffix=target.suffix or ".png") as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=(target.suffix.lstrip(".") or "png"))
    except ValueError as exc:
        raise DebiasbenchError(f"cannot write plot {target}: {exc}; use a .png, .pdf or .svg name") from None
    finally:
        plt.close(fig)
    return target
