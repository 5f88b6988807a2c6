"""The method zoo: open-unlearning's methods (SimNPO, RMU, WGA, SatImp, UNDIAL, DPO) and task-vector
negation, each a small loss on the core's training loop (task-vector reuses the loop to
fine-tune a copy). One file per method; ``common.py`` holds what they share. Importing the
package imports no torch."""

from debiasbench_unlearn.zoo.dpo import DPO
from debiasbench_unlearn.zoo.rmu import RMU
from debiasbench_unlearn.zoo.satimp import SatImp
from debiasbench_unlearn.zoo.simnpo import SimNPO
from debiasbench_unlearn.zoo.task_vector import TaskVector
from debiasbench_unlearn.zoo.undial import UNDIAL
from debiasbench_unlearn.zoo.wga import WGA

ZOO = (SimNPO, RMU, WGA, SatImp, UNDIAL, DPO, TaskVector)
"""Every zoo method class, in the order they are registered."""

__all__ = ["DPO", "RMU", "UNDIAL", "WGA", "ZOO", "SatImp", "SimNPO", "TaskVector"]
