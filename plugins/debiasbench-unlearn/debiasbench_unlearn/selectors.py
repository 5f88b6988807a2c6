"""Span selectors that need no model: ``annotated``, ``lexicon`` and ``all`` (docs/concepts.md, "Span selectors").
``counterfactual`` is in counterfactual_selector.py, the ``random`` control selector in random_selector.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from debiasbench.api import DebiasbenchError, NoOptions, SelectorContext, SpanSelector, TokenizedText, option
from debiasbench_unlearn.lexicon import HURTLEX, lexicon_matcher
from debiasbench_unlearn.selection import (
    parse_options,
    require_selection,
    spans_to_mask,
)


class AnnotatedSelector(SpanSelector):
    """The data set's own harmful spans (HateCheck ``focus_words``)."""

    name: ClassVar[str] = "annotated"
    default: ClassVar[bool] = True  # the selector of a method whose -o selector is not given
    description: ClassVar[str] = "tokens inside the spans the forget set annotates (HateCheck focus words)"
    Options: ClassVar[type] = NoOptions

    def select(self, items: Sequence[TokenizedText], ctx: SelectorContext) -> list[list[bool]]:
        parse_options(self.Options, ctx.options, f"selector {self.name!r}")
        if items and all(it.item.spans is None for it in items):
            source = items[0].item.source or "this forget set"
            raise DebiasbenchError(
                f"selector 'annotated' needs annotated spans, but {source} has none for domain {ctx.domain!r}; "
                "use -o selector=lexicon or -o selector=counterfactual, or --forget-set hatecheck"
            )
        masks = [spans_to_mask(it.offsets, it.item.spans or ()) for it in items]
        return require_selection(masks, self.name, ctx.domain)


@dataclass
class LexiconOptions:
    lexicon: str | None = option(None, "word-list file (one term per line, or a HurtLex-style TSV); default: HurtLex from the data folder")
    level: Literal["conservative", "inclusive"] = option("conservative", "HurtLex level: conservative entries only, or all (inclusive)")
    categories: str = option("", "comma-separated HurtLex categories to keep (e.g. ps,cds,dmc); empty: all")
    identity_terms: bool = option(True, "also select the domain's identity terms (identity_terms.py)")
    keep_common: bool = option(False, "keep single-word lexicon entries that are frequent English words (do, know, people)")


class LexiconSelector(SpanSelector):
    """Whole-word, case-insensitive matches of lexicon terms (multi-word terms too) and of the
    domain's identity terms."""

    name: ClassVar[str] = "lexicon"
    description: ClassVar[str] = "tokens of HurtLex terms (or -s lexicon=FILE) and the domain's identity terms"
    Options: ClassVar[type] = LexiconOptions

    def select(self, items: Sequence[TokenizedText], ctx: SelectorContext) -> list[list[bool]]:
        opts = parse_options(self.Options, ctx.options, f"selector {self.name!r}")
        path = Path(opts.lexicon).expanduser() if opts.lexicon else ctx.data.path(HURTLEX)
        categories = tuple(c.strip() for c in opts.categories.split(",") if c.strip())
        matcher = lexicon_matcher(path, opts.level, categories, ctx.domain, opts.identity_terms, opts.keep_common)
        masks = [spans_to_mask(it.offsets, matcher.spans(it.item.text)) for it in items]
        return require_selection(masks, self.name, ctx.domain, f"no term of {path.name} occurs in them")


class AllSelector(SpanSelector):
    """Every token: turns ``mlm-unlearn`` into token-level gradient ascent."""

    name: ClassVar[str] = "all"
    description: ClassVar[str] = "every token of every text (mlm-unlearn becomes token-ga)"
    Options: ClassVar[type] = NoOptions

    def select(self, items: Sequence[TokenizedText], ctx: SelectorContext) -> list[list[bool]]:
        parse_options(self.Options, ctx.options, f"selector {self.name!r}")
        masks = [[end > start for start, end in it.offsets] for it in items]
        return require_selection(masks, self.name, ctx.domain, "the texts are empty")
