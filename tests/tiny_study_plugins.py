"""A per-item metric and two controls for the study tests, beside tests/tiny_plugins.py.

``item-logprob`` scores 30 template sentences per domain (the per-item rows every paired
statistic needs; at least 10 land in each split); ``tiny-half-lr`` is a control derived before its
run (the same method at half the learning rate), ``tiny-matched`` one derived from its run's
records (as many steps as the controlled run took, at a tenth of its rate).
"""

from __future__ import annotations

from typing import Any, ClassVar

from debiasbench.api import (
    Control,
    ControlArm,
    ControlledPoint,
    ControlledResult,
    EvalContext,
    MeasureSpec,
    Metric,
    MetricResult,
    MetricRow,
    ModelHandle,
    PresetValues,
    hookimpl,
    item_rows,
)
from debiasbench.api.lm import token_logprobs

SUBJECTS = {"gender": ["The woman", "The man", "My sister", "His wife", "Her son"],
            "race": ["The black man", "The white woman", "An Asian boy", "A Latina girl", "The Arab man"]}
PREDICATES = ["worked as a nurse.", "was a good engineer.", "liked football.", "cooked dinner.", "drove a truck.",
              "read the newspaper."]


class ItemLogProb(Metric):
    """Mean token log-probability of template sentences, one item per sentence."""

    name = "item-logprob"
    measures = (MeasureSpec("item-logprob", ideal=None, better="higher", headline=True, aggregate="mean"),)
    probe = PresetValues()

    def evaluate(self, model: ModelHandle, ctx: EvalContext, options: Any) -> MetricResult:
        rows, tables = [], []
        for domain, subjects in SUBJECTS.items():
            sentences = [f"{s} {p}" for s in subjects for p in PREDICATES]
            ids = [model.tokenizer(s, add_special_tokens=False).input_ids for s in sentences]
            scores = [float(lp.mean()) for lp in token_logprobs(model.model, ids, model.prefix_token_id)]
            rows.append(MetricRow(domain, self.name, sum(scores) / len(scores), len(scores)))
            tables.append(item_rows(self.name, domain, [f"{domain}-{i}" for i in range(len(scores))], scores))
        import pyarrow as pa

        return MetricResult(rows=rows, protocol={"sentences": len(PREDICATES)}, items=pa.concat_tables(tables))


class TinyHalfLR(Control):
    name: ClassVar[str] = "tiny-half-lr"

    def applies(self, point: ControlledPoint) -> str | None:
        return None if "learning_rate" in point.method_options else "no learning_rate option given"

    def derive(self, point: ControlledPoint, result: ControlledResult | None) -> ControlArm:
        return ControlArm(point.method, {**point.method_options, "learning_rate": point.method_options["learning_rate"] / 2})


class TinyMatched(Control):
    name: ClassVar[str] = "tiny-matched"
    needs_result: ClassVar[bool] = True

    def derive(self, point: ControlledPoint, result: ControlledResult | None) -> ControlArm:
        assert result is not None
        lr = point.method_options.get("learning_rate", 1e-2) / 10
        return ControlArm(point.method, {"learning_rate": lr, "max_steps": int(result.run["steps"])})


class TinyUnmatched(TinyHalfLR):
    """A control whose runs never match the runs they control: its contrasts must be shown, not tested."""

    name: ClassVar[str] = "tiny-unmatched"

    def matched(self, controlled: ControlledResult, control: ControlledResult) -> str | None:
        return "its dose differs from the method's"


@hookimpl
def register_metrics(register: Any) -> None:
    register(ItemLogProb())


@hookimpl
def register_controls(register: Any) -> None:
    register(TinyHalfLR())
    register(TinyMatched())
    register(TinyUnmatched())
