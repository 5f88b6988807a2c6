"""``debiasbench compare`` and ``debiasbench sweep`` (registered by ``debiasbench.cli``).

Kept apart from ``cli.py`` so the command line stays small per file; nothing heavy is
imported at module level (matplotlib only when ``--plot`` is given).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console

from debiasbench.errors import DebiasbenchError

if TYPE_CHECKING:  # pragma: no cover
    from debiasbench.orchestration.sweep import Sweep

out = Console()
err = Console(stderr=True)

Many = Optional[list[str]]


def _warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


def compare_command(
    results_dir: Annotated[Path, typer.Argument(help="Results folder written by `run`, `eval` or `sweep`.")] = Path("results"),
    metric: Annotated[Many, typer.Option("--metric", "-m", help="Metric or measure name (repeat or comma-separate). Default: each metric's headline measure (the first it declares).")] = None,
    model: Annotated[Many, typer.Option("--model", help="Only these models (repeat or comma-separate).")] = None,
    method: Annotated[Many, typer.Option("--method", help="Only these methods; `none` selects plain evaluations.")] = None,
    domain: Annotated[Many, typer.Option("--domain", help="Evaluated domains to show. Default: gender, race, religion, all and every source domain.")] = None,
    source_domain: Annotated[Many, typer.Option("--source-domain", help="Only runs that unlearned these domains.")] = None,
    all_measures: Annotated[bool, typer.Option("--all-measures", help="Show every measure, sub-scores included.")] = False,
    all_domains: Annotated[bool, typer.Option("--all-domains", help="Show every evaluated domain.")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table | markdown | csv | json | latex")] = "table",
    output: Annotated[Optional[Path], typer.Option("--output", "-O", help="Write to this file (atomically) instead of the terminal.")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also write transfer heatmaps (source x evaluated domain) to this .png/.pdf/.svg.")] = None,
) -> None:
    """Cross-domain comparison of a results folder: rows are method x model x source domain, columns evaluated domains.

    Each cell: the value after unlearning (mean ± sd over seeds), its change from the same run's value before (Δ), the change in distance to the measure's ideal (d; negative = closer to ideal) and the interval. Plain evaluations (`debiasbench eval`) are baseline rows. Warns when compared rows differ in protocol, data checksums or plugin version.
    """
    from debiasbench.analysis.compare import Filters, compare, split_values
    from debiasbench.analysis.compare_formats import FORMATS, RENDERERS, rich_tables
    from debiasbench.domains import check_domain
    from debiasbench.support.atomic import write_text_atomic

    check_domain(fmt, FORMATS, what="--format")
    filters = Filters(
        metrics=split_values(metric), models=split_values(model), methods=split_values(method),
        domains=split_values(domain), source_domains=split_values(source_domain),
        all_measures=all_measures, all_domains=all_domains,
    )
    comparison = compare(results_dir, filters)
    for warning in comparison.warnings:
        _warn(warning)
    if plot is not None:
        from debiasbench.analysis.plot import plot_transfer

        plot_transfer(comparison, plot)
        err.print(f"wrote transfer heatmaps to {plot}", highlight=False)
    if output is not None:
        write_text_atomic(output, RENDERERS[fmt](comparison))
        err.print(f"wrote {fmt} comparison to {output}", highlight=False)
    elif fmt == "table":
        from rich.markup import escape

        from debiasbench.analysis.compare_formats import LEGEND, context_line

        out.print(context_line(comparison), highlight=False, markup=False)
        for table in rich_tables(comparison):
            out.print(table)
        out.print(f"[dim]{escape(LEGEND)}; bold = the unlearned (source) domain[/]", highlight=False)
    else:
        typer.echo(RENDERERS[fmt](comparison), nl=False)


def sweep_command(
    file: Annotated[Path, typer.Argument(help="Sweep file (TOML): shared settings, [grid] axes, [options.<method>] option grids.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the points and which are already done; run nothing.")] = False,
    results_dir: Annotated[Optional[Path], typer.Option("--results-dir", help="Override the file's results_dir.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the per-point lines and the summary.")] = False,
) -> None:
    """Run a grid of runs (methods x models x domains x seeds x method options) from a TOML file.

    Every point is validated before any runs. Points already in the results folder (same configuration hash in RESULTS/runs) are skipped, so an interrupted sweep resumes where it stopped. A point that fails is reported and the sweep goes on; the exit code is then 1.
    """
    from debiasbench.orchestration.sweep import (
        load_sweep,
        mark_done,
        run_sweep,
        validate,
    )

    sweep = mark_done(load_sweep(file, results_dir))
    plans = validate(sweep)
    todo = len(sweep.todo)
    if dry_run:
        _print_points(sweep)
        out.print(f"{len(sweep.points)} points: {len(sweep.points) - todo} done, {todo} to run")
        return
    if not todo:
        out.print(f"all {len(sweep.points)} points are done in {sweep.points[0].config.results_dir}; nothing to run", soft_wrap=True)
        return
    from rich.markup import escape

    say = lambda message: err.print(f"[bold]{escape(message)}[/]", highlight=False)  # noqa: E731
    run_log = None if quiet else (lambda message: err.print(f"[dim]  {escape(message)}[/]", highlight=False))
    report = run_sweep(sweep, plans, log=say, run_log=run_log)
    if report.interrupted:
        err.print(f"[bold red]interrupted[/] after {len(report.ran)} of {todo} points; rerun `debiasbench sweep {escape(str(file))}` to resume "
                  "(finished points are kept; the interrupted one does not count as done)", highlight=False, soft_wrap=True)
        raise typer.Exit(130)
    out.print(f"sweep {escape(str(file))}: ran {len(report.ran)}, skipped {report.skipped} already done, failed {len(report.failed)}", soft_wrap=True)
    if report.failed:
        for point, message in report.failed:
            err.print(f"[red]failed[/] point {point.index} ({escape(point.label())}): {escape(message)}", highlight=False, soft_wrap=True)
        raise DebiasbenchError(f"{len(report.failed)} of {todo} sweep points failed; fix them and rerun the sweep (finished points are kept)")


def _print_points(sweep: Sweep) -> None:
    """The points as a table; settings shared by every point go in the title to keep it narrow."""
    from rich.markup import escape
    from rich.table import Table

    configs = [p.config for p in sweep.points]
    fields = {
        "method": lambda c: c.method or "eval",
        "model": lambda c: c.model,
        "domain": lambda c: c.domain or "–",
        "seed": lambda c: str(c.seed),
        "preset": lambda c: c.preset,
    }
    option_names = sorted({k for c in configs for k in c.method_options})
    varying = [n for n in option_names if len({c.method_options.get(n) for c in configs if c.method}) > 1]
    shared = [f"{name} {get(configs[0])}" for name, get in fields.items()
              if name in ("model", "preset") and len({get(c) for c in configs}) == 1]
    ref = next((c for c in configs if c.method), configs[0])
    shared += [f"{n}={ref.method_options[n]}" for n in option_names if n not in varying and n in ref.method_options]
    columns = [name for name, get in fields.items() if not (name in ("model", "preset") and len({get(c) for c in configs}) == 1)]
    table = Table(title=escape(f"sweep {sweep.source}" + (f" ({', '.join(shared)})" if shared else "")))
    for column in ["#", *columns, *(["options"] if varying else []), "hash", "status"]:
        table.add_column(column, no_wrap=column != "options")
    for p in sweep.points:
        c = p.config
        options = [" ".join(f"{n}={c.method_options[n]}" for n in varying if n in c.method_options)] if varying else []
        table.add_row(str(p.index), *[fields[name](c) for name in columns], *options, p.config_hash[:8],
                      "[green]done[/]" if p.done else "to run")
    out.print(table)
