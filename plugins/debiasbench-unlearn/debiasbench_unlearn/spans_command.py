"""``debiasbench spans``: show which tokens a span selector picks in a forget set.

Added to the command line by this plugin (``register_commands`` in selectors_plugin.py), through
the same public API a third-party plugin uses. The selection is exactly what ``debiasbench run``
would unlearn: the same tokenizer, the same selector and options, the same seeded subset. Most
selectors need only the tokenizer, but the model is loaded anyway so ``counterfactual`` works and
token boundaries match the run. Nothing heavy is imported at module level (``--help`` stays fast).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from debiasbench.api import (
    DebiasbenchError,
    ForgetSet,
    ModelSettings,
    Registry,
    SelectorContext,
    get_registry,
    load_model,
    parse_pairs,
)
from debiasbench.api.data import DataLocator, check_domain
from debiasbench_unlearn.selection import tokenize_forget

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


def _forget_set(registry: Registry, name: str | None) -> ForgetSet:
    """The named forget set, else the installed default one."""
    if name is None:
        entry = registry.default("dataset", lambda obj: isinstance(obj, ForgetSet))
        if entry is None:
            raise DebiasbenchError("no installed plugin provides a default forget set; pass --forget-set (see `debiasbench list datasets`)")
        return entry.obj  # type: ignore[no-any-return]
    dataset = registry.get("dataset", name)
    if not isinstance(dataset, ForgetSet):
        raise DebiasbenchError(f"data set {dataset.name!r} is {dataset.role} data, not a forget set; see `debiasbench list datasets`")
    return dataset


def _model_name(registry: Registry, name: str | None) -> str:
    if name is not None:
        return name
    entry = registry.default("model")
    if entry is None:
        raise DebiasbenchError("no installed plugin provides a default model; pass --model (see `debiasbench list models`)")
    return entry.name


def _print_selection(console: Console, items: list[Any], masks: list[list[bool]], what: str, tokenizer: str) -> None:
    """Each text with its selected tokens marked, then the counts."""
    for number, (item, mask) in enumerate(zip(items, masks), 1):
        marked = highlighted(item.item.text, item.offsets, mask, colour=console.color_system is not None)
        console.print(f"[dim]{number:>3}[/] {marked}", highlight=False, soft_wrap=True)
    selected = sum(sum(map(bool, m)) for m in masks)
    total = sum(len(m) for m in masks)
    with_any = sum(any(m) for m in masks)
    console.print(f"\n{what}: {len(items)} texts, {with_any} with a selection; {selected} of {total} tokens selected "
                  f"({100 * selected / max(total, 1):.1f}%), {escape(tokenizer)} tokenizer", highlight=False, soft_wrap=True)


def spans_command(
    domain: Annotated[str, typer.Option("--domain", help="Domain whose forget texts are shown, e.g. gender.")],
    forget_set: Annotated[Optional[str], typer.Option("--forget-set", help="Forget set (default: the installed default; hatecheck has annotated spans and works offline).")] = None,
    selector: Annotated[str, typer.Option("--selector", help="annotated | lexicon | counterfactual | all | random (see `debiasbench list selectors`).")] = "annotated",
    model: Annotated[Optional[str], typer.Option("--model", help="Model whose tokenizer (and, for counterfactual, scores) the selection uses (default: the installed default).")] = None,
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
    check_domain(domain)
    if limit < 0 or max_length < 2:
        raise DebiasbenchError("--limit must be 0 or more and --max-length 2 or more")
    registry = get_registry()
    dataset = _forget_set(registry, forget_set)
    chosen = registry.get("selector", selector)
    options = parse_pairs(option, "-o")
    chosen.check_options(options, registry)  # a typo fails before the model loads
    locator = DataLocator(data_dir, cache_dir)
    texts = dataset.load_forget(locator, domain, split)
    if not texts:
        raise DebiasbenchError(f"forget set {dataset.name!r} has no texts for domain {domain!r}")
    if limit and len(texts) > limit:
        texts = random.Random(seed).sample(texts, limit)
    handle = load_model(_model_name(registry, model), ModelSettings(device=device, cache_dir=cache_dir, seed=seed))
    items = [it for it in tokenize_forget(handle.tokenizer, texts, min(max_length, handle.max_length) - 1) if it.input_ids]
    ctx = SelectorContext(model=handle, data=locator, registry=registry, domain=domain, seed=seed, options=options)
    masks = chosen.select(items, ctx)
    _print_selection(Console(), items, masks, f"[bold]{escape(chosen.name)}[/] on {dataset.name} / {domain}", handle.name)
