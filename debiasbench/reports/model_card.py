"""The Hugging Face model card (``README.md``) written beside a model saved by ``run --save-model``.

A model pushed to the Hub from such a folder says what was unlearned, with what, and what it did:
YAML metadata built with ``huggingface_hub``'s :class:`ModelCardData` (base model, library, tags,
data sets, and a ``model-index`` of the after figures with the before figures beside them), then
prose: method and loss, forget set, span selector, options, seed, steps, the paired changes with
their 95 % intervals (the figures of the run summary), utility and the damage line, the data sets'
licences and what their authors ask. :func:`card_text` is pure (records and facts in, text out);
:func:`card_facts` reads the plan's plugins once (docs/model-card.md).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from debiasbench.reports.damage import damage_line, find_damage, num
from debiasbench.statistics.paired import paired_cell
from debiasbench.run.command_line import run_command_line
from debiasbench.run.plan import Plan
from debiasbench.run.records import RunRecords

CARD_FILE = "README.md"
"""The card's name in the saved folder: the file the Hub renders as the model's page."""


@dataclass(frozen=True)
class DataFacts:
    """One data set the run read, as its plugin declares it."""

    name: str
    role: str  # forget | eval
    description: str = ""
    license: str = ""
    hub_id: str = ""
    citation: str = ""
    notice: str = ""


@dataclass(frozen=True)
class CardFacts:
    """What the card says that the run's records do not hold (names, descriptions, licences, specs)."""

    method_description: str = ""
    selector: str | None = None
    selector_description: str = ""
    datasets: tuple[DataFacts, ...] = ()
    metric_data: dict[str, str] = field(default_factory=dict)  # metric -> the data set it reads (first)
    measures: dict[str, Any] = field(default_factory=dict)  # measure name -> MeasureSpec


@dataclass(frozen=True)
class Cell:
    """One measure on one domain, before and after: paired on the test items where the measure has per-item rows."""

    measure: str
    domain: str
    metric: str
    n: int
    before: float
    after: float
    paired: Any = None  # statistics.paired.CellStats, or None (no per-item rows)


def card_facts(plan: Plan) -> CardFacts:
    """The facts of ``plan``'s method, selector, metrics and data sets, from its plugins."""
    registry = plan.registry
    used = [plan.forget_set] if plan.forget_set is not None and plan.method is not None and plan.method.needs_forget else []
    metric_data = {}
    for planned in plan.metrics:
        for name in planned.metric.datasets:
            entry = registry.find("dataset", name)
            if entry is not None:
                used.append(entry.obj)
                metric_data.setdefault(planned.metric.name, entry.obj.name)
    datasets = tuple({d.name: DataFacts(d.name, d.role, d.description, d.license, getattr(d, "hub_id", ""), d.citation,
                                        getattr(d, "notice", "")) for d in used}.values())
    selector = getattr(plan, "selector", None)
    return CardFacts(method_description=_described(plan.method),
                     selector=selector.name if selector is not None else None,
                     selector_description=_described(selector),
                     datasets=datasets, metric_data=metric_data,
                     measures={m.name: m for p in plan.metrics for m in p.metric.measures})


def _described(obj: Any) -> str:
    """A plugin object's description, else the first line of its class's docstring."""
    import inspect

    if obj is None:
        return ""
    return obj.description or (inspect.getdoc(type(obj)) or "").split("\n", 1)[0]


def saved_model_card(plan: Plan, records: RunRecords) -> str:
    """The card of the model ``plan`` saved: what ``execute`` writes beside it as ``README.md``."""
    return card_text(records, card_facts(plan))


def cells(records: RunRecords, facts: CardFacts) -> list[Cell]:
    """Every headline measure x domain the run evaluated before and after, in measure then domain order."""
    stages: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in records.metric_rows:
        spec = facts.measures.get(row["measure"])
        if (spec is None or spec.headline) and row.get("headline", True):
            stages.setdefault((row["measure"], row["domain"]), {})[row["stage"]] = row
    items = records.items.to_pylist() if records.items is not None else None
    out = []
    for (measure, domain), by_stage in sorted(stages.items(), key=lambda kv: (kv[0][0], kv[0][1] != "all", kv[0][1])):
        before, after = by_stage.get("before"), by_stage.get("after")
        if before is None or after is None:
            continue
        paired = paired_cell(items, measure, domain, after)
        n, b, a = (paired.n, paired.before, paired.after) if paired is not None else (after["n"], before["value"], after["value"])
        if b is not None and a is not None and math.isfinite(b) and math.isfinite(a):
            out.append(Cell(measure, domain, after["metric"], int(n), float(b), float(a), paired))
    return out


