"""Registry: unique names per kind, aliases, did-you-mean errors."""

from __future__ import annotations

from typing import Any

import pytest

from debiasbench.errors import DuplicateNameError, UnknownNameError
from debiasbench.plugin_system.interfaces import (
    NoOptions,
    UnlearningMethod,
    UnlearnOutcome,
)
from debiasbench.plugin_system.registry import Registry


class _Method(UnlearningMethod):
    Options = NoOptions

    def __init__(self, name: str, aliases: tuple[str, ...] = ()) -> None:
        self.name = name  # type: ignore[misc]
        self.aliases = aliases  # type: ignore[misc]

    def unlearn(self, model: Any, options: Any, ctx: Any) -> UnlearnOutcome:
        return UnlearnOutcome(steps=0, stop_reason="steps")


def test_get_by_name_and_alias() -> None:
    registry = Registry()
    method = _Method("mlm-unlearn", aliases=("mlm",))
    registry.add("method", method, "p1")
    assert registry.get("method", "mlm-unlearn") is method
    assert registry.get("method", "mlm") is method
    assert registry.names("method") == ["mlm-unlearn"]


def test_duplicate_name_names_both_providers() -> None:
    registry = Registry()
    registry.add("method", _Method("token-ga"), "first-plugin")
    with pytest.raises(DuplicateNameError, match="first-plugin.*second-plugin"):
        registry.add("method", _Method("token-ga"), "second-plugin")


def test_alias_colliding_with_name_is_a_duplicate() -> None:
    registry = Registry()
    registry.add("method", _Method("npo"), "a")
    with pytest.raises(DuplicateNameError):
        registry.add("method", _Method("other", aliases=("npo",)), "b")


def test_unknown_name_suggests_closest() -> None:
    registry = Registry()
    registry.add("method", _Method("mlm-unlearn"), "p")
    with pytest.raises(UnknownNameError) as info:
        registry.get("method", "mlm-unlern")
    assert str(info.value) == "unknown method 'mlm-unlern'; did you mean 'mlm-unlearn'?"
    assert info.value.exit_code == 2


def test_unknown_name_without_close_match_lists_known() -> None:
    registry = Registry()
    registry.add("method", _Method("kl"), "p")
    with pytest.raises(UnknownNameError, match="known methods: kl"):
        registry.get("method", "zzzzzz")


def test_wrong_type_is_rejected() -> None:
    with pytest.raises(TypeError, match="not a UnlearningMethod"):
        Registry().add("method", object(), "p")


def test_remove_provider_drops_names_and_aliases() -> None:
    registry = Registry()
    registry.add("method", _Method("a", aliases=("aa",)), "p")
    registry.remove_provider("p")
    assert registry.find("method", "a") is None and registry.find("method", "aa") is None
