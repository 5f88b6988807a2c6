"""The ``counterfactual`` selector: a model-based stand-in for the seed study's GPT-4 marks.

For each text, the identity terms of its group (``women``) are swapped for the aligned terms
of every other group of the domain (``men``); both versions are scored by the model, and the
tokens whose log-probability drops most under the swap (averaged over the swaps) are the ones
the model ties to the group: those are selected. Tokens before the first swap have the same
context in both versions, so they never change and are never picked; the swapped terms
themselves have no counterpart and are not picked either.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from debiasbench.api import DebiasbenchError, SelectorContext, SpanSelector, TokenizedText, option
from debiasbench_unlearn.identity_terms import IDENTITY_TERMS, swap_term
from debiasbench_unlearn.selection import parse_options, require_selection
from debiasbench_unlearn.text_spans import PhraseMatcher

Edit = tuple[int, int, str]  # replace text[start:end] with the string


@dataclass
class CounterfactualOptions:
    top_k: float = option(0.25, "fraction of each text's tokens to select: those whose log-probability drops most under the swap")
    min_change: float = option(0.0, "select only tokens whose log-probability drops by more than this many nats")
    batch_size: int = option(16, "sequences scored per forward pass")

    def __post_init__(self) -> None:
        if not 0 < self.top_k <= 1:
            raise ValueError(f"top_k must be in (0, 1], got {self.top_k}")
        if self.min_change < 0:
            raise ValueError(f"min_change must be 0 or more, got {self.min_change}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be 1 or more, got {self.batch_size}")


@lru_cache(maxsize=32)
def _domain_matcher(domain: str) -> tuple[PhraseMatcher, dict[str, tuple[str, int]]]:
    """A matcher over every identity term of the domain, and term -> (group, position)."""
    where: dict[str, tuple[str, int]] = {}
    for group, terms in IDENTITY_TERMS[domain].items():
        for index, term in enumerate(terms):
            where.setdefault(term, (group, index))
    return PhraseMatcher(list(where)), where


def _match_case(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    return word[:1].upper() + word[1:] if template[:1].isupper() else word


def counterfactual_edits(text: str, domain: str) -> list[list[Edit]]:
    """One edit list per other group: the text's group terms replaced by that group's terms.

    The text's group is the one whose terms occur most often in it; overlapping matches keep
    the longest. No identity term in the text: no counterfactuals."""
    matcher, where = _domain_matcher(domain)
    matches = sorted(matcher.find(text), key=lambda m: (m[0], -(m[1] - m[0])))
    chosen: list[tuple[int, int, str]] = []
    for start, end, term in matches:
        if not chosen or start >= chosen[-1][1]:
            chosen.append((start, end, term))
    if not chosen:
        return []
    group = Counter(where[t][0] for _, _, t in chosen).most_common(1)[0][0]
    own = [(s, e, where[t][1]) for s, e, t in chosen if where[t][0] == group]
    return [[(s, e, _match_case(text[s:e], swap_term(domain, group, i, other))) for s, e, i in own]
            for other in IDENTITY_TERMS[domain] if other != group]


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    out, last = [], 0
    for start, end, new in edits:
        out += [text[last:start], new]
        last = end
    return "".join(out) + text[last:]


def align_tokens(orig: TokenizedText, edits: Sequence[Edit], cf_ids: Sequence[int], cf_offsets: Sequence[tuple[int, int]]) -> Any:
    """For each original token, the index of the same token in the counterfactual (same id, same
    characters shifted by the edits before it), or -1 (inside an edit, or re-tokenised)."""
    import numpy as np

    o = np.asarray(orig.offsets, dtype=np.int64).reshape(-1, 2)
    if not len(cf_ids) or not len(o):
        return np.full(len(o), -1)
    starts = np.array([s for s, _, _ in edits], dtype=np.int64)
    ends = np.array([e for _, e, _ in edits], dtype=np.int64)
    shifts = np.concatenate([[0], np.cumsum([len(new) - (e - s) for s, e, new in edits])])
    shift = shifts[np.searchsorted(ends, o[:, 0], side="right")]
    inside = ((o[:, None, 0] < ends[None, :]) & (o[:, None, 1] > starts[None, :])).any(axis=1)
    c = np.asarray(cf_offsets, dtype=np.int64).reshape(-1, 2)
    big = int(max(c.max(), (o + shift[:, None]).max())) + 1
    cf_key = c[:, 0] * big + c[:, 1]
    want = (o[:, 0] + shift) * big + (o[:, 1] + shift)
    order = np.argsort(cf_key, kind="stable")
    pos = np.clip(np.searchsorted(cf_key[order], want), 0, len(order) - 1)
    index = order[pos]
    ok = (cf_key[index] == want) & (np.asarray(cf_ids)[index] == np.asarray(orig.input_ids)) & ~inside
    return np.where(ok, index, -1)


class CounterfactualSelector(SpanSelector):
    """Tokens whose log-probability depends most on which group the text is about."""

    name: ClassVar[str] = "counterfactual"
    description: ClassVar[str] = "tokens whose log-probability drops most when the group term is swapped for other groups' (uses the model)"
    Options: ClassVar[type] = CounterfactualOptions

    def select(self, items: Sequence[TokenizedText], ctx: SelectorContext) -> list[list[bool]]:
        import numpy as np

        from debiasbench.api.lm import token_logprobs

        opts = parse_options(self.Options, ctx.options, f"selector {self.name!r}")
        if ctx.model is None:
            raise DebiasbenchError("selector 'counterfactual' scores texts with the model, but no model was given")
        if len(IDENTITY_TERMS.get(ctx.domain, {})) < 2:
            raise DebiasbenchError(f"selector 'counterfactual' has no identity groups to swap for domain {ctx.domain!r}")
        tokenizer = ctx.model.tokenizer
        variants: list[tuple[int, list[Edit]]] = []  # (item index, edits)
        for index, it in enumerate(items):
            variants += [(index, edits) for edits in counterfactual_edits(it.item.text, ctx.domain)]
        cf_texts = [apply_edits(items[i].item.text, edits) for i, edits in variants]
        enc = tokenizer(cf_texts, add_special_tokens=False, return_offsets_mapping=True) if cf_texts else {"input_ids": [], "offset_mapping": []}
        cf_ids = [ids[:len(items[i].input_ids) + 8] for (i, _), ids in zip(variants, enc["input_ids"])]
        scored = token_logprobs(ctx.model.model, [it.input_ids for it in items] + cf_ids, ctx.model.prefix_token_id, opts.batch_size)
        orig_lp, cf_lp = scored[:len(items)], scored[len(items):]

        gain_sum = [np.zeros(len(it.input_ids)) for it in items]
        gain_count = [np.zeros(len(it.input_ids)) for it in items]
        for (i, edits), ids, offsets, lp in zip(variants, cf_ids, enc["offset_mapping"], cf_lp):
            index = align_tokens(items[i], edits, ids, offsets[:len(ids)])
            hit = index >= 0
            gain_sum[i][hit] += orig_lp[i][hit] - lp[index[hit]]
            gain_count[i][hit] += 1
        masks = []
        for it, total, count in zip(items, gain_sum, gain_count):
            gain = np.where(count > 0, total / np.maximum(count, 1), -np.inf)
            k = math.ceil(opts.top_k * len(gain))
            top = np.argsort(-gain, kind="stable")[:k]
            mask = np.zeros(len(gain), dtype=bool)
            mask[top[gain[top] > opts.min_change]] = True
            masks.append(mask.tolist())
        return require_selection(masks, self.name, ctx.domain, "none of them mentions an identity term of the domain")
