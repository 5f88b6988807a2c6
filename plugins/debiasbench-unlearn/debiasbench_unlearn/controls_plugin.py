"""Entry point ``controls``: the study controls random-tokens and benign-ga (SPEC section 9)."""

from __future__ import annotations

from debiasbench.api import Register, hookimpl
from debiasbench_unlearn.controls import BenignGAControl, RandomTokens


@hookimpl
def register_controls(register: Register) -> None:
    register(RandomTokens())
    register(BenignGAControl())
