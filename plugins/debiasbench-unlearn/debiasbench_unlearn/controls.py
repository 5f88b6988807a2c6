"""The study's controls (docs/statistics.md, "The controls"), derived from each run they control.

``random-tokens`` separates "these tokens" from "this many tokens": the same method and texts,
with as many tokens per text as the method's selector picked, drawn from those it did not pick
(identity terms matched in number; random_selector.py). ``benign-ga`` separates unlearning hate
from damaging the model: gradient ascent on benign text naming the same groups, stopped at the
controlled run's perplexity increase on the run's held-out WikiText-2 text, within 10 %
(methods/benign_ga.py); ``benign-ga-no-identity`` does the same without touching the group's name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from debiasbench.api import Control, ControlArm, ControlledPoint, ControlledResult, DebiasbenchError, NoOptions, RunFacts
from debiasbench_unlearn.methods.benign_ga import BenignGA, within
from debiasbench_unlearn.benign_text import benign_texts

UNSELECTIVE = ("all", "random")
"""Selectors a random-token budget cannot control: every token (nothing to randomise) or random already."""

MIN_TARGET = 1e-4
"""A controlled run whose perplexity did not rise still gets a benign-ga control, stopped at the
smallest damage a measurement can see."""

TOLERANCE = 0.1
"""A benign-ga control is matched when its perplexity increase is within 10 % of the controlled run's."""


PASSED_ON = ("learning_rate", "batch_size", "max_length", "grad_clip", "lora", "lora_r", "lora_alpha", "lora_targets")
"""Optimisation options of the controlled run that benign-ga keeps (the target, not these, sets the damage)."""

STEP_CAP, MIN_CAP = 8, 16
"""benign-ga stops at the target, or after 8x the controlled run's steps (at least 16): a run that
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


def perplexity_increase(metrics: Sequence[Mapping[str, Any]], metric: str) -> float | None:
    """``after / before - 1`` of ``metric``'s headline figure on its first domain; None without both."""
    mine = [r for r in metrics if r.get("metric") == metric and r.get("headline")]
    if not mine:
        return None
    domain = mine[0]["domain"]
    stage = {r["stage"]: r["value"] for r in mine if r["domain"] == domain}
    if not stage.get("before") or stage.get("after") is None:
        return None
    return float(stage["after"] / stage["before"] - 1.0)


class BenignGAControl(Control):
    """``benign-ga`` on the controlled run's domain and seed, with ``target_ppl_increase`` set to
    the controlled run's perplexity increase on the run's held-out WikiText-2 text (its before and
    after figures); matched when the control's own increase on that text is within the tolerance."""

    name: ClassVar[str] = "benign-ga"
    description: ClassVar[str] = "gradient ascent on benign text naming the same groups, stopped at the controlled run's perplexity increase (+-10%)"
    Options: ClassVar[type] = NoOptions
    needs_result: ClassVar[bool] = True
    probe_metric: ClassVar[str] = "perplexity"
    identity_terms: ClassVar[bool] = True

    def check_run(self, facts: RunFacts) -> str | None:
        if self.probe_metric not in facts.metrics:
            return (f"{self.name} is matched on the controlled run's {self.probe_metric} increase; add {self.probe_metric!r} "
                    f"to metrics (evaluated now: {', '.join(facts.metrics) or 'none'})")
        if facts.data is not None:
            try:
                benign_texts(facts.data, facts.domain)
            except DebiasbenchError as exc:
                return str(exc)
        return None

    def derive(self, point: ControlledPoint, result: ControlledResult | None) -> ControlArm:
        if result is None:
            raise DebiasbenchError(f"{self.name} is matched to the controlled run's perplexity increase; run that first")
        increase = perplexity_increase(result.metrics, self.probe_metric)
        if increase is None:
            raise DebiasbenchError(f"{self.name}: run {result.run_id} has no {self.probe_metric} before and after to match "
                                   f"(add the {self.probe_metric} metric)")
        steps = int(result.run.get("steps") or 1)
        options = {k: v for k, v in point.method_options.items() if k in PASSED_ON}
        options["max_steps"] = max(STEP_CAP * steps, MIN_CAP)
        options["epochs"] = options["max_steps"]  # every epoch is at least one step: the cap, not the epochs, binds
        options["measure_every"] = max(1, steps // 4)  # a few measurements; the bisection gives the precision
        options["target_ppl_increase"] = max(round(increase, 5), MIN_TARGET)
        options["identity_terms"] = self.identity_terms
        return ControlArm(method=BenignGA.name, method_options=options)

    def matched(self, controlled: ControlledResult, control: ControlledResult) -> str | None:
        """Matched when the control's held-out increase is within 10 % of the controlled run's."""
        target = perplexity_increase(controlled.metrics, self.probe_metric)
        reached = perplexity_increase(control.metrics, self.probe_metric)
        if target is None or reached is None:
            return f"no {self.probe_metric} before and after to compare"
        goal = max(target, MIN_TARGET)
        if within(reached, goal, TOLERANCE):
            return None
        info = control.run.get("method_info") or {}
        info = json.loads(info) if isinstance(info, str) else info
        why = " (target not reached in its step cap)" if "target_not_reached" in info else ""
        return (f"{self.probe_metric} rose {reached:+.2%} under the control and {target:+.2%} under the method: "
                f"outside +-{TOLERANCE:.0%}{why}")


class BenignGANoIdentity(BenignGAControl):
    """The same, with no gradient on the identity-term tokens: damage without unlearning the group's name."""

    name: ClassVar[str] = "benign-ga-no-identity"
    description: ClassVar[str] = "benign-ga without gradient on the group's identity terms (separates unlearning the name from unlearning hate)"
    identity_terms: ClassVar[bool] = False