def card_data(records: RunRecords, facts: CardFacts, found: list[Cell]) -> Any:
    """The YAML metadata: a ``ModelCardData`` whose ``eval_results`` are one per measure and domain."""
    from huggingface_hub import EvalResult, ModelCardData

    run, config = records.run_row, _config(records)
    info = config.get("resolved", {}).get("model_info", {}) or {}
    by_name = {d.name: d for d in facts.datasets}
    results = []
    for cell in found:
        spec = facts.measures.get(cell.measure)
        data = by_name.get(facts.metric_data.get(cell.metric, ""))
        args: dict[str, Any] = {"before": _round(cell.before), "n": cell.n, "domain": cell.domain,
                                "items": "held-out test split" if cell.paired is not None else "all kept items"}
        if cell.paired is not None:
            args.update(change=_round(cell.paired.delta), change_ci95=[_round(x) for x in cell.paired.delta_ci])
            if spec is not None and spec.ideal is not None:
                args.update(distance_change=_round(cell.paired.d_delta), distance_change_ci95=[_round(x) for x in cell.paired.d_delta_ci],
                            p=_round(cell.paired.p))
        results.append(EvalResult(
            task_type="text-generation", task_name="utility" if _is_utility(spec) else "social bias",
            dataset_type=(data.hub_id or data.name) if data else cell.metric, dataset_name=data.name if data else cell.metric,
            metric_type=cell.measure, metric_name=f"{cell.measure} ({cell.domain}), after unlearning",
            metric_value=_round(cell.after), metric_config=cell.domain, metric_args=args))
    hub_ids = list(dict.fromkeys(d.hub_id for d in facts.datasets if d.hub_id))
    tags = ["debiasbench", "unlearning", "bias", run["method"], f"unlearned-{run['source_domain']}"]
    return ModelCardData(base_model=info.get("hub_id") or None, library_name="transformers", pipeline_tag="text-generation",
                         license=info.get("license") or None, tags=tags, datasets=hub_ids or None,
                         model_name=_model_name(records) if results else None, eval_results=results or None)


def card_text(records: RunRecords, facts: CardFacts, damage: str | None = None) -> str:
    """The whole card: ``---`` YAML ``---`` then Markdown. ``damage``: the damage line, or None to
    compute it from the records and the measures' declared thresholds."""
    found = cells(records, facts)
    yaml = card_data(records, facts, found).to_yaml()
    if damage is None:
        specs = {k: v for k, v in facts.measures.items() if getattr(v, "damage", None) is not None}
        damage = damage_line(find_damage(records.metric_rows, specs), records.run_id) or (
            "no utility measure moved the worse way past its damage threshold (docs/damage.md)" if specs else
            "not checked: the run evaluated no utility measure with a damage threshold (add perplexity, blimp or lambada)")
    sections = [_title(records), _made(records, facts), _figures(found, facts, damage, records), _data(facts), _reproduce(records)]
    return f"---\n{yaml}\n---\n\n" + "\n\n".join(s for s in sections if s) + "\n"


def _config(records: RunRecords) -> dict[str, Any]:
    return json.loads(records.run_row.get("config") or "{}")


def _round(x: float) -> float:
    return float(f"{x:.6g}") if math.isfinite(x) else x


def _model_name(records: RunRecords) -> str:
    run = records.run_row
    base = str(run["model"]).rstrip("/").rsplit("/", 1)[-1]
    return f"{base}-{run['method']}-{run['source_domain']}"


def _title(records: RunRecords) -> str:
    run, config = records.run_row, _config(records)
    info = config.get("resolved", {}).get("model_info", {}) or {}
    base = f"[{info['hub_id']}](https://huggingface.co/{info['hub_id']})" if info.get("hub_id") else f"`{run['model']}`"
    origin = f" ({info['weights']})" if info.get("weights") else ""
    return (f"# {_model_name(records)}\n\n{base}{origin} after **{run['method']}** unlearning of hate speech aimed at the "
            f"**{run['source_domain']}** domain (forget set `{run['forget_set']}`), made and measured with debiasbench "
            f"(run `{run['run_id']}`). A research artefact for studying bias unlearning, not a model certified free of bias.")


