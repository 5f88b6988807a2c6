"""Run presets. The core knows only their names; each plugin object declares what a preset means
for itself (:attr:`~debiasbench.plugin_system.interfaces.Named.presets`), so a third-party metric,
method or forget set takes part in ``--preset quick`` like a first-party one, and a plugin may add
a preset of its own by declaring values for a new name.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from debiasbench.domains import DOMAINS
from debiasbench.errors import UnknownNameError
from debiasbench.plugin_system.interfaces import PresetValues

if TYPE_CHECKING:  # pragma: no cover
    from debiasbench.plugin_system.interfaces.common import PluginLookup

FULL = "full"
"""Every item of every benchmark and forget set, each object's own defaults: the study's protocol."""

CORE_PRESETS: dict[str, str] = {
    FULL: "every item, every object's own defaults (the study's protocol)",
    "quick": "each plugin object's quick values (subsets, shorter training): a run of a few minutes",
}

NO_VALUES = PresetValues()


def known_presets(registry: PluginLookup) -> dict[str, str]:
    """Preset name -> description: the core's, plus every name a registered object declares."""
    known = dict(CORE_PRESETS)
    for entry in registry.all_entries():
        for name in entry.obj.presets:
            known.setdefault(name, f"declared by plugin {entry.provider!r}")
    return known


def check_preset(name: str, registry: PluginLookup) -> str:
    """``name`` if some object (or the core) knows it, else one line listing the known presets."""
    known = known_presets(registry)
    if name not in known:
        raise UnknownNameError(f"unknown preset {name!r}; choose from {', '.join(known)}")
    return name


def values_for(obj: Any, preset: str) -> PresetValues:
    """What ``preset`` means for ``obj``; ``full`` and undeclared presets change nothing."""
    if preset == FULL:
        return NO_VALUES
    return obj.presets.get(preset, NO_VALUES)


def validate_declarations(obj: Any, owner: str) -> None:
    """Reject, when a plugin registers, preset or probe values that name no option or fail the
    options' own checks: a plugin's declaration error surfaces at load, not mid-run."""
    declared = dict(obj.presets)
    probe = getattr(obj, "probe", None)
    if probe is not None:
        declared["(probe)"] = probe
    fields = {f.name for f in dataclasses.fields(obj.Options)}
    for preset, values in declared.items():
        if not isinstance(values, PresetValues):
            raise TypeError(f"{owner}: preset {preset!r} must be a PresetValues, not {type(values).__name__}")
        unknown = sorted(set(values.options) - fields)
        if unknown:
            raise TypeError(f"{owner}: preset {preset!r} sets {', '.join(unknown)}, which are not options of {obj.Options.__name__}")
        unknown_domains = sorted(set(values.domains or ()) - set(DOMAINS))
        if unknown_domains:
            raise TypeError(f"{owner}: preset {preset!r} names unknown domains {', '.join(unknown_domains)}")
        if values.limit is not None and values.limit < 1:
            raise TypeError(f"{owner}: preset {preset!r} has limit {values.limit}; a limit is 1 or more")
        try:
            obj.Options(**dict(values.options))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{owner}: preset {preset!r} gives invalid options: {exc}") from None
