"""Resolve ``--model`` to a ModelProvider and load it.

A registered model name wins. Any other spec goes to the provider that claims it with the highest
``ModelProvider.precedence``; two claimants of equal precedence are refused, naming both, since
which one loads the model must not depend on plugin names. ``PROVIDER:SPEC`` (a registered model
provider's name or alias, then the spec) picks the provider explicitly.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from debiasbench.errors import DebiasbenchError, DuplicateNameError, UnknownNameError
from debiasbench.plugin_system.interfaces import (
    ModelHandle,
    ModelProvider,
    ModelSettings,
)
from debiasbench.plugin_system.registry import Entry, Registry


def _chosen(spec: str, registry: Registry | None) -> tuple[Entry, str] | None:
    """``PROVIDER:SPEC`` -> the provider's entry and the bare spec; None when ``spec`` names no provider
    that way (no colon, a registered name or an existing path with a colon, an unregistered prefix)."""
    prefix, colon, rest = spec.partition(":")
    if not colon or registry is None or registry.find("model", spec) is not None or Path(spec).exists():
        return None
    entry = registry.find("model", prefix)
    return (entry, rest) if entry is not None and rest else None


def model_spec(spec: str, registry: Registry | None) -> str:
    """The spec the provider loads: ``spec`` without a ``PROVIDER:`` prefix."""
    chosen = _chosen(spec, registry)
    return chosen[1] if chosen is not None else spec


def find_provider(spec: str, registry: Registry) -> ModelProvider:
    """A registered model name wins; then ``PROVIDER:SPEC``; else the claimant of highest precedence (hub id, path)."""
    entry = registry.find("model", spec)
    if entry is not None:
        return entry.obj
    chosen = _chosen(spec, registry)
    if chosen is not None:
        entry, bare = chosen
        if not (entry.obj.claims(bare) or registry.find("model", bare) is entry):
            raise DebiasbenchError(f"model provider {entry.name!r} does not load {bare!r}; "
                                   f"see `debiasbench list models {entry.name}`")
        return entry.obj
    names = registry.names("model", with_aliases=True)
    close = difflib.get_close_matches(spec, names, n=1, cutoff=0.75)
    if close and "/" not in spec and not Path(spec).exists():
        # a near-miss of a registered name is a typo, not a hub id to download
        raise UnknownNameError(f"unknown model {spec!r}; did you mean {close[0]!r}?")
    claimants = [e for e in registry.entries("model") if e.obj.claims(spec)]
    if claimants:
        return _by_precedence(spec, claimants)
    close = difflib.get_close_matches(spec, names, n=1, cutoff=0.6)
    if close:
        raise UnknownNameError(f"unknown model {spec!r}; did you mean {close[0]!r}?")
    raise UnknownNameError(
        f"unknown model {spec!r}: no plugin can load it; use a registered model "
        f"({', '.join(registry.names('model')) or 'none'}), a Hugging Face hub id, a local folder or a .gguf file"
    )


def _by_precedence(spec: str, claimants: list[Entry]) -> ModelProvider:
    """The claimant of highest precedence; a tie is refused in one line naming both and how to choose."""
    top = max(e.obj.precedence for e in claimants)
    best = [e for e in claimants if e.obj.precedence == top]
    if len(best) == 1:
        return best[0].obj
    first, second = best[:2]
    raise DuplicateNameError(
        f"model {spec!r} is claimed by model providers {first.name!r} (plugin {first.provider!r}) and {second.name!r} "
        f"(plugin {second.provider!r}) with equal precedence {top}; choose one with --model {first.name}:{spec} "
        f"or --model {second.name}:{spec}, or disable a plugin with DEBIASBENCH_DISABLE_PLUGINS")


def load_model(spec: str, settings: ModelSettings, registry: Registry) -> ModelHandle:
    """Load ``spec`` with the provider that owns it."""
    provider = find_provider(spec, registry)
    return provider.load(model_spec(spec, registry), settings)
