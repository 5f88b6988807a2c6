"""``debiasbench study``: a grid of runs plus its controls, then the report (see docs/study.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

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
    from debiasbench.campaign.executors import ExecutorOptions
    from debiasbench.campaign.study import StudyProgress
    from debiasbench.campaign.study_model import Study
    from debiasbench.plugin_system.registry import Registry
    from debiasbench.tracking.fanout import Tracking


def study_command(
    file: Annotated[Path, typer.Argument(help="Study file (TOML): a sweep file plus \\[study] (controls) and \\[study.family].")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the arms and which runs are done; run nothing.")] = False,
    report_only: Annotated[bool, typer.Option("--report-only", help="Write the report from the runs done so far; run nothing.")] = False,
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
    """Run a transfer study: the grid's methods, each control of each method run, then a report
    (Markdown and HTML: source x evaluated d_delta matrices with paired intervals and adjusted p,
    the differences from each control, a trade-off plot, heatmaps, per-seed points).

    Resumable: runs already in the results folder are not run again; a control matched to its run's
    outcome is derived from that run's stored records, identically on every rerun.
    """
    from rich.markup import escape

    from debiasbench.reports.study_render import write_report
    from debiasbench.reports.study_report import collect
    from debiasbench.campaign.executors import ExecutorOptions, check_options
    from debiasbench.cli.study_checks import check_study_size, say_damage
    from debiasbench.campaign.grid_size import estimate, run_durations
    from debiasbench.campaign.study import plan_study
    from debiasbench.campaign.study_arms import mark_arms, resolve_pending
    from debiasbench.campaign.study_file import load_study
    from debiasbench.campaign.tracked import close_parent, open_parent
    from debiasbench.campaign.study_preflight import run_preflight
    from debiasbench.plugin_system.loader import get_plugins
    from debiasbench.results.storage import open_store

    options = ExecutorOptions(executor, retries, workers, cpus_per_run, gpus_per_run, address, slurm_cluster, slurm_partition,
                              slurm_time, slurm_folder)
    check_options(options)  # a wrong flag fails before the file is read
    registry = get_plugins().registry
    check_study_size(file, yes)  # a huge grid is named before it is expanded
    study = load_study(file, results_dir, track=track or ())
    plans = plan_study(study)  # every name, option and domain before any model loads
    for note in run_preflight(study, registry, plans).notes:  # the report folder, family, controls, trade-off measure: before any run
        err.print(f"note: {escape(note)}", highlight=False, soft_wrap=True)
    if report_only:
        say_damage(study.results_dir)
    pending = resolve_pending(study, registry)
    mark_arms(study)
    if dry_run:
        _print_arms(study, pending)
        out.print(f"size: {len(study.arms)} runs; time: {estimate(sum(not a.done for a in study.arms), run_durations(study.results_dir))}",
                  soft_wrap=True, highlight=False)
        _print_power(study, registry)
        return
    tracking = open_parent("study", study.name, Path(file), plans)
    progress = None
    try:
        if not report_only:
            progress = _run(study, registry, file, results_dir, options, quiet, yes, retries, tracking, track)
        files = write_report(study, collect(study))
    except BaseException:
        close_parent(tracking, {}, failed=True)
        raise
    out.print(f"report: {escape(str(open_store(study.report_dir).where('report.md')))} (and report.html, {len(files) - 2} more files)",
              soft_wrap=True)
    failed = len(progress.failed) if progress is not None else 0
    close_parent(tracking, {"runs/ran": len(progress.ran) if progress else 0, "runs/failed": failed}, files, failed=bool(failed))
    if failed:
        raise DebiasbenchError(f"{failed} study runs failed; fix them and rerun the study (finished runs are kept)")


def _run(study: Study, registry: Registry, file: Path, results_dir: Optional[str], options: ExecutorOptions, quiet: bool,
         yes: bool, retries: int, tracking: Tracking | None, track: Optional[list[str]] = None) -> StudyProgress:
    """Run what the study has not done (its points, then its derived controls); Ctrl-C exits 130 with a resume hint."""
    from rich.markup import escape

    from debiasbench.campaign.study import run_study
    from debiasbench.cli.resume_hint import resume_command

    say = lambda message: err.print(f"[bold]{escape(message)}[/]", highlight=False)  # noqa: E731
    run_log = None if quiet else (lambda message: err.print(f"[dim]  {escape(message)}[/]", highlight=False))
    with started(options) as engine:  # an unreachable or too small cluster fails here, before any run
        progress = run_study(study, registry, log=say, run_log=run_log, executor=engine, retries=retries, tracking=tracking)
    if progress.interrupted:
        again = resume_command("study", file, results_dir, options, quiet=quiet, yes=yes, track=track)
        err.print(f"[bold red]interrupted[/] after {len(progress.ran)} runs; rerun `{escape(again)}` to resume",
                  highlight=False, soft_wrap=True)
        raise typer.Exit(130)
    for point, message in progress.failed:
        err.print(f"[red]failed[/] point {point.index} ({escape(point.label())}): {escape(message)}", highlight=False, soft_wrap=True)
    retried = f", {progress.retried} retried after a lost worker" if progress.retried else ""
    out.print(f"study {escape(study.name)}: ran {len(progress.ran)}, failed {len(progress.failed)}{retried}", soft_wrap=True)
    return progress


def _print_power(study: object, registry: object) -> None:
    """Each family cell's expected test items and minimum detectable effects (80 % power, 0.05)."""
    from rich.markup import escape
    from rich.table import Table

    from debiasbench.campaign.study_power import plan_pooled, plan_power

    cells = plan_power(study, registry)
    if not cells:
        return
    table = Table(title="what the study can detect (per cell, before any run)")
    for column in ("measure", "domain", "test items", "seeds", "MDE change", "MDE vs control"):
        table.add_column(column, justify="left" if column in ("measure", "domain") else "right", no_wrap=column == "measure")
    for c in cells:
        mde = lambda v: (">=" if c.lower_bound else "") + f"{v:.2f}" if v is not None else escape(c.why)  # noqa: E731
        table.add_row(escape(c.measure), c.domain, "–" if c.test_items is None else str(c.test_items), str(c.seeds),
                      mde(c.mde_change), mde(c.mde_contrast) if c.mde_contrast is not None else "–")
    out.print(table)
    out.print("MDE: the smallest true effect a cell detects with 80% power at two-sided 0.05, from the measure's planning "
              "SD of one item's change (MeasureSpec.item_sd) and the expected test items; seed-to-seed variation and the "
              "family's Holm adjustment raise it (docs/statistics.md).", soft_wrap=True)
    if any(c.lower_bound for c in cells):
        grouped = ", ".join(sorted({c.measure for c in cells if c.lower_bound}))
        out.print(f">=: {escape(grouped)} averages over groups (target terms), and the plan counts each item as its own "
                  "group, so its MDE is a lower bound: with few test groups the measured one is larger "
                  "(docs/statistics.md, \"The pooled transfer claim\").", soft_wrap=True)
    pool = plan_pooled(study, cells)
    if pool is not None:
        how = ("cells on the same items counted as perfectly correlated, which overstates, and its group-mean cells counted "
               "per item, which understates: measured pooled MDEs have come out larger" if pool.lower_bound else
               "cells on the same items counted as perfectly correlated: an upper bound")
        out.print(f"pooled cross-domain contrast: {pool.cells} cells, {pool.items} test items (item-weighted); MDE vs "
                  f"control {pool.mde:.2f} ({how})", soft_wrap=True)


def _print_arms(study: object, pending: int) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(f"study {study.name} ({study.source})"))  # type: ignore[attr-defined]
    for column in ("arm", "source", "seed", "hash", "status"):
        table.add_column(column)
    done = 0
    for arm in study.arms:  # type: ignore[attr-defined]
        base = arm.point or arm.controls
        status = "[green]done[/]" if arm.done else ("waits for its run" if arm.point is None else "to run")
        done += arm.done
        table.add_row(escape(arm.label), base.config.domain or "–", str(base.config.seed),
                      arm.point.config_hash[:8] if arm.point else "–", status)
    out.print(table)
    for note in study.skipped:  # type: ignore[attr-defined]
        out.print(f"note: {escape(note)}", soft_wrap=True)
    total = len(study.arms)  # type: ignore[attr-defined]
    out.print(f"{total} runs: {done} done, {total - done} to run ({pending} derived once their controlled run is done); "
              f"family {study.family.name!r}: {', '.join(study.family.measures)}", soft_wrap=True)  # type: ignore[attr-defined]
