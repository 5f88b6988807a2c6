"""Hidden states at one decoder layer of the trained model and of the frozen reference, which
:class:`~debiasbench.api.TextBatch` does not provide: a forward hook on the layer captures its
output while the batch computes (and caches) its logits, so one forward pass serves the loss and
the loop's stopping measure. Imports no torch at import time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from debiasbench.api import DebiasbenchError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import Tensor

    from debiasbench.api.training import TextBatch


def decoder_layers(model: Any) -> Any:
    """The model's stack of decoder blocks: the first ``ModuleList`` with ``num_hidden_layers``
    entries (``model.layers`` of Llama-style models, ``transformer.h`` of GPT-2; under LoRA the
    same list inside the peft wrapper)."""
    import torch

    count = getattr(model.config, "num_hidden_layers", None)
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == count:
            return module
    raise DebiasbenchError(f"found no list of {count} decoder layers in {type(model).__name__}; "
                           "this method needs a transformer with a layer stack")


def layer_count(model: Any) -> int:
    return len(decoder_layers(model))


@contextmanager
def captured(module: Any) -> Iterator[list[Tensor]]:
    """Outputs (hidden states) of ``module`` during the block, in call order."""
    store: list[Tensor] = []

    def hook(_module: Any, _args: Any, output: Any) -> None:
        store.append(output[0] if isinstance(output, tuple) else output)

    handle = module.register_forward_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


def _one(store: list[Tensor], what: str) -> Tensor:
    if not store:
        raise DebiasbenchError(f"no hidden states captured for {what}: its logits were computed before the loss asked "
                               "for hidden states; ask for the hidden states first")
    return store[-1][:, 1:].float()


def layer_states(batch: TextBatch, layer: int) -> Tensor:
    """(B, T, d) output of decoder block ``layer`` of the trained model at each predicted token's
    own position (aligned with ``batch.mask``), with gradient. Computes ``batch.logits()``."""
    with captured(decoder_layers(batch.model)[layer]) as store:
        batch.logits()
    return _one(store, "the trained model")


def reference_layer_states(batch: TextBatch, layer: int) -> Tensor:
    """The same for the frozen reference (no gradient): its copy's block, or under LoRA the trained
    model's block while the batch runs it with adapters disabled."""
    frozen = batch.reference.frozen
    with captured(decoder_layers(frozen if frozen is not None else batch.model)[layer]) as store:
        batch.reference_logits()
    return _one(store, "the reference model")
