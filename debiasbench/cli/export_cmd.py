"""``debiasbench export``: the toolkit's instruments in other tools' formats (``export lm-eval``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from debiasbench.cli.common import out

EXPORT_HELP = "Write debiasbench's instruments in another tool's format (lm-evaluation-harness tasks)."


def lm_eval_command(
    directory: Annotated[Path, typer.Argument(help="Folder to write the task yamls and their functions files into (lm_eval --include_path).")],
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Data folder the tasks read (default: DEBIASBENCH_DATA).")] = None,
    instruments: Annotated[str, typer.Option("--instruments", help="Metrics to export, comma-separated, or all: every installed metric that declares lm-eval tasks (stereoset, crows-pairs with the first-party plugins).")] = "all",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the task files in a non-empty folder.")] = False,
) -> None:
    """Write the metrics that declare lm-evaluation-harness tasks (StereoSet, CrowS-Pairs, ...) as task yamls that reproduce the toolkit's figures."""
    from rich.markup import escape

    from debiasbench.cli.lm_eval_export import export_lm_eval
    from debiasbench.plugin_system.loader import get_registry

    written = export_lm_eval(directory, instruments.split(","), data_dir, overwrite, get_registry())
    tasks = [p.stem for p in written if p.suffix == ".yaml"]
    out.print(f"wrote {len(written)} files to {escape(str(directory))}: tasks {', '.join(tasks)}", soft_wrap=True)
    out.print(f"run: lm_eval --model hf --model_args pretrained=MODEL --include_path {escape(str(directory))} "
              f"--tasks {','.join(tasks)}", soft_wrap=True, highlight=False)


EXPORT_COMMANDS: dict[str, Callable[..., Any]] = {"lm-eval": lm_eval_command}
"""The subcommands of ``debiasbench export``."""
