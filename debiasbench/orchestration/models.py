"""Resolve ``--model`` to a ModelProvider and load it."""

from __future__ import annotations

import difflib
from pathlib import Path

from debiasbench.errors import UnknownNameError
from debiasbench.plugin_system.interfaces import (
    ModelHandle,
    ModelProvider,
    ModelSettings,
)
from debiasbench.plugin_system.registry import Registry


def find_provider(spec: str, registry: Registry) -> ModelProvider:
    """A registered model name wins; else the first provider that claims the spec (hub id, path)."""
    entry = registry.find("model", spec)
    if entry is not None:
        return entry.obj
    names = registry.names("model", with_aliases=True)
    close = difflib.get_close_matches(spec, names, n=1, cutoff=0.75)
    if close and "/" not in spec and not Path(spec).exists():
        # a near-miss of a registered name is a typo, not a hub id to download
        raise UnknownNameError(f"unknown model {spec!r}; did you mean {close[0]!r}?")
    for candidate in registry.entries("model"):
        if candidate.obj.claims(spec):
            return candidate.obj
    close = difflib.get_close_matches(spec, names, n=1, cutoff=0.6)
    if close:
        raise UnknownNameError(f"unknown model {spec!r}; did you mean {close[0]!r}?")
    raise UnknownNameError(
        f"unknown model {spec!r}: no plugin can load it; use a registered model "
        f"({', '.join(registry.names('model')) or 'none'}), a Hugging Face hub id, a local folder or a .gguf file"
    )


def load_model(spec: str, settings: ModelSettings, registry: Registry) -> ModelHandle:
    """Load ``spec`` with the provider that owns it."""
    provider = find_provider(spec, registry)
    return provider.load(spec, settings)
