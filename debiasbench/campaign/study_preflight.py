"""A study's preflight: everything the report and the controls will need, checked before any run.

A study that fails at its report after hours of runs loses those hours' attention, if not the runs;
so every fact that decides whether the report can be written is checked here, once every point is
planned (names, options, domains: :func:`debiasbench.campaign.study.plan_study`). ``study``
runs these checks before starting anything, ``study --dry-run`` runs exactly the same ones.

Each check is a small function of :class:`Preflight` that raises ``DebiasbenchError`` (one line);
add one to :data:`CHECKS` to check one more thing.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from debiasbench.domains import OVERALL
from debiasbench.errors import DebiasbenchError

if TYPE_CHECKING:  # pragma: no cover
    from debiasbench.run.plan import Plan
    from debiasbench.campaign.study_model import Study
    from debiasbench.plugin_system.registry import Registry


@dataclass
class Preflight:
    """What the checks look at: the study and the plan of every point that can be planned now."""

    study: Study
    registry: Registry
    plans: list[Plan]
    notes: list[str] = field(default_factory=list)  # what the study will do that the user may not expect (not errors)

    def bad(self, message: str) -> DebiasbenchError:
        return DebiasbenchError(f"study file {self.study.source}: {message}")

    def measures(self, per_item: bool = False) -> list[str]:
        """Every measure the grid's metrics report (as the metric rows name them); ``per_item``: only
        those computed from per-item rows (the report's paired statistics need them)."""
        return list(dict.fromkeys(m.name for plan in self.plans for pm in plan.metrics for m in pm.metric.measures
                                  if m.aggregate is not None or not per_item))

    def method_plans(self) -> list[Plan]:
        return [p for p in self.plans if p.config.method]


def _close(value: str, known: list[str]) -> str:
    close = difflib.get_close_matches(value, known, n=1)
    return f"did you mean {close[0]!r}?" if close else f"the grid's metrics report: {', '.join(known) or 'nothing'}"


def check_report_dir(pf: Preflight) -> None:
    """The report folder can be written: a folder (not a file), writable, its links resolving; an
    object store is probed with a marker write."""
    from debiasbench.run.plan import check_writable
    from debiasbench.results.storage import open_store
    from debiasbench.runtime.paths import check_resolves, write_refused

    where = pf.study.report_dir
    store = open_store(where)
    if not store.local:
        store.check_writable()
        return
    path = Path(store.location)
    check_resolves(path, "[study] report_dir")
    if path.exists() and not path.is_dir():
        raise pf.bad(f"[study] report_dir {path} is a file, not a folder; point report_dir at a folder")
    try:
        check_writable(path, "[study] report_dir")
    except DebiasbenchError as exc:
        raise pf.bad(str(exc)) from None
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    refused = write_refused(existing)
    if refused is not None:
        raise pf.bad(f"[study] report_dir {path} cannot be written: {existing} refuses new files ({refused}); "
                     "choose another report_dir")


def check_family_measures(pf: Preflight) -> None:
    """Each family measure is reported by one of the grid's metrics (else the family would be empty)."""
    known = pf.measures()
    per_item = pf.measures(per_item=True)
    for measure in pf.study.family.measures:
        if measure not in known:
            raise pf.bad(f"[study.family] measure {measure!r} is reported by none of the grid's metrics; {_close(measure, known)}")
        if measure not in per_item:
            raise pf.bad(f"[study.family] measure {measure!r} is not a per-item measure (its metric keeps no item rows, so its "
                         f"changes cannot be paired); per-item measures of the grid: {', '.join(per_item) or 'none'}")


def check_family_domains(pf: Preflight) -> None:
    """Each family domain is evaluated by a metric of a family measure (unknown when a metric
    evaluates its own default domains: then nothing is checked)."""
    family = pf.study.family
    if family.domains is None:
        return
    evaluated: set[str] = {OVERALL}
    for plan in pf.plans:
        for pm in plan.metrics:
            if not {m.name for m in pm.metric.measures} & set(family.measures):
                continue
            domains = pm.domains or plan.eval_domains
            if domains is None:
                return  # the metric's own default domains: not known before it reads its data
            evaluated.update(domains)
    for domain in family.domains:
        if domain not in evaluated:
            raise pf.bad(f"[study.family] domain {domain!r} is never evaluated (eval_domains: {', '.join(sorted(evaluated - {OVERALL}))}); "
                         "add it to eval_domains or drop it from the family")


def check_controls(pf: Preflight) -> None:
    """Each control gets what it needs from every run it controls (e.g. benign-ga: the perplexity metric, benign text)."""
    from debiasbench.campaign.study_model import method_label
    from debiasbench.plugin_system.interfaces import RunFacts
    from debiasbench.data.locator import DataLocator

    for name, labels in pf.study.controls.items():
        control = pf.registry.control(name)
        for plan in pf.method_plans():
            config = plan.config
            if method_label(config) not in labels:
                continue
            facts = plan.run_facts or RunFacts(
                domain=config.domain or "", preset=config.preset, eval_every=config.eval_every,
                forget_set=plan.forget_set.name if plan.forget_set else "",
                probed_metrics=tuple(p.metric.name for p in plan.metrics if p.metric.probe is not None),
                data=DataLocator(config.data_dir, config.cache_dir), metrics=tuple(p.metric.name for p in plan.metrics),
                heldout_seed=config.heldout_seed, dev_fraction=config.dev_fraction)
            reason = control.check_run(facts)
            if reason is not None:
                raise pf.bad(f"control {name!r} cannot control {method_label(config)}: {reason}")


def check_tradeoff_measure(pf: Preflight) -> None:
    """``tradeoff_measure`` is a measure name the grid's metrics report."""
    measure: Any = pf.study.tradeoff_measure
    if measure is None:
        return
    if not isinstance(measure, str) or not measure:
        raise pf.bad(f"[study] tradeoff_measure must be a measure name such as \"perplexity.wikitext2\", got {measure!r}")
    known = pf.measures()
    if measure not in known:
        raise pf.bad(f"[study] tradeoff_measure {measure!r} is reported by none of the grid's metrics; {_close(measure, known)}")


def check_item_counts(pf: Preflight) -> None:
    """A note when the family's cells will have fewer test items than a paired interval needs: the
    report leaves such cells out, and without this line a small study's report is silently empty."""
    from debiasbench.statistics.paired import MIN_ITEMS

    for plan in pf.method_plans():
        for pm in plan.metrics:
            if pm.limit is None or not {m.name for m in pm.metric.measures} & set(pf.study.family.measures):
                continue
            test_items = int(pm.limit * (1 - plan.config.dev_fraction))
            if test_items < MIN_ITEMS:
                pf.notes.append(f"eval limit {pm.limit} of {pm.metric.name} leaves about {test_items} test items a cell "
                                f"(dev_fraction {plan.config.dev_fraction:g}), fewer than the {MIN_ITEMS} a paired interval needs: "
                                "the report will leave those cells out; raise eval_limit")
                return


def check_relearn_texts(pf: Preflight) -> None:
    """Every source domain relearned (``relearn_steps``) has benign retain text in its forget set:
    else each of its runs would be refused, one by one, after the study started."""
    from debiasbench.run.execute import load_benign
    from debiasbench.data.locator import DataLocator

    seen: set[tuple[str, str]] = set()
    for plan in pf.method_plans():
        key = (plan.forget_set.name if plan.forget_set else "", plan.config.domain or "")
        if plan.config.relearn_steps and key not in seen:
            seen.add(key)
            try:
                load_benign(plan, DataLocator(plan.config.data_dir, plan.config.cache_dir))
            except DebiasbenchError as exc:
                raise pf.bad(str(exc)) from None


def check_power(pf: Preflight) -> None:
    """The design reaches the ``[study.power]`` MDE targets from its item counts (else which cells miss)."""
    from debiasbench.campaign.study_power import missed_targets, plan_pooled, plan_power

    if getattr(pf.study, "power", None) is None:
        return
    cells = plan_power(pf.study, pf.registry)
    missed = missed_targets(pf.study, cells, plan_pooled(pf.study, cells))
    if missed:
        raise pf.bad(f"[study.power] targets cannot be met by these item counts: {'; '.join(missed)}; "
                     "add items, domains or seeds, or relax the targets")


CHECKS: list[Callable[[Preflight], None]] = [check_report_dir, check_family_measures, check_family_domains, check_controls,
                                             check_tradeoff_measure, check_item_counts, check_relearn_texts, check_power]
"""The preflight, in order: the first failing check is the one line the user sees."""


def run_preflight(study: Study, registry: Registry, plans: list[Plan]) -> Preflight:
    """Every check of :data:`CHECKS`, or the first failure's one line. The checks parse data files
    (benign text, item counts), which the parser caches: into a temporary cache, so a refused
    study leaves nothing behind."""
    import os
    import tempfile

    preflight = Preflight(study, registry, plans)
    saved = os.environ.get("DEBIASBENCH_CACHE")
    with tempfile.TemporaryDirectory(prefix="debiasbench-preflight-") as tmp:
        os.environ["DEBIASBENCH_CACHE"] = tmp
        try:
            for check in CHECKS:
                check(preflight)
        finally:
            if saved is None:
                os.environ.pop("DEBIASBENCH_CACHE", None)
            else:
                os.environ["DEBIASBENCH_CACHE"] = saved
    return preflight
