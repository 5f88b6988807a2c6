"""Entry point ``unlearning-methods``: registers mlm-unlearn, token-ga, grad-diff, kl, npo, the benign-ga control, and
the method zoo (simnpo, rmu, wga, satimp, undial, dpo, task-vector, ceu, pdu, altpo, biasunlearn, pcgu)."""

from __future__ import annotations

from debiasbench.api import Register, hookimpl
from debiasbench_unlearn.benign_ga import BenignGA
from debiasbench_unlearn.methods import NPO, GradDiff, KLUnlearn, MLMUnlearn, TokenGA
from debiasbench_unlearn.zoo import ZOO


@hookimpl
def register_methods(register: Register) -> None:
    register(MLMUnlearn())
    register(TokenGA())
    register(GradDiff())
    register(KLUnlearn())
    register(NPO())
    register(BenignGA())  # the study's control (docs/statistics.md, "The controls")
    for method in ZOO:
        register(method())
