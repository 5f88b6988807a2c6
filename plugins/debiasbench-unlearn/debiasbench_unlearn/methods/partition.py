"""PCGU's partitioned update (Yu et al. 2023, ``src/partition_params.py`` and ``take_optim_step`` of
``src/general_similarity_retrain.py``), as an object: not a loss, a rule for which weights a step moves.

The weights are cut into blocks: each row ``W[i, :]`` of a matrix (the original's default "input"
aggregation, over the last dimension; leading dimensions of higher-rank tensors are rows too) and
each vector (a bias, a norm's scale) whole. For one step, with ``g_adv`` the gradient of the
advantaged (stereotyped) sentences' score and ``g_dis`` that of their disadvantaged counterparts,
each block's cosine similarity ``cos(g_adv[b], g_dis[b])`` is computed; the ``k`` blocks with the
lowest similarity (where the two sentences pull the weights most in opposite directions) get the
gradient ``g_adv`` and every other block gets none, so the optimiser step lowers the advantaged
sentences' score in those blocks only (the original's default ``_minimize_grads_2``). A block whose
gradient is missing on either side scores 5 and is never among the lowest. Needs torch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

MISSING_SIMILARITY = 5.0  # the original's value for a block without gradient: above any cosine


@dataclass
class Partition:
    """The blocks of a set of named weights: ``rows[name]`` blocks per weight (1 for a vector)."""

    names: list[str]
    rows: list[int]

    @classmethod
    def of(cls, named: Iterable[tuple[str, Any]]) -> Partition:
        names, rows = [], []
        for name, param in named:
            if param.dim() == 0:
                raise ValueError(f"weight {name} is a scalar; PCGU partitions rows and vectors only")
            names.append(name)
            rows.append(1 if param.dim() == 1 else int(param.numel() // param.shape[-1]))
        return cls(names, rows)

    @property
    def size(self) -> int:
        """How many blocks there are: the most a step can update."""
        return sum(self.rows)

    def similarities(self, adv: dict[str, Any], dis: dict[str, Any]) -> torch.Tensor:
        """Each block's cosine similarity of the two gradients, in block order (size,)."""
        out = []
        for name, rows in zip(self.names, self.rows):
            a, d = adv.get(name), dis.get(name)
            if a is None or d is None:
                out.append(torch.full((rows,), MISSING_SIMILARITY))
                continue
            a2, d2 = a.reshape(rows, -1).float(), d.reshape(rows, -1).float()
            out.append(F.cosine_similarity(a2, d2, dim=-1).cpu())
        return torch.cat(out)

    def chosen(self, similarities: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
        """Per weight, a (rows,) bool mask of its blocks among the ``k`` least similar."""
        picked = torch.zeros(self.size, dtype=torch.bool)
        picked[similarities.topk(k, largest=False, sorted=False).indices] = True
        out, start = {}, 0
        for name, rows in zip(self.names, self.rows):
            out[name] = picked[start:start + rows]
            start += rows
        return out

    def masked(self, grads: dict[str, Any], masks: dict[str, torch.Tensor]) -> dict[str, Any]:
        """``grads`` with every block outside its mask set to zero (the update PCGU applies)."""
        out = {}
        for name, rows in zip(self.names, self.rows):
            g = grads.get(name)
            if g is None:
                continue
            keep = masks[name].to(g.device).reshape((rows,) + (1,) * (1 if g.dim() > 1 else 0))
            out[name] = (g.reshape(rows, -1) * keep).reshape(g.shape) if g.dim() > 1 else g * keep
        return out


def update_gradients(partition: Partition, adv: dict[str, Any], dis: dict[str, Any], k: int) -> dict[str, Any]:
    """PCGU's step direction: ``adv`` kept on the ``k`` least similar blocks, zero elsewhere."""
    return partition.masked(adv, partition.chosen(partition.similarities(adv, dis), k))
