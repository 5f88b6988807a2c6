"""Generate the reference pages of the documentation from the code, at build time.

Used two ways:

* as a MkDocs hook (``hooks: [scripts/gen_docs.py]`` in ``mkdocs.yml``): ``on_files`` adds
  the generated pages to the build, so ``mkdocs build`` alone produces a site that matches
  the installed code and plugins;
* as a script, ``python scripts/gen_docs.py OUT_DIR``, to write the same pages to a folder.

Pages: ``reference/cli.md`` (walks the Typer/click command tree), ``reference/results.md``
(the Arrow schemas of ``debiasbench.results.schemas`` with the comment beside each column), and
``reference/catalog.md`` (every method, model, metric, data set and span selector the
installed plugins register, with their options).
"""

from __future__ import annotations

import dataclasses
import io
import re
import sys
import tokenize
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the hook runs from mkdocs, where the repo may not be on sys.path
    sys.path.insert(0, str(ROOT))


def _cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    text = "" if value is None else str(value)
    return " ".join(text.split()).replace("|", "\\|")


def _code(value: Any) -> str:
    text = _cell(value)
    return f"`{text}`" if text else ""


# --------------------------------------------------------------------------- CLI reference


def _param_row(param: Any, ctx: Any) -> list[str]:
    names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    if getattr(param, "param_type_name", "") == "argument":
        names = f"`{param.name.upper()}`"
    display = getattr(param, "display_type", None)
    if callable(display):
        kind = str(display(ctx)).strip("<>")
    else:  # plain click
        kind = getattr(getattr(param, "type", None), "name", "")
    if getattr(param, "multiple", False):
        kind = f"{kind} (repeatable)"
    default = param.default
    if getattr(param, "is_flag", False) and default is False:
        default = None
    notes = []
    if param.required:
        notes.append("**required**")
    if getattr(param, "envvar", None):
        notes.append(f"env `{param.envvar}`")
    return [names, _cell(kind), _code(default), _cell(getattr(param, "help", "") or ""), " ".join(notes)]


def cli_reference() -> str:
    """Every command of the ``debiasbench`` app, its usage, help and parameters."""
    import typer.main

    from debiasbench.cli import app

    root = typer.main.get_command(app)
    ctx = root.make_context("debiasbench", [], resilient_parsing=True)
    lines = ["# Command-line reference", "",
             "Generated from the Typer application when the documentation is built; "
             "`debiasbench COMMAND --help` prints the same.", "", f"{root.help or ''}", ""]
    lines += ["| command | what it does |", "|---|---|"]
    names = root.list_commands(ctx)
    for name in names:
        lines.append(f"| [`{name}`](#{name}) | {_cell(root.get_command(ctx, name).get_short_help_str(limit=120))} |")
    lines.append("")
    for name in names:
        lines += _command_section(root.get_command(ctx, name), name, ctx)
    return "\n".join(lines)


def _command_section(command: Any, name: str, ctx: Any) -> list[str]:
    """One command's usage, help and parameters; a command group (``export``) and then each of its subcommands."""
    sub = command.make_context(name.rsplit(" ", 1)[-1], [], parent=ctx, resilient_parsing=True)
    lines = [f"## {name}", "", "```text", command.get_usage(sub).strip(), "```", ""]
    lines += [(command.help or "").strip(), ""]
    if command.epilog:  # "Provided by plugin '...'." on the commands plugins add
        lines += [f"*{command.epilog.strip()}*", ""]
    params = [p for p in command.get_params(sub) if p.name != "help"]
    if params:
        lines += ["| parameter | type | default | help | notes |", "|---|---|---|---|---|"]
        lines += ["| " + " | ".join(_param_row(p, sub)) + " |" for p in params]
        lines.append("")
    for child in getattr(command, "list_commands", lambda _: [])(sub):
        lines += _command_section(command.get_command(sub, child), f"{name} {child}", sub)
    return lines


# --------------------------------------------------------------------------- results schema

