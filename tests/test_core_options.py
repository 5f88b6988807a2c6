"""Typed plugin options: conversion of CLI strings and TOML values, validation, did-you-mean for
unknown keys, and a RunConfig's option tables typed against the objects it names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional

import pytest

from debiasbench.errors import DebiasbenchError, UnknownNameError
from debiasbench.run.config import RunConfig, with_typed_options
from debiasbench.plugin_system.interfaces import (
    MeasureSpec,
    Metric,
    NoOptions,
    SpanSelector,
    UnlearningMethod,
    option,
)
from debiasbench.plugin_system.options import (
    build_options,
    describe_options,
    parse_owner_pairs,
    parse_pairs,
    typed_values,
)


@dataclass
class _Opts:
    learning_rate: float = option(1e-5, "step size")
    max_steps: int = option(10, "optimisation steps")
    lora: bool = option(False, "train LoRA adapters")
    selector: str = option("annotated", "span selector")
    scoring: Literal["mean", "sum"] = option("mean", "sentence score")
    threshold: Optional[float] = option(None, "stop when the forget loss passes this")
    layers: list[int] = option([], "layers to train")

    def __post_init__(self) -> None:
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")


def test_parse_pairs_and_convert() -> None:
    raw = parse_pairs(["learning-rate=3e-5", "max_steps=20", "lora=yes", "threshold=none", "layers=1,2", "scoring=sum"])
    opts = build_options(_Opts, raw, "method 'x'")
    assert opts == _Opts(3e-5, 20, True, "annotated", "sum", None, [1, 2])


def test_malformed_pair() -> None:
    with pytest.raises(DebiasbenchError, match="malformed option 'learning_rate'.*key=value"):
        parse_pairs(["learning_rate"])


def test_unknown_key_suggests() -> None:
    with pytest.raises(DebiasbenchError, match="unknown option 'learning_rat' for method 'x'; did you mean 'learning_rate'"):
        build_options(_Opts, {"learning_rat": "1"}, "method 'x'")


def test_bad_value_and_range() -> None:
    with pytest.raises(DebiasbenchError, match="max_steps='ten'.*not a valid int"):
        build_options(_Opts, {"max_steps": "ten"}, "method 'x'")
    with pytest.raises(DebiasbenchError, match="learning_rate must be > 0"):
        build_options(_Opts, {"learning_rate": "-1"}, "method 'x'")
    with pytest.raises(DebiasbenchError, match="must be one of mean, sum"):
        build_options(_Opts, {"scoring": "max"}, "method 'x'")


def test_describe_options_lists_help() -> None:
    rows = {row["name"]: row for row in describe_options(_Opts)}
    assert rows["max_steps"]["default"] == 10 and rows["max_steps"]["help"] == "optimisation steps"


# --------------------------------------------------------------------------- typed_values: CLI strings and TOML values


def test_strings_and_typed_values_give_the_same_result() -> None:
    from_cli = typed_values(_Opts, parse_pairs(["learning_rate=3e-5", "max_steps=20", "lora=yes", "layers=1,2", "threshold=none"]), "m")
    from_toml = typed_values(_Opts, {"learning_rate": 3e-5, "max_steps": 20, "lora": True, "layers": [1, 2], "threshold": None}, "m")
    assert from_cli == from_toml == {"learning_rate": 3e-5, "max_steps": 20, "lora": True, "layers": [1, 2], "threshold": None}
    assert type(from_cli["max_steps"]) is int and type(from_cli["learning_rate"]) is float


def test_an_int_is_fine_for_a_float_field() -> None:
    values = typed_values(_Opts, {"learning_rate": 1, "threshold": 2}, "method 'x'")
    assert values == {"learning_rate": 1.0, "threshold": 2.0} and type(values["learning_rate"]) is float


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"max_steps": 2.5}, "max_steps=2.5 for method 'x' is not a valid int"),
        ({"max_steps": True}, "max_steps=True for method 'x' is not a valid int"),
        ({"lora": 1}, "lora=1 for method 'x' is not a valid bool"),
        ({"selector": 3}, "selector=3 for method 'x' is not a valid str"),
        ({"learning_rate": "fast"}, "learning_rate='fast' for method 'x' is not a valid float"),
        ({"scoring": 1}, "must be one of mean, sum"),
        ({"layers": 3}, "layers=3 for method 'x' must be a list"),
        ({"layers": [1, "two"]}, "layers='two' for method 'x' is not a valid int"),
    ],
)
def test_wrong_types_are_one_line(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(DebiasbenchError) as info:
        typed_values(_Opts, raw, "method 'x'")
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e400", float("inf"), float("nan")])
def test_inf_and_nan_are_rejected_for_numbers(value: Any) -> None:
    with pytest.raises(DebiasbenchError, match="for method 'x' must be a finite number"):
        typed_values(_Opts, {"learning_rate": value}, "method 'x'")
    with pytest.raises(DebiasbenchError, match="threshold=.* must be a finite number"):
        typed_values(_Opts, {"threshold": value}, "method 'x'")


def test_unknown_keys_kept_only_when_asked() -> None:
    assert typed_values(_Opts, {"max_steps": "2", "level": "inclusive"}, "m", keep_unknown=True) == {"max_steps": 2, "level": "inclusive"}
    with pytest.raises(DebiasbenchError, match="unknown option 'level' for m"):
        typed_values(_Opts, {"level": "inclusive"}, "m")


def test_build_options_takes_typed_values_too() -> None:
    """Planning builds Options from the typed values a RunConfig holds."""
    assert build_options(_Opts, {"learning_rate": 1, "scoring": "sum", "layers": [3]}, "m") == _Opts(1.0, 10, False, "annotated", "sum", None, [3])


def test_owner_pairs() -> None:
    assert parse_owner_pairs(["some-metric.batch-size=8", "some-metric.scoring=sum", "other.x=1"]) == {
        "some-metric": {"batch_size": "8", "scoring": "sum"}, "other": {"x": "1"}}
    with pytest.raises(DebiasbenchError) as info:
        parse_owner_pairs(["scoring=sum"], "-M")
    assert "malformed option scoring='sum' for -M: expected OWNER.KEY=VALUE" in str(info.value)


# --------------------------------------------------------------------------- with_typed_options: a RunConfig's option tables


@dataclass
class _SelectorOpts:
    top_k: float = option(0.25, "fraction selected")


@dataclass
class _MethodOpts:
    learning_rate: float = option(1e-5, "step size")
    selector: str = option("picky", "span selector")


@dataclass
class _MetricOpts:
    batch_size: int = option(8, "batch size")


class _Picky(SpanSelector):
    name = "picky"
    Options = _SelectorOpts

    def select(self, items: Any, ctx: Any) -> list[list[bool]]:
        return [[True] * len(it.input_ids) for it in items]


class _Relay(_Picky):
    """Passes the options it does not know on to another selector (like a random-budget control)."""

    name = "relay"

    def check_options(self, options: Any, registry: Any) -> None:
        registry.get("selector", "picky").check_options({k: v for k, v in options.items() if k != "top_k"}, registry)


class _Method(UnlearningMethod):
    name = "opt-method"
    Options = _MethodOpts

    def unlearn(self, model: Any, options: Any, ctx: Any) -> Any:
        raise AssertionError("never run here")


class _PlainMethod(_Method):
    name = "plain-method"
    Options = NoOptions


class _Metric(Metric):
    name = "opt-metric"
    aliases = ("om",)
    Options = _MetricOpts
    measures = (MeasureSpec("opt-metric", None, "higher"),)

    def evaluate(self, model: Any, ctx: Any, options: Any) -> Any:
        raise AssertionError("never run here")


@pytest.fixture()
def registry() -> Any:
    from debiasbench.plugin_system.registry import Registry

    reg = Registry()
    for kind, obj in (("selector", _Picky()), ("selector", _Relay()), ("method", _Method()), ("method", _PlainMethod()),
                      ("metric", _Metric())):
        reg.add(kind, obj, "test")
    return reg


def test_run_config_options_are_typed_against_the_named_objects(registry: Any) -> None:
    config = RunConfig(method="opt-method", method_options={"learning_rate": "1e-3"}, selector_options={"top_k": "0.5"},
                       metric_options={"om": {"batch_size": "4"}})
    typed = with_typed_options(config, registry)
    assert typed.method_options == {"learning_rate": 0.001}
    assert typed.selector_options == {"top_k": 0.5}
    assert typed.metric_options == {"opt-metric": {"batch_size": 4}}  # the alias resolved to the metric's name
    assert config.method_options == {"learning_rate": "1e-3"}  # the input is not changed
    assert typed.config_hash() == with_typed_options(
        RunConfig(method="opt-method", method_options={"learning_rate": 0.001}, selector_options={"top_k": 0.5},
                  metric_options={"opt-metric": {"batch_size": 4}}), registry).config_hash()


def test_selector_options_follow_the_selected_selector(registry: Any) -> None:
    relay = RunConfig(method="opt-method", method_options={"selector": "relay"}, selector_options={"top_k": "0.5", "extra": "1"})
    assert with_typed_options(relay, registry).selector_options == {"top_k": 0.5, "extra": "1"}  # "extra" is the relay's to check
    picky = RunConfig(method="opt-method", selector_options={"extra": "1"})
    with pytest.raises(DebiasbenchError, match="unknown option 'extra' for selector 'picky'"):
        with_typed_options(picky, registry)
    with pytest.raises(DebiasbenchError, match="method 'plain-method' takes no span selector"):
        with_typed_options(RunConfig(method="plain-method", selector_options={"top_k": "0.5"}), registry)


def test_unknown_names_in_option_tables_get_did_you_mean(registry: Any) -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'opt-metric'"):
        with_typed_options(RunConfig(metric_options={"opt-metrc": {"batch_size": "4"}}), registry)
    with pytest.raises(UnknownNameError, match="did you mean 'opt-method'"):
        with_typed_options(RunConfig(method="opt-methd"), registry)


def test_check_range_reads_like_the_zoos_messages() -> None:
    """One option-range helper for every plugin (debiasbench.api.check_range): the message names the
    option, the range and the value; NaN is out of every range, None (off) is in."""
    import dataclasses

    from debiasbench.api import check_range

    @dataclasses.dataclass
    class Opts:
        beta: float = 0.1
        alpha: float = 0.0
        fraction: float = 0.5
        steps: int | None = None

    check_range(Opts(), "beta", above=0)
    check_range(Opts(), "alpha", at_least=0)
    check_range(Opts(), "fraction", above=0, below=1)
    check_range(Opts(), "steps", at_least=1)  # None: off
    cases = [(Opts(beta=0), "beta", {"above": 0}, "beta must be positive, got 0"),
             (Opts(alpha=-1), "alpha", {"at_least": 0}, "alpha must be 0 or more, got -1"),
             (Opts(fraction=1.0), "fraction", {"above": 0, "below": 1}, "fraction must be between 0 and 1, got 1.0"),
             (Opts(steps=0), "steps", {"at_least": 1, "label": "steps (optimiser)"}, "steps (optimiser) must be 1 or more, got 0"),
             (Opts(beta=float("nan")), "beta", {"above": 0}, "beta must be positive, got nan"),
             (Opts(alpha=3.0), "alpha", {"at_least": 0, "at_most": 2}, "alpha must be 0 or more and 2 or less, got 3.0")]
    for options, name, bounds, message in cases:
        with pytest.raises(ValueError) as info:
            check_range(options, name, **bounds)
        assert str(info.value) == message
