"""The ``benign-ga`` control method (docs/statistics.md, "The controls"): gradient ascent on benign
text about the same groups, stopped once the model is exactly as damaged as the run it controls.

Any damage pulls likelihood-based bias scores toward chance, which looks like debiasing. This
control does damage of the same size (the same perplexity increase) with no hate in the text: if a
method's change in bias is no larger than this control's, the change is damage, not unlearning.

Texts: ``debiasbench_unlearn/benign_text.py`` (filtered neutral and positive HateCheck cases naming the groups). With
``identity_terms = false`` the identity-term tokens get no gradient, so the control damages the
model without unlearning the group's name; the report then separates "unlearning the name" from
"unlearning hate".

Matching. ``target_ppl_increase`` is the controlled run's perplexity increase on the run's own
held-out WikiText-2 text (its before and after figures). The control measures the same figure on
the same text (``UnlearnContext.measure``) every ``measure_every`` steps. When a measurement lands
within ``tolerance`` of the target it stops; when it overshoots, it bisects along the straight line
between the weights of the last measurement below the target and the current ones (at most
``bisections`` measurements) and keeps the point closest to the target. Ascent accelerates, so one
step can jump far past the target; the bisection, not dense measuring, gives the precision, and
each measurement costs a full perplexity evaluation, so they are kept few (about 4 to reach the
target at a quarter of the controlled run's steps apart, then 1 to 4 to bisect).
Only perplexity is looked at: no bias item is seen while choosing where to stop.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from debiasbench.api import (
    DebiasbenchError,
    ForgetText,
    ModelHandle,
    PresetValues,
    RunFacts,
    StepInfo,
    UnlearnContext,
    UnlearnOutcome,
    option,
)
from debiasbench.api.data import DataLocator
from debiasbench.api.training import LossMethod, TrainingOptions
from debiasbench_unlearn.benign_text import benign_texts, identity_free_spans
from debiasbench_unlearn.methods.ascent import EveryTokenAscent, GradientAscent


@dataclass
class BenignGAOptions(TrainingOptions):
    target_ppl_increase: float | None = option(
        None, "stop at this perplexity increase over the start (0.15 = +15%), measured on the run's perplexity text; "
              "none: the epochs / max_steps decide")
    tolerance: float = option(0.1, "a stop is matched when its increase is within this fraction of the target (0.1 = +-10%)")
    measure_every: int = option(4, "steps between measurements (an overshoot is bisected back)")
    bisections: int = option(6, "measurements spent bisecting back when a step overshoots the target (6: 1/64 of the segment)")
    identity_terms: bool = option(True, "also train on the tokens of the domain's identity terms (false: the name is left alone)")
    measure_metric: str = option("perplexity", "the run's metric whose headline figure the target is measured on")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.target_ppl_increase is not None and not (self.target_ppl_increase > 0 and math.isfinite(self.target_ppl_increase)):
            raise ValueError(f"target_ppl_increase must be a positive fraction, got {self.target_ppl_increase}")
        if not 0 < self.tolerance < 1:
            raise ValueError(f"tolerance must be a fraction between 0 and 1, got {self.tolerance}")
        if self.measure_every < 1 or self.bisections < 0:
            raise ValueError("measure_every must be 1 or more and bisections 0 or more")


def within(increase: float, target: float, tolerance: float) -> bool:
    """The matching rule: ``|increase - target| <= tolerance * target``."""
    return abs(increase - target) <= tolerance * target


class Steering:
    """The stopping rule: measures the perplexity increase, keeps the last weights below the
    target, and on an overshoot bisects back between them and the current weights."""

    def __init__(self, model: ModelHandle, options: Any, measure: Any) -> None:
        self.model, self.options, self.measure = model, options, measure
        self.target = float(options.target_ppl_increase)
        self.start = measure(options.measure_metric)
        self.every = options.measure_every
        # the start is the first point below the target; a LoRA run's adapters do not exist yet (and
        # copying every base weight of a large model would cost its size in memory), so its first
        # crossing can only be bisected back to a later measurement
        self.below: tuple[float, dict[str, Any]] | None = None
        if not getattr(options, "lora", False):
            self.below = (0.0, {n: p.detach().clone() for n, p in self._trainable().items()})
        self.increase: float | None = None
        self.alpha: float | None = None  # where on the bisection line it stopped (1 = the overshooting step)
        self.measurements, self.stopped = 1, False

    @property
    def matched(self) -> bool:
        return self.increase is not None and within(self.increase, self.target, self.options.tolerance)

    def _now(self) -> float:
        self.measurements += 1
        return self.measure(self.options.measure_metric) / self.start - 1.0

    def _trainable(self) -> dict[str, Any]:
        return {n: p for n, p in self.model.model.named_parameters() if p.requires_grad}

    def __call__(self, info: StepInfo) -> bool:
        """True when training should stop (matched, or bisected back after an overshoot)."""
        if info.step % self.every:
            return False
        increase = self._now()
        self.increase = increase
        if within(increase, self.target, self.options.tolerance):
            self.stopped = True
            return True
        if increase < self.target:
            self.below = (increase, {n: p.detach().clone() for n, p in self._trainable().items()})
            return False
        self._bisect(increase)
        self.stopped = True
        return True

    def _bisect(self, high: float) -> None:
        import torch

        if self.below is None:  # overshot at the first measurement: nothing below to go back to
            return
        low_value, low = self.below
        params = self._trainable()
        if set(params) - set(low):
            return
        high_weights = {n: p.detach().clone() for n, p in params.items()}
        lo, hi, best = 0.0, 1.0, (abs(high - self.target), 1.0, high)
        if abs(low_value - self.target) < best[0]:
            best = (abs(low_value - self.target), 0.0, low_value)
        with torch.no_grad():
            for _ in range(self.options.bisections):
                mid = (lo + hi) / 2
                for n, p in params.items():
                    p.copy_(low[n] + mid * (high_weights[n] - low[n]))
                value = self._now()
                if abs(value - self.target) < best[0]:
                    best = (abs(value - self.target), mid, value)
                if within(value, self.target, self.options.tolerance):
                    break
                lo, hi = (mid, hi) if value < self.target else (lo, mid)
            for n, p in params.items():
                p.copy_(low[n] + best[1] * (high_weights[n] - low[n]))
        self.alpha, self.increase = best[1], best[2]


class BenignGA(LossMethod):
    """Every-token gradient ascent on benign text about the group, stopped at a perplexity increase."""

    name = "benign-ga"
    description = "control: gradient ascent on benign text naming the group, stopped at a target perplexity increase"
    Options = BenignGAOptions
    Loss = EveryTokenAscent
    needs_retain = False
    # Up to 20 passes over the ~43 benign texts: the perplexity target, not the epochs, should stop it.
    presets: Mapping[str, PresetValues] = {"quick": PresetValues(options={"epochs": 20, "learning_rate": 4e-5})}

    def check_run(self, options: Any, run: RunFacts) -> None:
        if options.target_ppl_increase is not None and options.measure_metric not in run.metrics:
            raise DebiasbenchError(f"benign-ga's target is measured on {options.measure_metric!r}, which this run does not "
                                   f"evaluate (metrics: {', '.join(run.metrics) or 'none'}); add it to --metrics")
        if run.data is not None:
            benign_texts(run.data, run.domain)  # no benign text for the domain: one line, before the model loads

    def loss(self, options: Any) -> Any:
        return EveryTokenAscent() if options.identity_terms else GradientAscent()

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        domain = ctx.run.domain if ctx.run else (ctx.selector_ctx.domain if ctx.selector_ctx else "")
        data = (ctx.run.data if ctx.run and ctx.run.data else None) or (ctx.selector_ctx.data if ctx.selector_ctx else DataLocator())
        benign = benign_texts(data, domain)
        texts = [ForgetText(text=t, domain=domain, group="", source="benign",
                            spans=None if options.identity_terms else identity_free_spans(t, domain)) for t in benign.texts]
        replaced: dict[str, Any] = {"forget": texts}
        if not options.identity_terms:  # the annotated spans (everything but the identity terms) are the selection
            replaced["selector"] = ctx.registry.get("selector", "annotated")
            if ctx.selector_ctx is not None:
                replaced["selector_ctx"] = dataclasses.replace(ctx.selector_ctx, options={})
        steering = None
        if options.target_ppl_increase is not None:
            if ctx.measure is None:
                raise DebiasbenchError("benign-ga's target_ppl_increase needs the run's measure (debiasbench run); none was given")
            steering = Steering(model, options, ctx.measure)

            def on_step(info: StepInfo) -> bool:
                stop = bool(ctx.on_step(info))
                return steering(info) or stop

            replaced["on_step"] = on_step
        outcome = super().unlearn(model, options, dataclasses.replace(ctx, **replaced))
        outcome.info.update({"benign_texts": len(texts), "benign_candidates": benign.candidates,
                             "benign_dropped": dict(benign.dropped), "identity_terms": options.identity_terms})
        if steering is not None:
            outcome.info.update({"target_ppl_increase": steering.target, "reached_ppl_increase": steering.increase,
                                 "measurements": steering.measurements, "bisection_alpha": steering.alpha,
                                 "start_value": steering.start})
            if steering.matched:
                outcome.stop_reason = (f"{options.measure_metric} +{steering.increase:.2%} matches the target "
                                       f"+{steering.target:.2%} (tolerance {options.tolerance:.0%})")
            elif steering.stopped:
                outcome.stop_reason = (f"{options.measure_metric} overshot the target +{steering.target:.2%}: the closest "
                                       f"point found is +{steering.increase:.2%}")
                outcome.info["target_not_matched"] = steering.target
            else:
                outcome.info["target_not_reached"] = steering.target
        return outcome
