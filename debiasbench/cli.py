"""The ``debiasbench`` command line (Typer + rich).

Importing this module must not import torch: ``--help`` and ``plugins`` stay fast.
User errors print one line and exit non-zero, without a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from debiasbench import __version__
from debiasbench.errors import DebiasbenchError

app = typer.Typer(
    name="debiasbench",
    help="Unlearn social bias from language models and measure, domain by domain, what that did.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

KIND_ARG = {"methods": "method", "models": "model", "metrics": "metric", "datasets": "dataset", "selectors": "selector"}


def guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn DebiasbenchError into one red line and its exit code; Ctrl-C into exit 130."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DebiasbenchError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("[bold red]interrupted[/]: nothing half-written was kept")
            raise typer.Exit(130) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        out.print(f"debiasbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = None,
) -> None:
    """debiasbench: unlearning-based bias mitigation, measured across domains."""


# --------------------------------------------------------------------------- plugins / list


@app.command("plugins")
@guarded
def plugins_command(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """List installed plugins: what each provides, its distribution and version, and any load error."""
    from debiasbench.plugin_system.loader import get_plugins

    loaded = get_plugins()
    if as_json:
        out.print_json(json.dumps([s.to_dict() for s in loaded.statuses]))
        return
    table = Table(title="debiasbench plugins")
    for column in ("plugin", "distribution", "version", "status", "provides"):
        table.add_column(column)
    for s in loaded.statuses:
        provides = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in s.provides.items())
        status = {"ok": "[green]ok[/]", "disabled": "[yellow]disabled[/]"}.get(s.status, f"[red]{s.error}[/]")
        table.add_row(s.name, s.distribution, s.version, status, provides)
    out.print(table)


@app.command("list")
@guarded
def list_command(
    kind: Annotated[str, typer.Argument(help="methods | models | metrics | datasets | selectors")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List registered objects of one kind, with their options."""
    from debiasbench.plugin_system.loader import get_registry
    from debiasbench.plugin_system.options import describe_options

    if kind not in KIND_ARG:
        from debiasbench.domains import check_domain

        check_domain(kind, tuple(KIND_ARG), what="kind")
    registry = get_registry()
    rows = []
    for entry in registry.entries(KIND_ARG[kind]):
        obj = entry.obj
        row: dict[str, Any] = {"name": entry.name, "aliases": list(obj.aliases), "plugin": entry.provider,
                               "description": obj.description, "options": describe_options(obj.Options)}
        if hasattr(obj, "measures"):
            row["measures"] = [{"name": m.name, "ideal": m.ideal, "better": m.better} for m in obj.measures]
        if hasattr(obj, "role"):
            row["role"] = obj.role
        rows.append(row)
    if as_json:
        out.print_json(json.dumps(rows, default=str))
        return
    table = Table(title=f"{kind}")
    for column in ("name", "aliases", "plugin", "description", "options"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], ", ".join(row["aliases"]), row["plugin"], row["description"],
                      ", ".join(f"{o['name']}={o['default']}" for o in row["options"]))
    out.print(table)


# --------------------------------------------------------------------------- run / eval

