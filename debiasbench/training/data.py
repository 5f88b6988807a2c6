"""What the loop trains on: the forget texts tokenised and selected, retain text, and the texts the
retain-perplexity ceiling is measured on. Imports no torch."""

from __future__ import annotations

import dataclasses

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from debiasbench.errors import DebiasbenchError
from debiasbench.plugin_system.interfaces import ForgetText, ModelHandle, SelectorContext, TokenizedText, UnlearnContext
from debiasbench.data.locator import DataLocator
from debiasbench.training.objective import UnlearningLoss
from debiasbench.training.options import ALL_TEXTS


@dataclass
class TrainingData:
    """Tokenised forget texts with their selections (texts without one dropped), and the retain material."""

    ids: list[list[int]]
    masks: list[list[bool]]
    selected_tokens: int
    total_tokens: int
    dropped_texts: int
    retain_ids: list[list[int]] = field(default_factory=list)
    ppl_ids: list[list[int]] = field(default_factory=list)
    ppl_masks: list[list[bool]] = field(default_factory=list)
    ppl_source: str = ""
    selector_notes: dict[str, Any] = field(default_factory=dict)  # what the selector recorded about its selection


def prepare(method: str, handle: ModelHandle, options: Any, ctx: UnlearnContext, loss: UnlearningLoss) -> TrainingData:
    """Tokenise and select the forget texts, tokenise retain text, pick the perplexity texts."""
    if not ctx.forget:
        raise DebiasbenchError(f"method {method!r} got no forget texts")
    max_tokens = max(1, min(options.max_length, handle.max_length) - 1)  # one position for the prefix token
    items = [it for it in tokenize_forget(handle.tokenizer, ctx.forget, max_tokens) if it.input_ids]
    if not items:
        raise DebiasbenchError(f"method {method!r}: every forget text is empty after tokenisation")
    notes: dict[str, Any] = {}
    masks = _select(handle, items, options, ctx, loss, notes)
    keep = [i for i, m in enumerate(masks) if any(m)]
    data = TrainingData(
        ids=[items[i].input_ids for i in keep], masks=[masks[i] for i in keep],
        selected_tokens=sum(sum(m) for m in masks), total_tokens=sum(len(m) for m in masks),
        dropped_texts=len(items) - len(keep), selector_notes=notes,
    )
    if loss.needs_retain:
        data.retain_ids = _tokenize(handle.tokenizer, ctx.retain, max_tokens)
        if not data.retain_ids:
            raise DebiasbenchError(f"method {method!r} needs retain text, but none was given; "
                                   "choose a forget set that has retain text")
    if options.retain_ppl_ceiling is not None:
        _perplexity_set(data, handle, ctx, options, max_tokens)
    return data


def tokenize_forget(tokenizer: Any, items: Sequence[ForgetText], max_tokens: int | None = None) -> list[TokenizedText]:
    """Token ids (no special tokens) and character offsets of each text, cut to ``max_tokens``."""
    if not items:
        return []
    kwargs = {"truncation": True, "max_length": max_tokens} if max_tokens else {}
    enc = tokenizer([i.text for i in items], add_special_tokens=False, return_offsets_mapping=True, **kwargs)
    return [TokenizedText(item=item, input_ids=list(ids), offsets=[tuple(o) for o in offs])
            for item, ids, offs in zip(items, enc["input_ids"], enc["offset_mapping"])]


def _select(handle: ModelHandle, items: list[TokenizedText], options: Any, ctx: UnlearnContext,
            loss: UnlearningLoss, notes: dict[str, Any]) -> list[list[bool]]:
    """The selector's masks (``select_all``: every token with a character span), checked for shape."""
    if loss.select_all:
        every = [[end > start for start, end in it.offsets] for it in items]
        like = getattr(options, "texts_like", ALL_TEXTS)
        if like == ALL_TEXTS:
            return every
        keep = _select_with(_named_or_default_selector(ctx.registry, like), handle, items, ctx, notes)
        return [mask if any(chosen) else [False] * len(mask) for mask, chosen in zip(every, keep)]
    return _select_with(ctx.selector or _named_or_default_selector(ctx.registry, options.selector), handle, items, ctx, notes)


def _select_with(selector: Any, handle: ModelHandle, items: list[TokenizedText], ctx: UnlearnContext,
                 notes: dict[str, Any]) -> list[list[bool]]:
    """One selector's masks on the items, checked for shape; what it notes lands in ``notes``."""
    selector_ctx = ctx.selector_ctx or SelectorContext(model=handle, data=DataLocator(), registry=ctx.registry,
                                                       domain=items[0].item.domain, seed=ctx.seed)
    selector_ctx = dataclasses.replace(selector_ctx, notes={})
    masks = selector.select(items, selector_ctx)
    notes.update(selector_ctx.notes)
    if len(masks) != len(items) or any(len(m) != len(it.input_ids) for m, it in zip(masks, items)):
        raise DebiasbenchError(f"span selector {selector.name!r} returned masks that do not match the tokens of the texts")
    return [list(map(bool, m)) for m in masks]


def _tokenize(tokenizer: Any, texts: Sequence[str], max_tokens: int) -> list[list[int]]:
    if not texts:
        return []
    enc = tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=max_tokens)
    return [list(ids) for ids in enc["input_ids"] if ids]


def _perplexity_set(data: TrainingData, handle: ModelHandle, ctx: UnlearnContext, options: Any, max_tokens: int) -> None:
    """Retain text when the orchestrator passed some; else the unselected tokens of the forget
    texts (the context mlm-unlearn means to keep)."""
    rng = random.Random(ctx.seed)
    if ctx.retain:
        texts = list(ctx.retain)
        texts = rng.sample(texts, min(options.retain_eval_texts, len(texts)))
        data.ppl_ids = _tokenize(handle.tokenizer, texts, max_tokens)
        data.ppl_masks = [[True] * len(ids) for ids in data.ppl_ids]
        data.ppl_source = "retain text"
        return
    rows = [i for i, m in enumerate(data.masks) if not all(m)]
    if not rows:
        raise DebiasbenchError("-o retain_ppl_ceiling needs retain text or unselected tokens, and this run has neither "
                               "(every token is selected); use a method that takes retain text or drop the ceiling")
    rows = sorted(rng.sample(rows, min(options.retain_eval_texts, len(rows))))
    data.ppl_ids = [data.ids[i] for i in rows]
    data.ppl_masks = [[not s for s in data.masks[i]] for i in rows]
    data.ppl_source = "unselected forget tokens"


def _named_or_default_selector(registry: Any, name: str | None) -> Any:
    """The selector the options name, else the registry's default one (a method run outside a plan)."""
    if name is not None:
        return registry.selector(name)
    entry = registry.default("selector")
    if entry is None:
        raise DebiasbenchError("no span selector was named and no installed plugin provides a default one; pass -o selector=NAME")
    return entry.obj
