"""The trajectory probe behind ``run --eval-every``: the run's metrics that declare a ``probe``,
evaluated every N steps with the probe's option values on top of the run's own options. Each
trajectory value is computed on the dev items (SPEC section 9: choices such as the best step are
made on dev, figures are reported on test), where the measure aggregates per-item rows."""

from __future__ import annotations

import dataclasses
from typing import Any

from debiasbench.analysis.paired import figure, side, split_of
from debiasbench.analysis.statistics import distance
from debiasbench.domains import STUDY_DOMAINS
from debiasbench.orchestration.plan import Plan
from debiasbench.plugin_system.interfaces import DataLocatorProto, EvalContext, Metric, ModelHandle, StepInfo


class Probe:
    """Evaluates the probed metrics on the run's evaluated domains (the study's three by default)
    and appends one trajectory row per measure x domain, tagged with the step."""

    def __init__(self, plan: Plan, handle: ModelHandle, data: DataLocatorProto, run_id: str, rows: list[dict[str, Any]]):
        self.handle, self.rows, self.run_id = handle, rows, run_id
        self.heldout_seed, self.dev_fraction = plan.config.heldout_seed, plan.config.dev_fraction
        domains = plan.eval_domains or STUDY_DOMAINS
        self.ctx = EvalContext(data=data, registry=plan.registry, domains=domains, seed=plan.config.heldout_seed)
        self.metrics: list[tuple[Metric, Any, int | None]] = []
        for planned in plan.metrics:
            probe = planned.metric.probe
            if probe is None:
                continue
            limit = probe.limit if probe.limit is not None else planned.limit
            self.metrics.append((planned.metric, dataclasses.replace(planned.options, **dict(probe.options)), limit))

    def _dev_items(self, metric: str, items: Any) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """The result's per-item rows on the dev split, by (measure, domain): choices made from the
        trajectory (its best step) must not look at the test items the run reports."""
        if items is None:
            return {}
        rows = items.to_pylist()
        splits = split_of(metric, [r["item"] for r in rows], self.heldout_seed, self.dev_fraction)
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

    def __call__(self, info: StepInfo) -> None:
        was_training = self.handle.model.training
        self.handle.model.eval()
        try:
            for metric, options, limit in self.metrics:
                result = metric.evaluate(self.handle, dataclasses.replace(self.ctx, limit=limit), options)
                specs = {m.name: m for m in metric.measures}
                dev = self._dev_items(metric.name, result.items)
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
