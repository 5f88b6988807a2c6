"""The ``random`` selector behind the ``random-tokens`` control (docs/statistics.md, "The controls").

It separates "these tokens" from "this many tokens": per text, as many tokens as another selector
(the controlled run's) picks, drawn only from the tokens that selector did **not** pick, so the
control never unlearns a harmful word the method unlearns. Identity terms (the domain's group
words, identity_terms.py) are matched in number separately: if the method's picks hold two
identity-term tokens, the control draws two identity-term tokens it did not pick and the rest from
the other tokens. Without that, a text naming the group ("women are ...") would hand the control
the group's name far more often than the method, and the control would test "unlearn the name".

Where a text has too few unpicked tokens of a kind, the control draws what there is; the shortfall,
the overlap with the picks (always 0) and both identity-term counts are recorded in
``method_info`` (``selector_*``) and shown in the study report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from debiasbench.api import DebiasbenchError, SelectorContext, SpanSelector, TokenizedText, option
from debiasbench_unlearn.identity_terms import identity_matcher
from debiasbench_unlearn.selection import parse_options, require_selection, spans_to_mask


@dataclass
class RandomOptions:
    budget_from: str = option("lexicon", "selector whose per-text token count this control matches; its options pass through")


@dataclass
class Draw:
    """Counts of one text's draw (summed over texts into the notes)."""

    budget: int = 0  # tokens the budget selector picked
    drawn: int = 0  # tokens this control picked
    identity_budget: int = 0  # identity-term tokens among the picks
    identity_drawn: int = 0  # identity-term tokens among the control's tokens
    overlap: int = 0  # tokens both picked (0 by construction; recorded as proof)

    def add(self, other: Draw) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def complement_draw(picked: Sequence[bool], identity: Sequence[bool], real: Sequence[bool], rng: Any) -> tuple[list[bool], Draw]:
    """One text: as many identity-term and other tokens as ``picked`` holds of each, drawn without
    replacement from the ``real`` (non-empty) tokens not in ``picked``."""
    import numpy as np

    picked_a, ident_a, real_a = (np.asarray(v, dtype=bool) for v in (picked, identity, real))
    mask = np.zeros(len(picked_a), dtype=bool)
    counts = Draw(budget=int(picked_a.sum()), identity_budget=int((picked_a & ident_a).sum()))
    for want, pool in ((counts.identity_budget, real_a & ident_a & ~picked_a),
                       (counts.budget - counts.identity_budget, real_a & ~ident_a & ~picked_a)):
        where = np.flatnonzero(pool)
        take = min(want, len(where))
        if take:
            mask[rng.choice(where, size=take, replace=False)] = True
    counts.drawn = int(mask.sum())
    counts.identity_drawn = int((mask & ident_a).sum())
    counts.overlap = int((mask & picked_a).sum())
    return mask.tolist(), counts


class RandomSelector(SpanSelector):
    """A control: in each text, as many tokens as another selector picks there, drawn from the
    tokens it did not pick, identity terms matched in number separately (seeded by ``--seed``)."""

    name: ClassVar[str] = "random"
    description: ClassVar[str] = ("random tokens the budget selector did not pick, as many per text as it picks, "
                                  "identity terms matched in number (-s budget_from=lexicon)")
    Options: ClassVar[type] = RandomOptions

    def check_options(self, options: Mapping[str, Any], registry: Any) -> None:
        """Its own ``budget_from``, then the rest as the budget selector's options."""
        opts = parse_options(self.Options, {k: v for k, v in options.items() if k == "budget_from"}, f"selector {self.name!r}")
        budget_selector = registry.get("selector", opts.budget_from)
        if budget_selector.name == self.name:
            raise DebiasbenchError("selector 'random' cannot take its budget from itself; use -s budget_from=lexicon")
        budget_selector.check_options({k: v for k, v in options.items() if k != "budget_from"}, registry)

    def select(self, items: Sequence[TokenizedText], ctx: SelectorContext) -> list[list[bool]]:
        import numpy as np

        own = {k: v for k, v in ctx.options.items() if k == "budget_from"}
        opts = parse_options(self.Options, own, f"selector {self.name!r}")
        budget_selector = ctx.registry.get("selector", opts.budget_from)
        if budget_selector.name == self.name:
            raise DebiasbenchError("selector 'random' cannot take its budget from itself; use -s budget_from=lexicon")
        passed = SelectorContext(model=ctx.model, data=ctx.data, registry=ctx.registry, domain=ctx.domain, seed=ctx.seed,
                                 options={k: v for k, v in ctx.options.items() if k != "budget_from"})
        picks = budget_selector.select(items, passed)
        if not any(any(p) for p in picks):
            raise DebiasbenchError(f"selector 'random' matches the budget of {budget_selector.name!r}, which picks no token "
                                   f"in the {len(items)} texts of domain {ctx.domain!r}: a zero budget controls nothing")
        identity = identity_matcher(ctx.domain)
        rng = np.random.default_rng(ctx.seed)
        masks, total = [], Draw()
        for it, picked in zip(items, picks):
            ident = spans_to_mask(it.offsets, identity.spans(it.item.text))
            real = [end > start for start, end in it.offsets]
            mask, counts = complement_draw(picked, ident, real, rng)
            masks.append(mask)
            total.add(counts)
        ctx.notes.update({"budget_from": budget_selector.name, "budget_tokens": total.budget, "drawn_tokens": total.drawn,
                          "shortfall": total.budget - total.drawn, "overlap_with_budget": total.overlap,
                          "identity_tokens_budget": total.identity_budget, "identity_tokens_drawn": total.identity_drawn})
        return require_selection(masks, self.name, ctx.domain)
