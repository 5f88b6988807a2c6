"""Canonical bias domains: every data set maps its own labels onto these names."""

from __future__ import annotations

import difflib

from debiasbench.errors import UnknownNameError

DOMAINS: tuple[str, ...] = (
    "gender",
    "race",
    "religion",
    "sexual-orientation",
    "gender-identity",
    "age",
    "nationality",
    "disability",
    "physical-appearance",
    "socioeconomic",
    "profession",
    "political-ideology",
)
"""The union of CrowS-Pairs bias types (race-color -> race), StereoSet domains, forget-set targets and BOLD's
political ideologies."""

STUDY_DOMAINS: tuple[str, ...] = ("gender", "race", "religion")
"""The domains the seed study reports (docs/concepts.md, "The seed study"); the default for trajectory probes."""

OVERALL = "all"
"""Domain label of a metric's overall figure."""


def check_domain(name: str, allowed: tuple[str, ...] = DOMAINS, what: str = "domain") -> str:
    """Return ``name`` if allowed, else fail with a did-you-mean line (exit 2)."""
    if name in allowed:
        return name
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"choose from {', '.join(allowed)}"
    raise UnknownNameError(f"unknown {what} {name!r}; {hint}")
