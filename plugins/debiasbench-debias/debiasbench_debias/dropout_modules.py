"""Raising a loaded model's dropout for one training run, and putting it back afterwards.

Setting ``config.*dropout*`` after loading changes nothing: the modules read their probability
when they are built. So the config keys (recorded, and what bias-bench sets on GPT-2:
``resid_pdrop``, ``embd_pdrop``, ``attn_pdrop``), every ``nn.Dropout`` module and every float
``attention_dropout`` attribute (Llama-style attention) are raised together. A model with no
``nn.Dropout`` at all (Llama, hence SmolLM2) has no hidden-state dropout to raise; for it the
GPT-2 equivalent is added: dropout on the output of every ``self_attn`` and ``mlp`` block (GPT-2's
``resid_pdrop``, applied before the residual sum) and of the input embeddings (``embd_pdrop``),
as forward hooks that act only in train mode. Everything is restored on exit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CONFIG_KEYS = ("resid_pdrop", "embd_pdrop", "attn_pdrop", "attention_dropout", "hidden_dropout", "hidden_dropout_prob",
               "attention_probs_dropout_prob", "summary_first_dropout")
"""Dropout probabilities a transformers config may carry."""


def _dropout_output(p: float) -> Any:
    import torch.nn.functional as F

    def hook(module: Any, args: Any, output: Any) -> Any:
        if not module.training:
            return output
        if isinstance(output, tuple):
            return (F.dropout(output[0], p, training=True), *output[1:])
        return F.dropout(output, p, training=True)

    return hook


def _residual_blocks(model: Any) -> list[Any]:
    """The attention and MLP blocks whose outputs join the residual stream, and the embeddings."""
    blocks = [m for name, m in model.named_modules() if name.rsplit(".", 1)[-1] in ("self_attn", "mlp")]
    return [model.get_input_embeddings(), *blocks]


@contextmanager
def raised_dropout(model: Any, p: float) -> Iterator[dict[str, Any]]:
    """Inside: dropout ``p`` on attention and hidden states (in train mode). Yields what was changed."""
    import torch

    config = model.config
    saved_config = {k: getattr(config, k) for k in CONFIG_KEYS if isinstance(getattr(config, k, None), float)}
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    attention = [m for m in model.modules() if isinstance(getattr(m, "attention_dropout", None), float)]
    saved_p = [m.p for m in dropouts]
    saved_attention = [m.attention_dropout for m in attention]
    hooks = [] if dropouts else [b.register_forward_hook(_dropout_output(p)) for b in _residual_blocks(model)]
    try:
        for key in saved_config:
            setattr(config, key, p)
        for module in dropouts:
            module.p = p
        for module in attention:
            module.attention_dropout = p
        yield {"config_keys": sorted(saved_config), "dropout_modules": len(dropouts),
               "attention_modules": len(attention), "output_hooks": len(hooks)}
    finally:
        for handle in hooks:
            handle.remove()
        for key, value in saved_config.items():
            setattr(config, key, value)
        for module, value in zip(dropouts, saved_p):
            module.p = value
        for module, value in zip(attention, saved_attention):
            module.attention_dropout = value


@contextmanager
def train_mode(model: Any) -> Iterator[None]:
    """``model.train()`` inside (dropout on), the mode it had afterwards."""
    was_training = model.training
    model.train()
    try:
        yield
    finally:
        model.train(was_training)
