"""Entry point ``unlearning-methods``: registers mlm-unlearn, token-ga, grad-diff, kl, npo, the benign-ga control, and
the method zoo (simnpo, rmu, wga, satimp, undial, dpo, task-vector, ceu, pdu, altpo, biasunlearn, pcgu)."""

from __future__ import annotations

from debiasbench.api import Register, hookimpl
from debiasbench_unlearn.methods.altpo import AltPO
from debiasbench_unlearn.methods.ascent import GradDiff, KLUnlearn, MLMUnlearn, TokenGA
from debiasbench_unlearn.methods.benign_ga import BenignGA
from debiasbench_unlearn.methods.biasunlearn import BiasUnlearn
from debiasbench_unlearn.methods.ceu import CEU
from debiasbench_unlearn.methods.dpo import DPO
from debiasbench_unlearn.methods.npo import NPO
from debiasbench_unlearn.methods.pcgu import PCGU
from debiasbench_unlearn.methods.pdu import PDU
from debiasbench_unlearn.methods.rmu import RMU
from debiasbench_unlearn.methods.satimp import SatImp
from debiasbench_unlearn.methods.simnpo import SimNPO
from debiasbench_unlearn.methods.task_vector import TaskVector
from debiasbench_unlearn.methods.undial import UNDIAL
from debiasbench_unlearn.methods.wga import WGA

ZOO = (SimNPO, RMU, WGA, SatImp, UNDIAL, DPO, TaskVector, CEU, PDU, AltPO, BiasUnlearn, PCGU)
"""Every zoo method class (docs/methods-unlearning.md), in the order they are registered."""


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
