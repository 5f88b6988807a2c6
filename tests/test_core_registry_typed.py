"""The registry's typed look-ups per kind: the right object and type, and the one-line
did-you-mean of ``get`` for an unknown name."""

from __future__ import annotations

from typing import Any

import pytest

from debiasbench.api import (
    Control,
    ControlArm,
    DataLocatorProto,
    DebiasbenchError,
    EvalContext,
    EvalDataset,
    ForgetSet,
    ForgetText,
    MeasureSpec,
    Metric,
    MetricResult,
    ModelHandle,
    ModelProvider,
    ModelSettings,
    Registry,
    SpanSelector,
    UnknownNameError,
    UnlearningMethod,
    UnlearnOutcome,
)


class _Method(UnlearningMethod):
    name = "npo"
    aliases = ("negative-preference",)

    def unlearn(self, model: ModelHandle, options: Any, ctx: Any) -> UnlearnOutcome:
        return UnlearnOutcome(steps=0, stop_reason="steps")


class _Metric(Metric):
    name = "crows-pairs"
    measures = (MeasureSpec("crows-pairs.score", 50.0, "closer"),)

    def evaluate(self, model: ModelHandle, ctx: EvalContext, options: Any) -> MetricResult:
        return MetricResult(rows=[], protocol={})


class _Provider(ModelProvider):
    name = "tiny-model"

    def load(self, spec: str, settings: ModelSettings) -> ModelHandle:
        raise DebiasbenchError("not in this test")


class _Eval(EvalDataset):
    name = "crows-pairs-data"

    def load(self, data: DataLocatorProto) -> Any:
        return []


class _Forget(ForgetSet):
    name = "hatecheck"

    def domains(self) -> tuple[str, ...]:
        return ("gender",)

    def load_forget(self, data: DataLocatorProto, domain: str, split: str | None = None) -> list[ForgetText]:
        return []


class _Selector(SpanSelector):
    name = "annotated"

    def select(self, items: Any, ctx: Any) -> list[list[bool]]:
        return [[True] * len(item.input_ids) for item in items]


class _Control(Control):
    name = "random-init"

    def derive(self, point: Any, result: Any) -> ControlArm:
        return ControlArm(method=point.method, method_options={})


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    for kind, obj in (("method", _Method()), ("metric", _Metric()), ("model", _Provider()), ("dataset", _Eval()),
                      ("dataset", _Forget()), ("selector", _Selector()), ("control", _Control())):
        registry.add(kind, obj, "p")
    return registry


def test_each_kind_has_a_typed_look_up(registry: Registry) -> None:
    found = [
        (registry.method("npo"), UnlearningMethod), (registry.method("negative-preference"), _Method),
        (registry.metric("crows-pairs"), Metric), (registry.model_provider("tiny-model"), ModelProvider),
        (registry.dataset("hatecheck"), ForgetSet), (registry.forget_set("hatecheck"), ForgetSet),
        (registry.eval_dataset("crows-pairs-data"), EvalDataset), (registry.selector("annotated"), SpanSelector),
        (registry.control("random-init"), Control),
    ]
    assert all(isinstance(obj, kind) for obj, kind in found)
    assert registry.method("negative-preference") is registry.get("method", "npo")  # get() stays, same objects
    assert registry.names("dataset") == ["crows-pairs-data", "hatecheck"]


@pytest.mark.parametrize(("look_up", "typo", "message"), [
    ("method", "npoo", "unknown method 'npoo'; did you mean 'npo'?"),
    ("metric", "crows-pair", "unknown metric 'crows-pair'; did you mean 'crows-pairs'?"),
    ("model_provider", "tiny-modle", "unknown model 'tiny-modle'; did you mean 'tiny-model'?"),
    ("dataset", "hatechek", "unknown dataset 'hatechek'; did you mean 'hatecheck'?"),
    ("forget_set", "hatechek", "unknown dataset 'hatechek'; did you mean 'hatecheck'?"),
    ("selector", "anotated", "unknown selector 'anotated'; did you mean 'annotated'?"),
    ("control", "random-int", "unknown control 'random-int'; did you mean 'random-init'?"),
])
def test_an_unknown_name_is_the_one_line_did_you_mean(registry: Registry, look_up: str, typo: str, message: str) -> None:
    with pytest.raises(UnknownNameError) as info:
        getattr(registry, look_up)(typo)
    assert str(info.value) == message and info.value.exit_code == 2


def test_a_data_set_of_the_other_role_is_refused_in_one_line(registry: Registry) -> None:
    with pytest.raises(DebiasbenchError) as info:
        registry.forget_set("crows-pairs-data")
    assert str(info.value) == "data set 'crows-pairs-data' is eval data, not a forget set; see `debiasbench list datasets`"
    with pytest.raises(DebiasbenchError, match="^data set 'hatecheck' is forget data, not an evaluation data set;"):
        registry.eval_dataset("hatecheck")
