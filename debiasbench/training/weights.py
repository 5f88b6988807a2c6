"""Which weights train, and putting the model back afterwards: all weights, or LoRA adapters merged
into the base once the loop ends (so ``handle.model`` is a plain model again)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from debiasbench.errors import DebiasbenchError
from debiasbench.plugin_system.interfaces import ModelHandle


@contextmanager
def trainable(handle: ModelHandle, options: Any, seed: int, checkpointing: bool = False) -> Iterator[tuple[Any, list[Any]]]:
    """Yield the model to train (``eval()`` mode: dropout off) and its trainable parameters.

    ``checkpointing``: gradient checkpointing on (see :func:`checkpointed`). Afterwards, whatever
    happened (a stopping rule, :class:`TrainingDiverged`, any error): the model is in ``eval()``
    mode, LoRA adapters are merged, checkpointing is off, every ``requires_grad`` flag is what it
    was and no gradient is left behind.
    """
    model = handle.model
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    if checkpointing:
        enable_checkpointing(model)
    torch.manual_seed(seed)  # LoRA initialisation
    try:
        trained = wrap_lora(model, options) if options.lora else model
    except BaseException:
        if checkpointing:
            disable_checkpointing(model)
        raise
    try:
        if not options.lora:
            for p in model.parameters():
                p.requires_grad_(True)
        trained.eval()  # dropout off while training: see debiasbench.training.loop
        if checkpointing:
            checkpointed(trained)
        yield trained, [p for p in trained.parameters() if p.requires_grad]
    finally:
        trained.eval()
        if options.lora:
            handle.model = trained.merge_and_unload()
        if checkpointing:
            disable_checkpointing(handle.model)
        for name, p in handle.model.named_parameters():
            p.requires_grad_(flags.get(name, p.requires_grad))
            p.grad = None


def enable_checkpointing(model: Any) -> None:
    """Turn on transformers' gradient checkpointing, non-reentrant (PyTorch's recommended variant:
    no input that requires grad is needed, so LoRA and frozen embeddings work as they are)."""
    if not getattr(model, "supports_gradient_checkpointing", False):
        raise DebiasbenchError(f"{type(model).__name__} does not support gradient checkpointing; leave --gradient-checkpointing out")
    enable = getattr(model, "activation_checkpointing_enable", None)  # transformers >= 5.x; the old name is deprecated
    if enable is not None:
        enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def checkpointed(model: Any) -> None:
    """Make the checkpointed layers act on it although the model is in ``eval()`` mode.

    transformers checkpoints a layer only while ``layer.training`` is True; ``model.train()`` would
    also switch dropout on, which the loop keeps off. So the flag is set on the checkpointing
    modules alone, not on their children: dropout and every other submodule stay in eval mode.
    """
    for module in model.modules():
        if getattr(module, "gradient_checkpointing", False) is True:
            module.training = True


def disable_checkpointing(model: Any) -> None:
    """Checkpointing off and eval mode back; also the input-grad hook peft adds for checkpointing."""
    if hasattr(model, "activation_checkpointing_disable"):
        model.activation_checkpointing_disable()
    elif getattr(model, "is_gradient_checkpointing", False):
        model.gradient_checkpointing_disable()
    if getattr(model, "_require_grads_hook", None) is not None:
        model.disable_input_require_grads()
    model.eval()


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
        with warnings.catch_warnings():  # peft reads transformers' deprecated is_gradient_checkpointing: not the user's concern
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            return peft.get_peft_model(model, config)
    except ValueError as exc:
        raise DebiasbenchError(f"LoRA could not wrap this model ({exc}); "
                               "name its modules with -o lora_targets=q_proj,v_proj") from None
