"""The training loop's steps across the processes of ``accelerate launch`` (data parallel).

Every process draws the same global batch (one seed, one generator), takes every
``world_size``-th text of it, and computes the loss on its share. The Accelerator (DDP by
default; FSDP or DeepSpeed ZeRO when the user's accelerate config says so) averages the
gradients over the processes. A loss is a mean over the texts of its batch (``"texts"``) or over
its counted tokens (``"tokens"``, see :class:`~debiasbench.training.objective.UnlearningLoss`), so
each process scales its share's loss by ``world_size x its count / the batch's count``: the
averaged gradient is then the gradient of the loss on the whole batch, as in one process.
The figures the stopping rules read are the same weighted sums, added in rank order, so every
process stops at the same step. With one process nothing here changes a number.
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from debiasbench.runtime.distributed import broadcast, on_cpu, ranks, sum_over_processes

Reduction = Literal["texts", "tokens"]


class Parallel:
    """Wraps the model and optimizer with an Accelerator when launched as several processes."""

    def __init__(self, model: Any, optimizer: Any) -> None:
        self.ranks = ranks()
        self.accelerator: Any = None
        self.model, self.optimizer = model, optimizer
        if self.ranks.parallel:
            from accelerate import Accelerator

            self.accelerator = Accelerator(cpu=on_cpu())
            self.model, self.optimizer = self.accelerator.prepare(model, optimizer)

    @property
    def active(self) -> bool:
        return self.accelerator is not None

    def share(self, indices: list[int]) -> list[int]:
        """This process's texts of a global batch (all of them with one process)."""
        return indices[self.ranks.rank::self.ranks.world_size] if self.active else indices

    def means(self, pairs: list[tuple[float, float]]) -> list[tuple[float, float]]:
        """``(value, count)`` of this share -> ``(value, count)`` on the whole batch, for each pair
        (one collective): the count-weighted mean of the shares' values, and the summed count.
        A share with count 0 (a process with no text of a short last batch) adds nothing; a batch
        with nothing to count anywhere gives 0, as the losses' own means over nothing do."""
        if not self.active:
            return [(float(v), float(c)) for v, c in pairs]
        flat = [x for v, c in pairs for x in (float(c), float(c) * float(v) if c else 0.0)]
        sums = sum_over_processes(flat)
        return [(sums[2 * i + 1] / sums[2 * i] if sums[2 * i] > 0 else 0.0, sums[2 * i]) for i in range(len(pairs))]

    def scaled(self, loss: torch.Tensor, count: float, total: float) -> torch.Tensor:
        """``loss`` weighted so that averaging the gradients over the processes gives the gradient
        of the whole batch's loss (unchanged with one process)."""
        if not self.active:
            return loss
        return loss * (self.ranks.world_size * count / total if total > 0 else 0.0)

    def backward(self, loss: torch.Tensor) -> None:
        if self.active:
            self.accelerator.backward(loss)
        else:
            loss.backward()

    def clip(self, params: list[Any], max_norm: float) -> torch.Tensor:
        """Clip the (already averaged) gradients; the norm is the same on every process."""
        if self.active:
            return self.accelerator.clip_grad_norm_(params, max_norm)
        return torch.nn.utils.clip_grad_norm_(params, max_norm)

    def agree(self, reason: str | None) -> str | None:
        """The main process's stopping decision, on every process (they compute the same one; this makes sure)."""
        return broadcast(reason) if self.active else reason

    def close(self) -> None:
        """Drop the wrapper (the weights live in the unwrapped model, the same on every process)."""
        if self.active:
            self.accelerator.free_memory()
            self.model = self.optimizer = None