def _made(records: RunRecords, facts: CardFacts) -> str:
    run, config = records.run_row, _config(records)
    resolved = config.get("resolved", {})
    options = resolved.get("method_options") or {}
    lines = ["## How it was made", "",
             f"- **Method**: `{run['method']}`: {facts.method_description or 'see `debiasbench list methods`'}",
             f"- **Forget set**: `{run['forget_set']}`, domain `{run['source_domain']}`"
             + (f", split `{config['split']}`" if config.get("split") else "") + f": {run['forget_texts']} texts"]
    if facts.selector:
        selector_options = resolved.get("selector_options") or {}
        lines.append(f"- **Span selector**: `{facts.selector}` ({facts.selector_description})"
                     + (f", options {_pairs(selector_options)}" if selector_options else "")
                     + (f": {run['selected_tokens']} of {run['total_tokens']} forget tokens selected" if run.get("total_tokens") else ""))
    lora = resolved.get("lora") or {}
    lines += [f"- **Options**: {_pairs(options) or 'defaults'}",
              f"- **Weights trained**: {'LoRA adapters, merged' if lora.get('applied') else 'all weights'}"
              + (f" ({lora['reason']})" if lora.get("reason") else ""),
              f"- **Seed** {run['seed']}; **steps** {run['steps']} (stopped: {run['stop_reason']}); preset `{run['preset']}`; "
              f"dtype {run['dtype']}; held-out seed {config.get('heldout_seed', 0)}",
              f"- **Software**: {_pairs(json.loads(run.get('versions') or '{}'))}"]
    return "\n".join(lines)


def _figures(found: list[Cell], facts: CardFacts, damage: str, records: RunRecords) -> str:
    out = ["## Bias and utility, before and after", "",
           "Every figure is on the held-out test items of the run's dev/test split where the measure has per-item rows "
           "(else on all its items). d = change in distance to the ideal (negative = closer) with its paired 95 % "
           "interval and p (McNemar or crossed t); Δ = after − before with its paired 95 % interval."]
    preset = records.run_row.get("preset")
    if preset != "full":
        out[-1] += (f" Preset `{preset}`: each benchmark was evaluated on a subset, so these figures are indicative, not the "
                    "benchmarks' own (the `full` preset evaluates every item).")
    for title, utility in (("Bias", False), ("Utility", True)):
        chosen = [c for c in found if _is_utility(facts.measures.get(c.measure)) == utility]
        if not chosen:
            continue
        out += ["", f"### {title}", "", "| measure | domain | n | before | after | Δ (95 % CI) | d (95 % CI) | p | ideal |",
                "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for c in chosen:
            spec, s = facts.measures.get(c.measure), c.paired
            delta = f"{c.after - c.before:+.2f}" + (f" ({s.delta_ci[0]:+.2f} to {s.delta_ci[1]:+.2f})" if s is not None else "")
            has_ideal = s is not None and spec is not None and spec.ideal is not None
            d = f"{s.d_delta:+.2f} ({s.d_delta_ci[0]:+.2f} to {s.d_delta_ci[1]:+.2f})" if has_ideal else ""
            p = (f"{s.p:.2g}" if s.p >= 0.001 else "<0.001") if has_ideal else ""
            ideal = "" if spec is None else (f"{spec.ideal:g}" if spec.ideal is not None else f"{spec.better} is better")
            out.append(f"| {c.measure} | {c.domain} | {c.n} | {num(c.before)} | {num(c.after)} | {delta} | {d} | {p} | {ideal} |")
    if not found:
        out += ["", "No measure was evaluated both before and after."]
    out += ["", f"**Damage**: {damage}"]
    notes = json.loads(records.run_row.get("notes") or "[]")
    out += ["", "Notes of the metrics:", "", *[f"- {n}" for n in notes]] if notes else []
    return "\n".join(out)


def _data(facts: CardFacts) -> str:
    if not facts.datasets:
        return ""
    out = ["## Data and licences", "", "| data set | used as | Hub | licence |", "| --- | --- | --- | --- |"]
    for d in facts.datasets:
        role = "forget set (trained on)" if d.role == "forget" else "evaluation only"
        out.append(f"| {d.name}: {d.description} | {role} | {d.hub_id or '-'} | {d.license or 'not declared'} |")
    out += ["", "The weights keep the base model's licence; the data sets' licences apply to the data, which is not "
            "redistributed here. Citations:", "", *[f"- {d.name}: {d.citation}" for d in facts.datasets if d.citation]]
    notices = [d for d in facts.datasets if d.notice]
    if notices:
        out += ["", "### What the data sets' authors ask", "", *[f"- **{d.name}**: {d.notice}" for d in notices]]
    return "\n".join(out)


def _reproduce(records: RunRecords) -> str:
    config = _config(records)
    config.pop("resolved", None)
    return ("## Reproduce\n\n```bash\n" + run_command_line(config) + "\n```\n\n"
            f"Configuration hash `{records.run_row['config_hash']}`; the full configuration and every data file's sha256 are "
            "in `debiasbench-manifest.json` beside this card.")


def _is_utility(spec: Any) -> bool:
    return spec is not None and (bool(spec.utility) or spec.ideal is None)


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"`{k}={v}`" for k, v in values.items() if v is not None)
