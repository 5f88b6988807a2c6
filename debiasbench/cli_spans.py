"""``debiasbench spans``: show which tokens a span selector picks in a forget set.

The selection is exactly what ``debiasbench run`` would unlearn: the same tokenizer, the same
selector and options, the same seeded subset. Only the model's tokenizer is needed for most
selectors, but the model is loaded anyway so ``counterfactual`` works and token boundaries
match the run.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from debiasbench.errors import DebiasbenchError
from debiasbench.orchestration.config import DEFAULT_FORGET_SET, DEFAULT_MODEL

HIGHLIGHT = "bold red"


def highlighted(text: str, offsets: list[tuple[int, int]], mask: list[bool], colour: bool = True) -> str:
    """Rich markup of ``text`` with the characters of selected tokens highlighted: in colour on a
    terminal, else between ``[[`` and ``]]`` so piped output and logs still show the selection."""
    chosen = [False] * len(text)
    for (start, end), selected in zip(offsets, mask):
        if selected:
            chosen[start:end] = [True] * (end - start)
    parts, start = [], 0
    for i in range(1, len(text) + 1):
        if i == len(text) or chosen[i] != chosen[start]:
            piece = escape(text[start:i])
            if chosen[start]:
                raw = text[start:i]
                bare = raw.lstrip()  # a token's leading space stays outside the marks
                piece = f"[{HIGHLIGHT}]{piece}[/]" if colour else escape(f"{raw[:len(raw) - len(bare)]}[[{bare}]]")
            parts.append(piece)
            start = i
    return "".join(parts)


def _tokenize(tokenizer: Any, items: list[Any], max_tokens: int) -> list[Any]:
    """TokenizedText for each forget text (token ids without special tokens, character offsets)."""
    from debiasbench.plugin_system.interfaces import TokenizedText

    enc = tokenizer([i.text for i in items], add_special_tokens=False, return_offsets_mapping=True,
                    truncation=True, max_length=max_tokens)
    return [TokenizedText(item=item, input_ids=list(ids), offsets=[tuple(o) for o in offs])
            for item, ids, offs in zip(items, enc["input_ids"], enc["offset_mapping"])]


def spans_command(
    domain: Annotated[str, typer.Option("--domain", help="Domain whose forget texts are shown, e.g. gender.")],
    forget_set: Annotated[str, typer.Option("--forget-set", help="Forget set (hatecheck has annotated spans and works offline).")] = DEFAULT_FORGET_SET,
    selector: Annotated[str, typer.Option("--selector", help="annotated | lexicon | counterfactual | all | random (see `debiasbench list selectors`).")] = "annotated",
    model: Annotated[str, typer.Option("--model", help="Model whose tokenizer (and, for counterfactual, scores) the selection uses.")] = DEFAULT_MODEL,
    split: Annotated[Optional[str], typer.Option("--split", help="Forget-set split, for sets that have splits.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Use a seeded sample of N texts; 0 = every text.")] = 20,
    max_length: Annotated[int, typer.Option("--max-length", help="Tokens per text, as the method's max_length option.")] = 128,
    option: Annotated[Optional[list[str]], typer.Option("--option", "-o", help="Selector option key=value (e.g. -o top_k=0.2).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the sample and the random selector.")] = 0,
    device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda | cuda:N | mps")] = "auto",
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", envvar="DEBIASBENCH_DATA", help="Data folder (else cache, else download).")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", envvar="DEBIASBENCH_CACHE", help="Toolkit cache (models, data).")] = None,
) -> None:
    """Show the tokens a span selector marks as harmful in a forget set, and how many."""
    from debiasbench.domains import check_domain
    from debiasbench.orchestration.models import load_model
    from debiasbench.plugin_system.interfaces import (
        ForgetSet,
        ModelSettings,
        SelectorContext,
    )
    from debiasbench.plugin_system.loader import get_registry
    from debiasbench.plugin_system.options import parse_pairs
    from debiasbench.support.data import DataLocator

    check_domain(domain)
    if limit < 0 or max_length < 2:
        raise DebiasbenchError("--limit must be 0 or more and --max-length 2 or more")
    registry = get_registry()
    dataset = registry.get("dataset", forget_set)
    if not isinstance(dataset, ForgetSet):
        raise DebiasbenchError(f"data set {dataset.name!r} is {dataset.role} data, not a forget set; see `debiasbench list datasets`")
    chosen = registry.get("selector", selector)
    locator = DataLocator(data_dir, cache_dir)
    texts = dataset.load_forget(locator, domain, split)
    if not texts:
        raise DebiasbenchError(f"forget set {dataset.name!r} has no texts for domain {domain!r}")
    if limit and len(texts) > limit:
        texts = random.Random(seed).sample(texts, limit)
    handle = load_model(model, ModelSettings(device=device, cache_dir=cache_dir, seed=seed), registry)
    items = [it for it in _tokenize(handle.tokenizer, texts, min(max_length, handle.max_length) - 1) if it.input_ids]
    ctx = SelectorContext(model=handle, data=locator, registry=registry, domain=domain, seed=seed, options=parse_pairs(option, "-o"))
    masks = chosen.select(items, ctx)

    out = Console()
    for number, (item, mask) in enumerate(zip(items, masks), 1):
        marked = highlighted(item.item.text, item.offsets, mask, colour=out.color_system is not None)
        out.print(f"[dim]{number:>3}[/] {marked}", highlight=False, soft_wrap=True)
    selected = sum(sum(map(bool, m)) for m in masks)
    total = sum(len(m) for m in masks)
    with_any = sum(any(m) for m in masks)
    out.print(
        f"\n[bold]{chosen.name}[/] on {dataset.name} / {domain}: {len(items)} texts, {with_any} with a selection; "
        f"{selected} of {total} tokens selected ({100 * selected / max(total, 1):.1f}%), {handle.name} tokenizer",
        highlight=False, soft_wrap=True,
    )
