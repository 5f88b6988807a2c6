"""``debiasbench check``: verify a results folder (see debiasbench/results/check.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from debiasbench.cli.common import out, warn
from debiasbench.errors import DebiasbenchError


def check_command(
    results_dir: Annotated[str, typer.Argument(help="Results folder (or s3:// / gs:// URI) to verify.")] = "results",
    strict: Annotated[bool, typer.Option("--strict", help="Also exit non-zero for findings that are not damage.")] = False,
) -> None:
    """Verify a results folder: every file readable with the right schema; every run with its metrics and per-item rows, before and after, paired; no tables without a runs row; no repeated runs. Exits 1 on any damage."""
    from rich.markup import escape

    from debiasbench.results.check import check_results
    from debiasbench.results.storage import open_store, results_location

    store = open_store(results_location(results_dir))
    report = check_results(store)
    for line in report.damage:
        warn(f"damage: {line}")
    for line in report.findings:
        warn(line)
    out.print(f"{escape(str(store))}: {report.runs} complete runs, {report.files} files; "
              f"{len(report.damage)} damaged, {len(report.findings)} other findings", soft_wrap=True)
    if report.damage or (strict and report.findings):
        raise DebiasbenchError(f"{len(report.damage)} damaged and {len(report.findings)} other finding(s) in {store}; "
                               "move the damaged files away or rerun those runs")