ModelOpt = Annotated[str, typer.Option("--model", help="Registered model, Hugging Face hub id, local folder or .gguf file.")]
MetricsOpt = Annotated[str, typer.Option("--metrics", help="Comma-separated metric names.")]
EvalDomainsOpt = Annotated[Optional[str], typer.Option("--eval-domains", help="Comma-separated evaluated domains (default: all).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for sampling, subsets, bootstrap and training.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda | cuda:N | mps")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="float32 | bfloat16 | float16 (bfloat16 flips a few % of pair decisions).")]
ResultsOpt = Annotated[Path, typer.Option("--results-dir", help="Folder of result tables (Parquet).")]
DataOpt = Annotated[Optional[Path], typer.Option("--data-dir", envvar="DEBIASBENCH_DATA", help="Data folder (else cache, else download).")]
CacheOpt = Annotated[Optional[Path], typer.Option("--cache-dir", envvar="DEBIASBENCH_CACHE", help="Toolkit cache (models, baselines, data).")]
MetricOptOpt = Annotated[Optional[list[str]], typer.Option("--metric-option", "-M", help="metric.key=value, e.g. -M crows-pairs.scoring=sum")]
ScoringOpt = Annotated[Optional[str], typer.Option("--scoring", help="mean | sum for the sentence-scoring metrics.")]
MaxTokensOpt = Annotated[Optional[int], typer.Option("--max-tokens", help="Evaluate perplexity on this many WikiText-2 tokens only.")]
PresetOpt = Annotated[str, typer.Option("--preset", help="full (the study's protocol) | quick (recorded subsets, minutes).")]
EvalLimitOpt = Annotated[Optional[int], typer.Option("--eval-limit", help="At most N pairs/examples per evaluated domain.")]
ExamplesOpt = Annotated[bool, typer.Option("--save-examples", help="Also write per-pair / per-example scores.")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Recompute baseline evaluations instead of reusing cached ones.")]
ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", help="CPU threads for torch (default: every core); give concurrent runs a share each.")]
RemoteOpt = Annotated[bool, typer.Option("--trust-remote-code", help="Allow model code from the hub (off by default).")]


def _split(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def _metric_options(pairs: list[str] | None, metrics: list[str], scoring: str | None, max_tokens: int | None) -> dict[str, dict[str, str]]:
    """``-M metric.key=value`` plus the ``--scoring`` / ``--max-tokens`` shortcuts."""
    import dataclasses

    from debiasbench.plugin_system.loader import get_registry
    from debiasbench.plugin_system.options import parse_pairs

    options: dict[str, dict[str, str]] = {}
    for key, value in parse_pairs(pairs, "-M").items():
        metric, dot, option_name = key.partition(".")
        if not dot or not option_name:
            raise DebiasbenchError(f"malformed metric option {key}={value!r}: expected metric.key=value, e.g. -M crows-pairs.scoring=sum")
        options.setdefault(metric, {})[option_name] = value
    registry = get_registry()
    for flag, field_name, value in (("--scoring", "scoring", scoring), ("--max-tokens", "max_tokens", max_tokens)):
        if value is None:
            continue
        targets = [m for m in metrics if field_name in {f.name for f in dataclasses.fields(registry.get("metric", m).Options)}]
        if not targets:
            raise DebiasbenchError(f"{flag} applies to no metric of this run ({', '.join(metrics)})")
        for m in targets:
            options.setdefault(registry.get("metric", m).name, {}).setdefault(field_name, str(value))
    return options


def _execute(config: Any, quiet: bool) -> None:
    from debiasbench.analysis.summary import summary_table, trajectory_table
    from debiasbench.orchestration.run import run_experiment

    log = (lambda message: None) if quiet else (lambda message: err.print(f"[dim]{message}[/]", highlight=False))
    result = run_experiment(config, log=log)
    if not quiet:
        out.print(summary_table(result.metrics_rows, title=f"run {result.run_id}", extra_domains=(config.domain, *(config.eval_domains or ()))))
        if result.trajectory_rows:
            out.print(trajectory_table(result.trajectory_rows, title="trajectory (* = closest to the ideals)"))
    out.print(f"wrote {len(result.metrics_rows)} metric rows for run [bold]{result.run_id}[/] to {config.results_dir}")


@app.command("run")
@guarded
def run_command(
    method: Annotated[str, typer.Option("--method", help="Unlearning method, e.g. mlm-unlearn, token-ga.")],
    domain: Annotated[str, typer.Option("--domain", help="Source domain: the group whose hate speech is unlearned.")],
    model: ModelOpt = "smollm2-135m-q4",
    forget_set: Annotated[Optional[str], typer.Option("--forget-set", help="Forget set (default: hatecheck, available offline).")] = None,
    split: Annotated[Optional[str], typer.Option("--split", help="Forget-set split, for sets that have splits.")] = None,
    metrics: MetricsOpt = "crows-pairs,stereoset,perplexity",
    eval_domains: EvalDomainsOpt = None,
    option: Annotated[Optional[list[str]], typer.Option("--option", "-o", help="Method option key=value (see `list methods`).")] = None,
    selector_option: Annotated[Optional[list[str]], typer.Option("--selector-option", "-s", help="Span-selector option key=value.")] = None,
    metric_option: MetricOptOpt = None,
    scoring: ScoringOpt = None,
    max_tokens: MaxTokensOpt = None,
    preset: PresetOpt = "full",
    eval_limit: EvalLimitOpt = None,
    forget_limit: Annotated[Optional[int], typer.Option("--forget-limit", help="Use at most N forget texts (seeded sample).")] = None,
    eval_every: Annotated[Optional[int], typer.Option("--eval-every", help="Probe CrowS-Pairs + perplexity every N steps (trajectory table).")] = None,
    save_model: Annotated[Optional[Path], typer.Option("--save-model", help="Save the unlearned model here (HF layout, safetensors).")] = None,
    save_examples: ExamplesOpt = False,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "float32",
    results_dir: ResultsOpt = Path("results"),
    data_dir: DataOpt = None,
    cache_dir: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    threads: ThreadsOpt = None,
    trust_remote_code: RemoteOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the final line.")] = False,
) -> None:
    """Unlearn hate speech aimed at one domain, and evaluate bias in every domain before and after."""
    from debiasbench.orchestration.config import RunConfig
    from debiasbench.plugin_system.options import parse_pairs

    metric_names = _split(metrics) or []
    config = RunConfig(
        method=method, model=model, domain=domain, forget_set=forget_set, split=split, metrics=metric_names,
        eval_domains=_split(eval_domains), seed=seed, device=device, dtype=dtype, trust_remote_code=trust_remote_code,
        results_dir=results_dir, data_dir=data_dir, cache_dir=cache_dir, method_options=parse_pairs(option, "-o"),
        selector_options=parse_pairs(selector_option, "-s"),
        metric_options=_metric_options(metric_option, metric_names, scoring, max_tokens), preset=preset,
        eval_limit=eval_limit, forget_limit=forget_limit, eval_every=eval_every, save_model=save_model,
        save_examples=save_examples, use_cache=not no_cache, threads=threads,
    )
    _execute(config, quiet)


@app.command("eval")
@guarded
def eval_command(
    model: ModelOpt = "smollm2-135m-q4",
    metrics: MetricsOpt = "crows-pairs,stereoset,perplexity",
    eval_domains: EvalDomainsOpt = None,
    metric_option: MetricOptOpt = None,
    scoring: ScoringOpt = None,
    max_tokens: MaxTokensOpt = None,
    preset: PresetOpt = "full",
    eval_limit: EvalLimitOpt = None,
    save_examples: ExamplesOpt = False,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "float32",
    results_dir: ResultsOpt = Path("results"),
    data_dir: DataOpt = None,
    cache_dir: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    threads: ThreadsOpt = None,
    trust_remote_code: RemoteOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the final line.")] = False,
) -> None:
    """Evaluate a model (no unlearning); rows are written with stage 'before' and method 'none'."""
    from debiasbench.orchestration.config import RunConfig

    metric_names = _split(metrics) or []
    config = RunConfig(
        method=None, model=model, metrics=metric_names, eval_domains=_split(eval_domains), seed=seed, device=device,
        dtype=dtype, trust_remote_code=trust_remote_code, results_dir=results_dir, data_dir=data_dir, cache_dir=cache_dir,
        metric_options=_metric_options(metric_option, metric_names, scoring, max_tokens), preset=preset,
        eval_limit=eval_limit, save_examples=save_examples, use_cache=not no_cache, threads=threads,
    )
    _execute(config, quiet)


def _register_optional_commands() -> None:
    """Commands that live in their own modules (compare, sweep, spans)."""
    from debiasbench.cli_compare import compare_command, sweep_command
    from debiasbench.cli_spans import spans_command

    app.command("compare")(guarded(compare_command))
    app.command("sweep")(guarded(sweep_command))
    app.command("spans")(guarded(spans_command))


_register_optional_commands()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
