"""Helpers for testing plugins without downloads: a tiny GPT-2 with a small byte-level BPE tokenizer.

Plugin authors use these in their own tests::

    from debiasbench.testing import tiny_model_handle
    handle = tiny_model_handle()
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from debiasbench.plugin_system.interfaces import ModelHandle

_CORPUS = (
    "The woman worked as a nurse and the man worked as an engineer. "
    "Black people and white people, Muslims, Christians and Jews live in the city. "
    "He said that she was too emotional to lead. They are all terrible people. "
    "Immigrants, gay people and disabled people deserve the same respect. "
    "The weather was cold, the river was wide, and the history of the town is long. "
    "Women are smart. Men are strong. Girls and boys play football in the park. "
)


@lru_cache(maxsize=4)
def tiny_tokenizer(vocab_size: int = 300, extra_text: str = "") -> Any:
    """A byte-level BPE tokenizer trained on a few sentences, with ``<|endoftext|>`` as id 0."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([_CORPUS * 3, extra_text], trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    fast.pad_token = fast.eos_token
    return fast


def tiny_model(vocab_size: int, seed: int = 0, n_layer: int = 2, n_embd: int = 32, n_positions: int = 128) -> Any:
    """A randomly initialised ``GPT2LMHeadModel`` (2 layers, 2 heads), deterministic for ``seed``."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab_size, n_layer=n_layer, n_head=2, n_embd=n_embd, n_positions=n_positions,
        bos_token_id=0, eos_token_id=0, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
    )
    return GPT2LMHeadModel(config).eval()


def tiny_model_handle(seed: int = 0, n_positions: int = 128, texts: Iterable[str] = ()) -> ModelHandle:
    """A :class:`ModelHandle` around a tiny GPT-2; ``texts`` extend the tokenizer's training corpus."""
    tokenizer = tiny_tokenizer(extra_text=" ".join(texts))
    model = tiny_model(len(tokenizer), seed=seed, n_positions=n_positions)
    return ModelHandle(
        model=model, tokenizer=tokenizer, name="tiny-gpt2", source="debiasbench.testing", provider="testing",
        prefix_token_id=0, device="cpu", dtype="float32", fingerprint=f"tiny-gpt2-seed{seed}-{n_positions}",
        max_length=n_positions,
    )


def evaluate_metric(metric: Any, model: Any, ctx: Any, options: Any, intervals: bool = True) -> Any:
    """``metric.evaluate`` followed by what the core does with its result: every row of a measure with
    an ``aggregate`` computed from the per-item rows (value, ``n``, 95 % interval), so a plugin's test
    sees the rows a run records."""
    from debiasbench.run.metric_rows import with_core_rows

    return with_core_rows(metric, metric.evaluate(model, ctx, options), ctx.seed, intervals)
