"""``debiasbench.api.lm``: running a loaded model over items (promised with :data:`debiasbench.api.API_VERSION`).

The reference scorer (token log-probabilities under the prefix-token convention), the generation
engine and its fluency check, batch sizes (``auto`` measured once per model), progress bars, and
the data-parallel split under ``accelerate launch``. A metric that scores with these gets the
same numbers as the first-party ones. The scorer and the generation engine import torch on first use.
"""

from __future__ import annotations

from typing import Any

from debiasbench.api._lazy import lazy_getattr
from debiasbench.lm.batch_size import AUTO, BatchSize, check_batch_size, resolve_batch_size
from debiasbench.runtime.distributed import gather, shard
from debiasbench.runtime.progress import progress, progress_bar

_LAZY: dict[str, str] = {
    "model_device": "debiasbench.lm.logprobs",
    "collate": "debiasbench.lm.logprobs",
    "logits_of": "debiasbench.lm.logprobs",
    "token_logprobs": "debiasbench.lm.logprobs",
    "target_logprobs": "debiasbench.lm.logprobs",
    "DecodingSettings": "debiasbench.lm.generation",
    "generate": "debiasbench.lm.generation",
    "stop_token_ids": "debiasbench.lm.generation",
    "fluency": "debiasbench.lm.fluency",
    "FluencyThresholds": "debiasbench.lm.fluency",
}

__getattr__: Any = lazy_getattr(__name__, _LAZY, globals())

__all__ = [
    # scoring
    "model_device", "collate", "logits_of", "token_logprobs", "target_logprobs",
    # generation and its fluency check
    "DecodingSettings", "generate", "stop_token_ids", "fluency", "FluencyThresholds",
    # batch sizes
    "AUTO", "BatchSize", "check_batch_size", "resolve_batch_size",
    # progress and data parallelism
    "progress", "progress_bar", "shard", "gather",
]
