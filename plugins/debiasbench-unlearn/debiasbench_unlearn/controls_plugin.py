"""Entry point ``controls``: the study controls random-tokens, benign-ga and benign-ga-no-identity."""

from __future__ import annotations

from debiasbench.api import Register, hookimpl
from debiasbench_unlearn.controls import BenignGAControl, BenignGANoIdentity, RandomTokens


@hookimpl
def register_controls(register: Register) -> None:
    register(RandomTokens())
    register(BenignGAControl())
    register(BenignGANoIdentity())
