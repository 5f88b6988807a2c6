"""Which weights train, and putting the model back afterwards: all weights, or LoRA adapters merged
into the base once the loop ends (so ``handle.model`` is a plain model again)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from debiasbench.errors import DebiasbenchError
from debiasbench.plugin_system.interfaces import ModelHandle


@contextmanager
def trainable(handle: ModelHandle, options: Any, seed: int) -> Iterator[tuple[Any, list[Any]]]:
    """Yield the model to train (``eval()`` mode: dropout off) and its trainable parameters.

    Afterwards, whatever happened (a stopping rule, :class:`TrainingDiverged`, any error): the
    model is in ``eval()`` mode, LoRA adapters are merged, every ``requires_grad`` flag is what
    it was and no gradient is left behind.
    """
    model = handle.model
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    torch.manual_seed(seed)  # LoRA initialisation
    trained = wrap_lora(model, options) if options.lora else model
    try:
        if not options.lora:
            for p in model.parameters():
                p.requires_grad_(True)
        trained.eval()  # dropout off while training: see debiasbench.training.loop
        yield trained, [p for p in trained.parameters() if p.requires_grad]
    finally:
        trained.eval()
        if options.lora:
            handle.model = trained.merge_and_unload()
        for name, p in handle.model.named_parameters():
            p.requires_grad_(flags.get(name, p.requires_grad))
            p.grad = None


def wrap_lora(model: Any, options: Any) -> Any:
    """``model`` with peft LoRA adapters (rank ``lora_r``, no dropout) on ``lora_targets``."""
    try:
        import peft
    except ImportError:
        raise DebiasbenchError("-o lora=true needs the package peft; install it with: pip install peft") from None
    targets = [t.strip() for t in options.lora_targets.split(",") if t.strip()] or None
    config = peft.LoraConfig(r=options.lora_r, lora_alpha=options.lora_alpha, lora_dropout=0.0,
                             target_modules=targets, task_type="CAUSAL_LM")
    try:
        return peft.get_peft_model(model, config)
    except ValueError as exc:
        raise DebiasbenchError(f"LoRA could not wrap this model ({exc}); "
                               "name its modules with -o lora_targets=q_proj,v_proj") from None