COLUMN_NOTES = {
    "run_id": "Unique, sortable id of the run (UTC time, method, model, source domain, random suffix); one file per run in each table.",
    "time": "When the run started (UTC).",
    "model": "The model as asked for: registered name, hub id, folder or .gguf path.",
    "model_fingerprint": "Identifies the exact weights evaluated (baseline cache key).",
    "forget_set": "The forget set unlearned; \"none\" for a plain evaluation.",
    "value": "The number.",
    "n": "Pairs, examples or scored tokens behind the value.",
    "ci_low": "Lower bound of the 95% interval: the core's percentile bootstrap over the items, for a measure with an aggregate (empty for others and in trajectories).",
    "ci_high": "Upper bound of the 95% interval.",
    "seed": "Seed for sampling, subsets, bootstrap and training.",
    "ideal": "The measure's ideal value, copied from its MeasureSpec (empty when it has none).",
    "preset": "full or quick.",
    "duration_s": "Wall time of the whole run in seconds.",
    "stop_reason": "Why unlearning stopped (steps, forget-loss, retain-ppl, callback ...).",
    "steps": "Optimisation steps taken.",
    "forget_texts": "Forget texts used.",
    "selected_tokens": "Tokens the span selector marked for unlearning.",
    "total_tokens": "All tokens of the forget texts.",
    "peak_memory_mb": "Peak memory, MiB: the process's peak resident memory on CPU; on GPU the CUDA allocator peaks summed over the devices (a model split with --device-map spans several; see peak_memory_by_device).",
    "device": "Device actually used.",
    "dtype": "Weights dtype actually used.",
    "step": "Optimisation step of the probe (0 = before unlearning).",
    "epoch": "Epoch of that step.",
    "forget_loss": "The method's forget objective at that step.",
    "retain_loss": "Retain loss at that step (methods with retain data).",
}
"""Descriptions for columns that carry no comment in ``debiasbench/results/schemas.py``."""


def schema_comments(source: Path) -> dict[tuple[str, str], str]:
    """``(SCHEMA_NAME, column) -> comment`` read from the ``("name", pa.type()),  # comment`` lines."""
    comments: dict[tuple[str, str], str] = {}
    schema = ""
    pending: str | None = None
    tokens = tokenize.generate_tokens(io.StringIO(source.read_text(encoding="utf-8")).readline)
    for tok in tokens:
        if tok.type == tokenize.NAME and tok.string.endswith("_SCHEMA") and tok.start[1] == 0:
            schema = tok.string
        elif tok.type == tokenize.STRING and schema and re.fullmatch(r"[\"'][a-z_]+[\"']", tok.string):
            pending = tok.string.strip("\"'")
        elif tok.type == tokenize.COMMENT and schema and pending:
            comments[(schema, pending)] = tok.string.lstrip("# ").strip()
            pending = None
        elif tok.type == tokenize.NL or tok.type == tokenize.NEWLINE:
            pending = None
    return comments


def results_reference() -> str:
    """The layout and every column of every result table."""
    import debiasbench.results.schemas as results

    comments = schema_comments(Path(results.__file__))
    lines = ["# Results schema", "", "Generated from the Arrow schemas in `debiasbench/results/schemas.py`.", ""]
    doc = (results.__doc__ or "").strip().split("\n", 1)
    body = re.sub(r"::\n", ":\n", doc[1].strip()) if len(doc) > 1 else ""
    lines += [doc[0], "", body, ""]
    lines += ["Read a table with `debiasbench.results.tables.read_table(folder, name)`, or with any Parquet reader, e.g. "
              "`pyarrow.dataset.dataset('results/metrics', format='parquet')` or "
              "`pandas.read_parquet('results/metrics')`.", ""]
    undocumented = []
    for name, schema in results.TABLES.items():
        variable = next(k for k, v in vars(results).items() if v is schema and k.endswith("_SCHEMA"))
        lines += [f"## `{name}`", "", "| column | Arrow type | meaning |", "|---|---|---|"]
        for field in schema:
            shared = next((c for (_, column), c in comments.items() if column == field.name), None)  # same column elsewhere
            text = comments.get((variable, field.name)) or COLUMN_NOTES.get(field.name) or shared
            if not text:
                undocumented.append(f"{name}.{field.name}")
            lines.append(f"| `{field.name}` | `{field.type}` | {_cell(text)} |")
        lines.append("")
    if undocumented:
        raise ValueError(f"undocumented result columns: {', '.join(undocumented)}; add a comment in results/schemas.py or a note in scripts/gen_docs.py")
    return "\n".join(lines)


# --------------------------------------------------------------------------- catalog

KIND_TITLES = {"method": "Unlearning methods", "model": "Models", "metric": "Metrics", "dataset": "Data sets",
               "selector": "Span selectors", "control": "Study controls",
               "tracker": "Experiment trackers"}


def _options_table(options_cls: type) -> list[str]:
    from debiasbench.plugin_system.options import describe_options

    rows = describe_options(options_cls)
    if not rows:
        return ["No options.", ""]
    lines = ["| option | type | default | help |", "|---|---|---|---|"]
    lines += [f"| `{r['name']}` | {_cell(r['type'])} | {_code(r['default'])} | {_cell(r['help'])} |" for r in rows]
    return lines + [""]


