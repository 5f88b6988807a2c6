"""The trajectory probe behind ``run --eval-every``: the run's metrics that declare a ``probe``,
evaluated every N steps with the probe's option values on top of the run's own options."""

from __future__ import annotations

import dataclasses
from typing import Any

from debiasbench.analysis.statistics import distance
from debiasbench.domains import STUDY_DOMAINS
from debiasbench.orchestration.plan import Plan
from debiasbench.plugin_system.interfaces import DataLocatorProto, EvalContext, Metric, ModelHandle, StepInfo


class Probe:
    """Evaluates the probed metrics on the run's evaluated domains (the study's three by default)
    and appends one trajectory row per measure x domain, tagged with the step."""

    def __init__(self, plan: Plan, handle: ModelHandle, data: DataLocatorProto, run_id: str, rows: list[dict[str, Any]]):
        self.handle, self.rows, self.run_id = handle, rows, run_id
        domains = plan.eval_domains or STUDY_DOMAINS
        self.ctx = EvalContext(data=data, registry=plan.registry, domains=domains, seed=plan.config.seed)
        self.metrics: list[tuple[Metric, Any, int | None]] = []
        for planned in plan.metrics:
            probe = planned.metric.probe
            if probe is None:
                continue
            limit = probe.limit if probe.limit is not None else planned.limit
            self.metrics.append((planned.metric, dataclasses.replace(planned.options, **dict(probe.options)), limit))

    def __call__(self, info: StepInfo) -> None:
        was_training = self.handle.model.training
        self.handle.model.eval()
        try:
            for metric, options, limit in self.metrics:
                result = metric.evaluate(self.handle, dataclasses.replace(self.ctx, limit=limit), options)
                specs = {m.name: m for m in metric.measures}
                for row in result.rows:
                    spec = specs.get(row.measure)
                    ideal, better = (spec.ideal, spec.better) if spec else (None, "lower")
                    self.rows.append({
                        "run_id": self.run_id, "step": info.step, "epoch": info.epoch, "forget_loss": info.forget_loss,
                        "retain_loss": info.retain_loss, "domain": row.domain, "metric": metric.name, "measure": row.measure,
                        "value": row.value, "ideal": ideal, "distance": float(distance(row.value, ideal, better)),
                        "headline": bool(spec and spec.headline),
                    })
        finally:
            self.handle.model.train(was_training)
