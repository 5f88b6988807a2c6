"""TEMPORARY: replaced by the compare/sweep implementation (helper D)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def compare_command(results_dir: Annotated[Path, typer.Argument()] = Path("results")) -> None:
    """Cross-domain comparison table of a results directory."""
    from debiasbench.results import read_table

    t = read_table(results_dir, "metrics")
    print(t.num_rows, sorted(set(t.column("run_id").to_pylist())))


def sweep_command(file: Path) -> None:
    """Run a grid of runs from a TOML file."""
    raise NotImplementedError
