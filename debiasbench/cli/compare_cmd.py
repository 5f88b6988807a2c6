"""``debiasbench compare``: the cross-domain comparison of a results folder.

matplotlib is imported only when ``--plot`` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from debiasbench.cli.common import err, out, warn
from debiasbench.errors import DebiasbenchError

Many = Optional[list[str]]


def compare_command(
    results_dir: Annotated[str, typer.Argument(help="Results folder (or s3:// / gs:// URI) written by `run`, `eval` or `sweep`, or one run's file in it (RESULTS/metrics/RUN.parquet).")] = "results",
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
    pool_protocols: Annotated[bool, typer.Option("--pool-protocols", help="Average runs of one cell even when they were measured under different protocols or data (refused by default; warned).")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit non-zero when any results file had to be skipped (damaged, foreign, without its runs row).")] = False,
) -> None:
    """Cross-domain comparison of a results folder: rows are method x model x source domain, columns evaluated domains.

    Each cell: the value after unlearning (mean ± sd over seeds), its change from the same run's value before (Δ), the change in distance to the measure's ideal (d; negative = closer to ideal) and the interval. Plain evaluations (`debiasbench eval`) are baseline rows. Warns when compared rows differ in protocol, data checksums or plugin version.
    """
    from debiasbench.reports.compare import compare
    from debiasbench.reports.compare_rows import Filters, split_values
    from debiasbench.reports.compare_formats import FORMATS, RENDERERS, rich_tables
    from debiasbench.domains import check_domain
    from debiasbench.results.storage import open_store, results_location
    from debiasbench.runtime.atomic import write_text_atomic

    check_domain(fmt, FORMATS, what="--format")
    filters = Filters(
        metrics=split_values(metric), models=split_values(model), methods=split_values(method),
        domains=split_values(domain), source_domains=split_values(source_domain),
        all_measures=all_measures, all_domains=all_domains,
    )
    damage = _other_damage(results_dir)  # named first, even when the comparison then stops at a damaged file
    comparison = compare(results_location(results_dir), filters, pool_protocols=pool_protocols)
    for warning in dict.fromkeys(comparison.warnings):  # each once
        warn(warning)
    skipped = [w for w in comparison.warnings if w.startswith("skipped ") or "left out" in w]
    skipped += damage
    err.print(f"read {sum(comparison.runs.values())} runs" + (f"; {len(skipped)} problem(s) above" if skipped else ""), highlight=False)
    if strict and skipped:
        raise DebiasbenchError(f"--strict: {len(skipped)} results file problem(s) in {open_store(results_location(results_dir))} (listed above); "
                               "run `debiasbench check` on the folder, fix or move the files, and compare again")
    if plot is not None:
        from debiasbench.reports.plot import plot_transfer

        plot_transfer(comparison, plot)
        err.print(f"wrote transfer heatmaps to {plot}", highlight=False)
    if output is not None:
        try:
            write_text_atomic(output, RENDERERS[fmt](comparison))
        except OSError as exc:
            raise DebiasbenchError(f"cannot write --output {output}: {exc.strerror or exc}; choose a path in a writable folder") from None
        err.print(f"wrote {fmt} comparison to {output}", highlight=False)
    elif fmt == "table":
        from rich.markup import escape

        from debiasbench.reports.compare_formats import LEGEND, attainable_line, context_line, survival_legend

        out.print(context_line(comparison), highlight=False, markup=False)
        for table in rich_tables(comparison):
            out.print(table)
        out.print(f"[dim]{escape(LEGEND)}; bold = the unlearned (source) domain[/]", highlight=False)
        if survival_legend(comparison):
            out.print(f"[dim]{escape(survival_legend(comparison))}[/]", highlight=False)
        if attainable_line(comparison):
            out.print(f"[dim]{escape(attainable_line(comparison))}[/]", highlight=False)
        for line in comparison.damage:
            out.print(f"[bold red]{escape(line)}[/]", highlight=False)
    else:
        typer.echo(RENDERERS[fmt](comparison), nl=False)


ALREADY_WARNED = ("metrics: ", "runs: ")
"""Damage ``compare`` names itself while reading (unreadable metric and runs files)."""


def _other_damage(results_dir: str) -> list[str]:
    """``debiasbench check``'s damage that the comparison's own warnings do not already name (a run
    whose metrics file is gone, missing or cut per-item files, one-stage cells ...), each warned with
    what compare does about it."""
    from debiasbench.reports.compare import run_file
    from debiasbench.results.check import check_results
    from debiasbench.results.storage import open_store, results_location

    one = run_file(results_location(results_dir))
    folder = one[0] if one is not None else results_location(results_dir)
    if not open_store(folder).exists():  # a missing folder or a stray file: compare says so itself
        return []
    lines = [d for d in check_results(folder).damage
             if not d.startswith(ALREADY_WARNED) and "but no runs row" not in d and "times with the same seed" not in d]
    for line in lines:
        warn(f"damage: {line}; " + ("that run is not shown" if "no metric rows" in line else "its paired statistics are left out"))
    return lines
