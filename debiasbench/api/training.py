"""``debiasbench.api.training``: unlearning methods built on the core's training loop (promised with
:data:`debiasbench.api.API_VERSION`).

A loss-based method is a :class:`LossMethod` whose ``Loss`` is an :class:`UnlearningLoss` computed
on a :class:`TextBatch`; the loop (tokenising, span selection, batching, stopping rules, LoRA,
divergence checks) is shared through :func:`train`. The loss functions are the building blocks of
the first-party losses. The loop, the batch and the losses import torch on first use.
"""

from __future__ import annotations

from typing import Any

from debiasbench.api._lazy import lazy_getattr
from debiasbench.training.method import LossMethod
from debiasbench.training.objective import UnlearningLoss
from debiasbench.training.options import EveryTokenOptions, SelectiveOptions, TrainingOptions

_LAZY: dict[str, str] = {
    "TextBatch": "debiasbench.training.batch",
    "train": "debiasbench.training.loop",
    "tokenize_forget": "debiasbench.training.data",
    "sequence_logprob": "debiasbench.training.losses",
    "selected_mean_logprob": "debiasbench.training.losses",
    "nll_loss": "debiasbench.training.losses",
    "ga_loss": "debiasbench.training.losses",
    "kl_loss": "debiasbench.training.losses",
    "npo_loss": "debiasbench.training.losses",
}

__getattr__: Any = lazy_getattr(__name__, _LAZY, globals())

__all__ = [
    # the loss-method interface and its options
    "LossMethod", "UnlearningLoss", "TextBatch", "TrainingOptions", "SelectiveOptions", "EveryTokenOptions",
    # the loop and the tokenising it does
    "train", "tokenize_forget",
    # loss building blocks
    "sequence_logprob", "selected_mean_logprob", "nll_loss", "ga_loss", "kl_loss", "npo_loss",
]