def _object_section(entry: Any, versions: dict[str, str]) -> list[str]:
    obj = entry.obj
    lines = [f"### `{entry.name}`", ""]
    facts = [f"plugin `{entry.provider}` ({versions.get(entry.provider, 'in-process')})"]
    if obj.aliases:
        facts.append("aliases " + ", ".join(f"`{a}`" for a in obj.aliases))
    if getattr(obj, "role", None):
        facts.append(f"role: {obj.role}")
    if getattr(obj, "needs_retain", False):
        facts.append("needs retain text")
    if getattr(obj, "needs_forget", True) is False:
        facts.append("reads no forget texts (no forget set needed)")
    lines += ["; ".join(facts) + ".", ""]
    description = obj.description or (type(obj).__doc__ or "").strip().split("\n\n")[0]
    if description:
        lines += [" ".join(description.split()), ""]
    if getattr(obj, "measures", None):
        lines += ["| measure | ideal | better | description |", "|---|---|---|---|"]
        lines += [f"| `{m.name}` | {_cell(m.ideal if m.ideal is not None else '–')} | {m.better} | {_cell(m.description)} |" for m in obj.measures]
        lines.append("")
    if getattr(obj, "datasets", None):
        lines += ["Reads: " + ", ".join(f"`{d}`" for d in obj.datasets), ""]
    if entry.kind == "dataset":
        lines += [f"- `{f.relpath}`" + (f" (sha256 `{f.sha256[:12]}…`)" if f.sha256 else "") for f in obj.files]
        if obj.files:
            lines.append("")
        if getattr(obj, "license", ""):
            lines += [f"Licence: {obj.license}", ""]
        if getattr(obj, "citation", ""):
            lines += [f"Citation: {' '.join(obj.citation.split())}", ""]
    if dataclasses.is_dataclass(obj.Options):
        lines += _options_table(obj.Options)
    return lines


def catalog_reference() -> str:
    """Everything the installed plugins register, kind by kind."""
    from debiasbench.plugin_system.interfaces import KINDS
    from debiasbench.plugin_system.loader import get_plugins
    from debiasbench.plugin_system.presets import known_presets, values_for

    loaded = get_plugins()
    versions = loaded.versions()
    lines = ["# Catalog", "",
             "Generated from the plugin registry of the environment that built these docs "
             "(`debiasbench plugins` and `debiasbench list KIND` show the same for yours).", ""]
    lines += ["| plugin | distribution | version | status |", "|---|---|---|---|"]
    lines += [f"| `{s.name}` | {_cell(s.distribution)} | {_cell(s.version)} | {_cell(s.status if not s.error else s.error)} |"
              for s in loaded.statuses]
    if not loaded.statuses:
        lines.append("| (none installed) | | | |")
    lines.append("")
    lines += ["## Presets", "", "Each plugin object declares what a preset means for it:", "",
              "| preset | what it does | declared values |", "|---|---|---|"]
    for name, description in known_presets(loaded.registry).items():
        declared = []
        for entry in loaded.registry.all_entries():
            values = values_for(entry.obj, name)
            parts = [f"{k}={v}" for k, v in values.options.items()] + ([f"limit={values.limit}"] if values.limit else [])
            if parts:
                declared.append(f"{entry.kind} `{entry.name}`: {', '.join(parts)}")
        lines.append(f"| `{name}` | {_cell(description)} | {_cell('; '.join(declared)) or 'defaults'} |")
    lines.append("")
    for kind in KINDS:
        entries = list(loaded.registry.entries(kind)) + (list(loaded.registry.families()) if kind == "metric" else [])
        lines += [f"## {KIND_TITLES[kind]}", ""]
        if not entries:
            lines += [f"No {KIND_TITLES[kind].lower()} are registered by the installed plugins.", ""]
        for entry in entries:
            lines += _object_section(entry, versions)
    return "\n".join(lines)


# --------------------------------------------------------------------------- mkdocs hook and script

PAGES: dict[str, Callable[[], str]] = {
    "reference/cli.md": cli_reference,
    "reference/results.md": results_reference,
    "reference/catalog.md": catalog_reference,
}


def on_files(files: Any, config: Any) -> Any:
    """MkDocs hook: add the generated pages to the site (nothing is written into docs/)."""
    from mkdocs.structure.files import File

    for uri, make in PAGES.items():
        existing = files.get_file_from_path(uri)
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, uri, content=make()))
    return files


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "site-reference"
    for uri, make in PAGES.items():
        target = out / uri
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(make(), encoding="utf-8")
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
