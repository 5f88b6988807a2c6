"""Typed method options: conversion, validation, did-you-mean for unknown keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import pytest

from debiasbench.errors import DebiasbenchError
from debiasbench.plugin_system.interfaces import option
from debiasbench.plugin_system.options import (
    build_options,
    describe_options,
    parse_pairs,
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
