"""The study's two controls (SPEC section 9), derived from each run they control.

``random-tokens`` separates "these tokens" from "this many tokens": the same method and texts,
with as many randomly chosen tokens per text as the method's selector picked. ``benign-ga``
separates unlearning hate from damaging the model: gradient ascent on neutral text about the
same groups, stopped at the controlled run's perplexity increase (as its trajectory probe
measured it, so both are read on the same probe windows).
"""

from __future__ import annotations

from typing import ClassVar

from debiasbench.api import Control, ControlArm, ControlledPoint, ControlledResult, DebiasbenchError, NoOptions, RunFacts
from debiasbench_unlearn.benign_ga import BenignGA, probe_increase

UNSELECTIVE = ("all", "random")
"""Selectors a random-token budget cannot control: every token (nothing to randomise) or random already."""

MIN_TARGET = 1e-4
"""A controlled run whose perplexity did not rise still gets a benign-ga control, stopped at its
first probe above the start: the smallest damage the probe can see."""


PASSED_ON = ("learning_rate", "batch_size", "max_length", "grad_clip", "lora", "lora_r", "lora_alpha", "lora_targets")
"""Optimisation options of the controlled run that benign-ga keeps (the target, not these, sets the damage)."""

STEP_CAP, MIN_CAP = 4, 8
"""benign-ga stops at the target, or after 4x the controlled run's steps (at least 8): a run that
cannot reach the target says so (``target_not_reached``) instead of training without end."""


class RandomTokens(Control):
    """The controlled method on the same texts, its selector swapped for ``random`` with the budget
    taken from that selector (its options pass through to the budget selector)."""

    name: ClassVar[str] = "random-tokens"
    description: ClassVar[str] = "same method and texts, as many random tokens per text as the method's selector picked"
    Options: ClassVar[type] = NoOptions

    def applies(self, point: ControlledPoint) -> str | None:
        if point.selector is None:
            return f"{point.method} takes no span selector (it trains on every token)"
        if point.selector in UNSELECTIVE:
            return f"{point.method} uses selector {point.selector!r}, which leaves no choice of tokens to randomise"
        return None

    def derive(self, point: ControlledPoint, result: ControlledResult | None) -> ControlArm:
        reason = self.applies(point)
        if reason is not None:
            raise DebiasbenchError(f"random-tokens cannot control this run: {reason}")
        return ControlArm(method=point.method, method_options={**point.method_options, "selector": "random"},
                          selector_options={"budget_from": point.selector, **point.selector_options})


class BenignGAControl(Control):
    """``benign-ga`` on the controlled run's domain and seed, with ``target_ppl_increase`` set to the
    increase of the controlled run's probe perplexity (last probe over step 0)."""

    name: ClassVar[str] = "benign-ga"
    description: ClassVar[str] = "gradient ascent on neutral text about the same groups, stopped at the controlled run's perplexity increase"
    Options: ClassVar[type] = NoOptions
    needs_result: ClassVar[bool] = True
    probe_metric: ClassVar[str] = "perplexity"

    def check_run(self, facts: RunFacts) -> str | None:
        if facts.eval_every is None:
            return (f"benign-ga is stopped at the controlled run's {self.probe_metric} increase, read on its trajectory; "
                    "set eval_every = N in the study file")
        if self.probe_metric not in facts.probed_metrics:
            return (f"benign-ga is matched on the controlled run's {self.probe_metric} trajectory; add {self.probe_metric!r} "
                    f"to metrics (probed now: {', '.join(facts.probed_metrics) or 'none'})")
        return None

    def derive(self, point: ControlledPoint, result: ControlledResult | None) -> ControlArm:
        if result is None:
            raise DebiasbenchError("benign-ga is matched to the controlled run's perplexity increase; run that first")
        increase = probe_increase(result.trajectory, self.probe_metric)
        if increase is None:
            raise DebiasbenchError(f"benign-ga: run {result.run_id} has no {self.probe_metric} trajectory to match "
                                   f"(run it with --eval-every and the {self.probe_metric} metric)")
        options = {k: v for k, v in point.method_options.items() if k in PASSED_ON}
        options["max_steps"] = max(STEP_CAP * int(result.run.get("steps") or 1), MIN_CAP)
        options["target_ppl_increase"] = max(round(increase, 4), MIN_TARGET)
        return ControlArm(method=BenignGA.name, method_options=options)
