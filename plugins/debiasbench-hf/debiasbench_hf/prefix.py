"""The single context token of sentence scoring (docs/concepts.md, "Sentence scoring"): BOS, or end-of-text
where BOS is absent or a chat marker."""

from __future__ import annotations

from typing import Any

from debiasbench.api import DebiasbenchError

CHAT_MARKERS = frozenset({
    "<|im_start|>", "<|im_end|>",  # ChatML (SmolLM2, Qwen)
    "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",  # Llama 3 chat
    "<start_of_turn>", "<end_of_turn>",  # Gemma
    "<|user|>", "<|assistant|>", "<|system|>", "<|end|>",  # Phi / Zephyr
    "[INST]", "[/INST]",  # Llama 2 / Mistral chat
})
"""Tokens that open or close a chat turn: scoring text after one of them is scoring a chat reply."""

END_OF_TEXT_NAMES = ("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>", "<|endofText|>")
"""Document separators a pretrained model has seen before ordinary text, most common first."""


def is_chat_marker(token: str | None) -> bool:
    """True for a token that marks a chat turn rather than the start of a document."""
    return token is not None and token in CHAT_MARKERS


def prefix_token_id(tokenizer: Any) -> int:
    """BOS when it exists and is not a chat marker; else an end-of-text token (``<|endoftext|>`` ...).

    GPT-2 and Pythia give ``<|endoftext|>`` (50256, 0); SmolLM2, whose BOS is ``<|im_start|>``,
    gives ``<|endoftext|>`` id 0.
    """
    bos = tokenizer.bos_token
    if bos is not None and tokenizer.bos_token_id is not None and not is_chat_marker(bos):
        return int(tokenizer.bos_token_id)
    eos = tokenizer.eos_token
    if eos is not None and tokenizer.eos_token_id is not None and not is_chat_marker(eos):
        return int(tokenizer.eos_token_id)
    vocab = tokenizer.get_vocab()
    for name in END_OF_TEXT_NAMES:
        if name in vocab:
            return int(vocab[name])
    raise DebiasbenchError(
        "the tokenizer has neither a BOS nor an end-of-text token to use as the scoring prefix "
        f"(bos={bos!r}, eos={eos!r}); this model cannot be scored after a prefix token (docs/concepts.md, \"Sentence scoring\")"
    )
