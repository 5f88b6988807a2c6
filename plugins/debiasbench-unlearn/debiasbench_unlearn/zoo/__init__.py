"""The method zoo: open-unlearning's methods (SimNPO, RMU, WGA, SatImp, UNDIAL, DPO, CE-U, PDU, AltPO),
task-vector negation, and the bias-unlearning methods BiasUnlearn and PCGU (trained on sentence pairs,
``debiasbench_unlearn.pairs``), each a small loss on the core's training loop (task-vector reuses the loop
to fine-tune a copy; PCGU is a partitioned update, ``partition.py``, with its own SGD loop). One file per
method; ``common.py`` holds what they share. Importing the package imports no torch."""

from debiasbench_unlearn.zoo.altpo import AltPO
from debiasbench_unlearn.zoo.biasunlearn import BiasUnlearn
from debiasbench_unlearn.zoo.ceu import CEU
from debiasbench_unlearn.zoo.dpo import DPO
from debiasbench_unlearn.zoo.pcgu import PCGU
from debiasbench_unlearn.zoo.pdu import PDU
from debiasbench_unlearn.zoo.rmu import RMU
from debiasbench_unlearn.zoo.satimp import SatImp
from debiasbench_unlearn.zoo.simnpo import SimNPO
from debiasbench_unlearn.zoo.task_vector import TaskVector
from debiasbench_unlearn.zoo.undial import UNDIAL
from debiasbench_unlearn.zoo.wga import WGA

ZOO = (SimNPO, RMU, WGA, SatImp, UNDIAL, DPO, TaskVector, CEU, PDU, AltPO, BiasUnlearn, PCGU)
"""Every zoo method class, in the order they are registered."""

__all__ = ["CEU", "DPO", "PCGU", "PDU", "RMU", "UNDIAL", "WGA", "ZOO", "AltPO", "BiasUnlearn", "SatImp", "SimNPO", "TaskVector"]
