"""The ``benign-ga`` control (SPEC section 9): gradient ascent on every token of neutral text
about the same groups, stopped once the model is as damaged as the run it controls.

Any damage pulls likelihood-based bias scores toward chance, which looks like debiasing. This
control does damage of the same size (the same perplexity increase) with no hate in the text: if
a method's change in bias is no larger than this control's, the change is damage, not unlearning.

The neutral text is the forget set's retain text for the domain (HateCheck: non-hateful cases
about the group, less those that quote or refer to a hateful case). The stopping rule reads the
run's trajectory probe (``--eval-every``): after each probe, the headline figure of
``probe_metric`` is compared with its value at step 0, and training stops at the first probe
where ``value / start - 1 >= target_ppl_increase``. ``debiasbench study`` sets the target from
the controlled run's perplexity change; by hand it is e.g. ``-o target_ppl_increase=0.15``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from debiasbench.api import (
    DebiasbenchError,
    ForgetText,
    LossMethod,
    ModelHandle,
    PresetValues,
    RunFacts,
    StepInfo,
    TrainingOptions,
    UnlearnContext,
    UnlearnOutcome,
    option,
)
from debiasbench_unlearn.methods import EveryTokenAscent


@dataclass
class BenignGAOptions(TrainingOptions):
    target_ppl_increase: float | None = option(
        None, "stop once the probe's perplexity exceeds its step-0 value by this fraction (0.15 = +15%; needs --eval-every); "
              "none: the epochs / max_steps decide")
    probe_metric: str = option("perplexity", "the probed metric whose headline figure the target is measured on")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.target_ppl_increase is not None and not (self.target_ppl_increase > 0 and math.isfinite(self.target_ppl_increase)):
            raise ValueError(f"target_ppl_increase must be a positive fraction, got {self.target_ppl_increase}")


def probe_increase(rows: Sequence[Mapping[str, Any]], metric: str) -> float | None:
    """``last / first - 1`` of the headline figure of ``metric`` in the trajectory rows, on the first
    domain it reports; None before two probes."""
    mine = [r for r in rows if r.get("metric") == metric and r.get("headline")]
    if not mine:
        return None
    domain = mine[0]["domain"]
    values = [r["value"] for r in mine if r["domain"] == domain]
    if len(values) < 2 or not values[0]:
        return None
    return float(values[-1] / values[0] - 1.0)


class BenignGA(LossMethod):
    """Every-token gradient ascent on the retain (neutral) texts, stopped at a perplexity increase."""

    name = "benign-ga"
    description = "control: gradient ascent on neutral text about the group, stopped at a target perplexity increase"
    Options = BenignGAOptions
    Loss = EveryTokenAscent
    needs_retain = True
    # Up to 10 passes over the retain texts: the perplexity target, not the epochs, should stop it.
    presets: Mapping[str, PresetValues] = {"quick": PresetValues(options={"epochs": 10, "learning_rate": 4e-5})}

    def check_run(self, options: Any, run: RunFacts) -> None:
        if options.target_ppl_increase is None:
            return
        if not run.eval_every:
            raise DebiasbenchError("benign-ga's target_ppl_increase is measured by the trajectory probe; add --eval-every N")
        if options.probe_metric not in run.probed_metrics:
            raise DebiasbenchError(f"benign-ga's target is measured on {options.probe_metric!r}, which this run does not probe "
                                   f"(probed: {', '.join(run.probed_metrics) or 'none'}); add it to --metrics")

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        domain = ctx.forget[0].domain if ctx.forget else (ctx.selector_ctx.domain if ctx.selector_ctx else "")
        neutral = [ForgetText(text=t, domain=domain, group="", source="retain") for t in ctx.retain]
        reached: list[float] = []

        def on_step(info: StepInfo) -> bool:
            stop = bool(ctx.on_step(info))  # runs the probe on its steps
            increase = probe_increase(ctx.trajectory, options.probe_metric)
            if options.target_ppl_increase is not None and increase is not None and increase >= options.target_ppl_increase:
                reached.append(increase)
                return True
            return stop

        outcome = super().unlearn(model, options, dataclasses.replace(ctx, forget=neutral, on_step=on_step))
        outcome.info["neutral_texts"] = len(neutral)
        final = probe_increase(ctx.trajectory, options.probe_metric)
        if final is not None:
            outcome.info["probe_ppl_increase"] = final
        if reached:
            outcome.stop_reason = f"probe {options.probe_metric} +{reached[0]:.1%} >= target +{options.target_ppl_increase:.1%}"
        elif options.target_ppl_increase is not None:
            outcome.info["target_not_reached"] = options.target_ppl_increase
        return outcome
