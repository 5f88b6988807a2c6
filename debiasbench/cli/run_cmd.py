"""``debiasbench run``: unlearn one domain and evaluate every domain before and after."""

from __future__ import annotations

from debiasbench.cli.common import err, out, warn
from debiasbench.cli.options import schema_command
from debiasbench.run.config import RUN, RunConfig


def run_and_report(config: RunConfig, quiet: bool) -> None:
    """Run (or evaluate) ``config``, then print its summary and where the rows went (shared with ``eval``)."""
    from rich.markup import escape

    from debiasbench.reports.summary import relearn_table, summary_table, trajectory_table
    from debiasbench.run.end_to_end import run_experiment
    from debiasbench.results.storage import describe
    from debiasbench.runtime.distributed import lone_cpu_launch, ranks

    if lone_cpu_launch():
        warn("accelerate launch --cpu started one process (several CPU processes on one machine need MPI); for N CPU "
             "processes run: accelerate launch --multi_gpu --num_processes N -m debiasbench ... (see docs/scale-accelerate.md)")
    log = (lambda message: None) if quiet else (lambda message: err.print(f"[dim]{escape(message)}[/]", highlight=False))
    from debiasbench.reports.model_card import saved_model_card

    result = run_experiment(config, log=log, card=saved_model_card)
    if not ranks().is_main:
        return  # under accelerate launch the main process reports (and wrote) the run
    if not quiet:
        shown = (config.domain, *(config.eval_domains or ()))
        out.print(summary_table(result.metrics_rows, title=f"run {result.run_id}", extra_domains=shown, items=result.items))
        relearned = relearn_table(result.metrics_rows, f"after {config.relearn_steps} relearning steps", shown, result.items)
        if relearned is not None:
            out.print(relearned)
        if result.trajectory_rows:
            out.print(trajectory_table(result.trajectory_rows, title="trajectory (* = closest to the ideals)"))
        from debiasbench.reports.compare import run_damage_lines

        for line in run_damage_lines(result.metrics_rows):
            out.print(f"[bold red]{escape(line)}[/]", highlight=False)
    out.print(f"wrote {len(result.metrics_rows)} metric rows for run [bold]{result.run_id}[/] to {describe(config.results_dir)}")


run_command = schema_command(
    RUN, run_and_report,
    "Unlearn hate speech aimed at one domain, and evaluate bias in every domain before and after.",
)
