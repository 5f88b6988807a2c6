"""The command that resumes an interrupted ``sweep`` or ``study``: the options the user gave,
repeated and shell-quoted, so pasting it resumes the same run into the same folder."""

from __future__ import annotations

from pathlib import Path

from debiasbench.campaign.executors import ExecutorOptions
from debiasbench.runtime.paths import shell_quote

_FLAGS = (("workers", "--workers"), ("cpus_per_run", "--cpus-per-run"), ("gpus_per_run", "--gpus-per-run"),
          ("address", "--address"), ("slurm_cluster", "--slurm-cluster"), ("slurm_partition", "--slurm-partition"),
          ("slurm_time", "--slurm-time"), ("slurm_folder", "--slurm-folder"))


def resume_command(command: str, file: Path, results_dir: str | None, options: ExecutorOptions, *, quiet: bool = False,
                   yes: bool = False, track: list[str] | tuple[str, ...] | None = None) -> str:
    """``debiasbench COMMAND FILE [the options given]``, every word shell-quoted (``--track`` too: the resumed
    points log to the same trackers as the ones that finished)."""
    words = ["debiasbench", command, str(file)]
    if results_dir is not None:
        words += ["--results-dir", results_dir]
    for value in track or ():
        words += ["--track", value]
    if options.executor != "local":
        words += ["--executor", options.executor]
    if options.retries != 2:
        words += ["--retries", str(options.retries)]
    for attribute, flag in _FLAGS:
        value = getattr(options, attribute)
        if value is not None:
            words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    if quiet:
        words.append("--quiet")
    if yes:
        words.append("--yes")
    return " ".join(shell_quote(w) for w in words)
