"""The trajectory probe behind ``run --eval-every``: the run's metrics that declare a ``probe``,
evaluated every N steps with the probe's option values on top of the run's own options. Each
trajectory value is computed on the dev items (docs/statistics.md: choices such as the best step are
made on dev, figures are reported on test), where the measure aggregates per-item rows."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from debiasbench.statistics.paired import figure, side, split_of, split_units
from debiasbench.statistics.distance import distance
from debiasbench.domains import STUDY_DOMAINS
from debiasbench.run.evaluation import Evaluated, evaluate
from debiasbench.run.plan import Plan, PlannedMetric
from debiasbench.plugin_system.interfaces import DataLocatorProto, EvalContext, ModelHandle, StepInfo


class Probe:
    """Evaluates the probed metrics on the run's evaluated domains (the study's three by default)
    and appends one trajectory row per measure x domain, tagged with the step."""

    def __init__(self, plan: Plan, handle: ModelHandle, data: DataLocatorProto, run_id: str, rows: list[dict[str, Any]],
                 baselines: Path | None = None):
        self.handle, self.rows, self.run_id = handle, rows, run_id
        self.heldout_seed, self.dev_fraction = plan.config.heldout_seed, plan.config.dev_fraction
        self.versions, self.baselines = plan.plugins.versions(), baselines
        domains = plan.eval_domains or STUDY_DOMAINS
        self.ctx = EvalContext(data=data, registry=plan.registry, domains=domains, seed=plan.config.heldout_seed)
        self.planned = plan.metrics  # as the run evaluates them (for reuse at the last step)
        self.metrics: list[PlannedMetric] = []
        for planned in plan.metrics:
            probe = planned.metric.probe
            if probe is None:
                continue
            limit = probe.limit if probe.limit is not None else planned.limit
            self.metrics.append(dataclasses.replace(planned, options=dataclasses.replace(planned.options, **dict(probe.options)),
                                                    limit=limit, domains=None))

    def _dev_items(self, metric: str, items: Any, by_group: bool = False) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """The result's per-item rows on the dev split, by (measure, domain): choices made from the
        trajectory (its best step) must not look at the test items the run reports."""
        if items is None:
            return {}
        rows = items.to_pylist()
        units = split_units([r["item"] for r in rows], [r.get("group") for r in rows], by_group)
        splits = split_of(metric, units, self.heldout_seed, self.dev_fraction)
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r, split in zip(rows, splits):
            if split == "dev":
                out.setdefault((r["measure"], r["domain"]), []).append(r)
        return out

    @staticmethod
    def _on_dev(dev: dict[tuple[str, str], list[dict[str, Any]]], row: Any, spec: Any) -> tuple[float, str]:
        """The row's figure on its dev items where its measure aggregates items, else the row's own value."""
        mine = dev.get((row.measure, row.domain), [])
        if spec is None or spec.aggregate is None or len(mine) < 1:
            return row.value, "all"
        return figure(side(mine), spec.aggregate).value(), "dev"

    def _reusable(self, planned: PlannedMetric, reuse: list[Evaluated] | None, reuse_ctx: EvalContext | None) -> Evaluated | None:
        """The evaluation of the same metric under exactly the probe's protocol (options, items, seed), if one was made."""
        for ev in reuse or ():
            if ev.metric is not planned.metric or reuse_ctx is None:
                continue
            mine = planned.metric.protocol_key(dataclasses.replace(self.ctx, limit=planned.limit), planned.options)
            theirs_planned = next((p for p in self.planned if p.metric is ev.metric), None)
            if theirs_planned is None:
                continue
            theirs_ctx = dataclasses.replace(reuse_ctx, limit=theirs_planned.limit, domains=theirs_planned.domains or reuse_ctx.domains)
            if ev.metric.protocol_key(theirs_ctx, ev.options) == mine:
                return ev
        return None

    def __call__(self, info: StepInfo, reuse: list[Evaluated] | None = None, reuse_ctx: EvalContext | None = None) -> None:
        was_training = self.handle.model.training
        self.handle.model.eval()
        try:
            # Step 0 is the unmodified model: its probe is the same for every run of the model and
            # is cached with the baselines (cache_key covers the probe's options). The last step may
            # reuse the after-evaluation when that was made under the probe's very protocol.
            cache = self.baselines if info.step == 0 else None
            results = []
            for planned in self.metrics:
                ev = self._reusable(planned, reuse, reuse_ctx)
                results.append(ev if ev is not None else evaluate(self.handle, [planned], self.ctx, self.versions, cache, intervals=False)[0])
            for evaluated in results:
                metric, result = evaluated.metric, evaluated.result
                specs = {m.name: m for m in metric.measures}
                dev = self._dev_items(metric.name, result.items, getattr(metric, "split_by_group", False))
                for row in result.rows:
                    spec = specs.get(row.measure)
                    ideal, better = (spec.ideal, spec.better) if spec else (None, "lower")
                    value, split = self._on_dev(dev, row, spec)
                    self.rows.append({
                        "run_id": self.run_id, "step": info.step, "epoch": info.epoch, "forget_loss": info.forget_loss,
                        "retain_loss": info.retain_loss, "domain": row.domain, "metric": metric.name, "measure": row.measure,
                        "value": value, "ideal": ideal, "distance": float(distance(value, ideal, better)),
                        "headline": bool(spec and spec.headline), "split": split,
                    })
        finally:
            self.handle.model.train(was_training)
