"""``debiasbench sweep``: a resumable grid of runs from a TOML file (see docs/compare.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from debiasbench.cli.common import err, out
from debiasbench.cli.options import TrackFlag
from debiasbench.cli.executor_options import (
    AddressFlag,
    ClusterFlag,
    CpusFlag,
    ExecutorFlag,
    FolderFlag,
    GpusFlag,
    PartitionFlag,
    RetriesFlag,
    TimeFlag,
    WorkersFlag,
    started,
)
from debiasbench.errors import DebiasbenchError

if TYPE_CHECKING:  # pragma: no cover
    from debiasbench.campaign.sweep_file import Sweep


def sweep_command(
    file: Annotated[Path, typer.Argument(help="Sweep file (TOML): shared settings, \\[grid] axes, \\[options.<method>] option grids.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the points and which are already done; run nothing.")] = False,
    results_dir: Annotated[Optional[str], typer.Option("--results-dir", metavar="DIR|URI", help="Override the file's results_dir (a folder, or an s3:// or gs:// URI).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the per-point lines and the summary.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Go ahead with a grid above 500 runs without asking (docs/study.md).")] = False,
    track: TrackFlag = None,
    executor: ExecutorFlag = "local",
    retries: RetriesFlag = 2,
    workers: WorkersFlag = None,
    cpus_per_run: CpusFlag = None,
    gpus_per_run: GpusFlag = None,
    address: AddressFlag = None,
    slurm_cluster: ClusterFlag = None,
    slurm_partition: PartitionFlag = None,
    slurm_time: TimeFlag = None,
    slurm_folder: FolderFlag = None,
) -> None:
    """Run a grid of runs (methods x models x domains x seeds x method options) from a TOML file.

    Every point is validated before any runs. Points already in the results folder (same configuration hash in RESULTS/runs) are skipped, so an interrupted sweep resumes where it stopped. A point that fails is reported and the sweep goes on; the exit code is then 1.
    """
    from rich.markup import escape

    from debiasbench.cli.resume_hint import resume_command
    from debiasbench.campaign.executors import ExecutorOptions, check_options
    from debiasbench.campaign.grid_size import confirm_size, estimate, grid_size, run_durations
    from debiasbench.campaign.sweep import mark_done, run_sweep, validate
    from debiasbench.campaign.tracked import close_parent, open_parent
    from debiasbench.campaign.sweep_file import read_campaign_file, load_sweep
    from debiasbench.results.storage import describe

    options = ExecutorOptions(executor, retries, workers, cpus_per_run, gpus_per_run, address, slurm_cluster, slurm_partition,
                              slurm_time, slurm_folder)
    check_options(options)  # a wrong flag fails before the file is read
    confirm_size(grid_size(read_campaign_file(Path(file))), yes, f"sweep {file}")  # a huge grid is named before it is expanded
    sweep = load_sweep(file, results_dir, track=track or ())
    plans = validate(sweep)  # resolves defaults first: a point's hash is then the one its run records
    mark_done(sweep)
    todo = len(sweep.todo)
    if dry_run:
        _print_points(sweep)
        out.print(f"{len(sweep.points)} points: {len(sweep.points) - todo} done, {todo} to run; time: "
                  f"{estimate(todo, run_durations(sweep.points[0].config.results_dir))}", soft_wrap=True, highlight=False)
        return
    if not todo:
        out.print(f"all {len(sweep.points)} points are done in {describe(sweep.points[0].config.results_dir)}; nothing to run", soft_wrap=True)
        return
    say = lambda message: err.print(f"[bold]{escape(message)}[/]", highlight=False)  # noqa: E731
    run_log = None if quiet else (lambda message: err.print(f"[dim]  {escape(message)}[/]", highlight=False))
    with started(options) as engine:  # an unreachable or too small cluster fails here, before any point runs
        tracking = open_parent("sweep", Path(file).stem, Path(file), plans)
        try:
            report = run_sweep(sweep, plans, log=say, run_log=run_log, executor=engine, retries=retries, tracking=tracking)
        except BaseException:
            close_parent(tracking, {}, failed=True)
            raise
    close_parent(tracking, {"points/ran": len(report.ran), "points/skipped": report.skipped, "points/failed": len(report.failed)},
                 failed=bool(report.failed) or report.interrupted)
    if report.interrupted:
        again = resume_command("sweep", file, results_dir, options, quiet=quiet, yes=yes, track=track)
        err.print(f"[bold red]interrupted[/] after {len(report.ran)} of {todo} points; rerun `{escape(again)}` to resume "
                  "(finished points are kept; the interrupted one does not count as done)", highlight=False, soft_wrap=True)
        raise typer.Exit(130)
    retried = f", {report.retried} retried after a lost worker" if report.retried else ""
    out.print(f"sweep {escape(str(file))}: ran {len(report.ran)}, skipped {report.skipped} already done, failed {len(report.failed)}"
              f"{retried}", soft_wrap=True)
    if report.failed:
        for point, message in report.failed:
            err.print(f"[red]failed[/] point {point.index} ({escape(point.label())}): {escape(message)}", highlight=False, soft_wrap=True)
        raise DebiasbenchError(f"{len(report.failed)} of {todo} sweep points failed; fix them and rerun the sweep (finished points are kept)")


COLUMNS: dict[str, Any] = {
    "method": lambda c: c.method or "eval",
    "model": lambda c: c.model or "(default)",
    "domain": lambda c: c.domain or "–",
    "seed": lambda c: str(c.seed),
    "preset": lambda c: c.preset,
}
"""The point table's columns; model and preset move to the title when every point shares them."""


def _print_points(sweep: Sweep) -> None:
    """The points as a table; settings shared by every point go in the title to keep it narrow."""
    from rich.markup import escape
    from rich.table import Table

    configs = [p.config for p in sweep.points]
    option_names = sorted({k for c in configs for k in c.method_options})
    varying = [n for n in option_names if len({repr(c.method_options.get(n)) for c in configs if c.method}) > 1]
    same = {name for name in ("model", "preset") if len({COLUMNS[name](c) for c in configs}) == 1}
    shared = [f"{name} {COLUMNS[name](configs[0])}" for name in COLUMNS if name in same]
    ref = next((c for c in configs if c.method), configs[0])
    shared += [f"{n}={ref.method_options[n]}" for n in option_names if n not in varying and n in ref.method_options]
    columns = [name for name in COLUMNS if name not in same]
    table = Table(title=escape(f"sweep {sweep.source}" + (f" ({', '.join(shared)})" if shared else "")))
    for column in ["#", *columns, *(["options"] if varying else []), "hash", "status"]:
        table.add_column(column, no_wrap=column != "options")
    for p in sweep.points:
        c = p.config
        options = [" ".join(f"{n}={c.method_options[n]}" for n in varying if n in c.method_options)] if varying else []
        table.add_row(str(p.index), *[COLUMNS[name](c) for name in columns], *options, p.config_hash[:8],
                      "[green]done[/]" if p.done else "to run")
    out.print(table)
