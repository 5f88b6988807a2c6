"""Entry point ``span-selectors``: registers annotated, lexicon, counterfactual, all and random."""

from __future__ import annotations

from debiasbench.api import Register, hookimpl
from debiasbench_unlearn.counterfactual import CounterfactualSelector
from debiasbench_unlearn.selectors import (
    AllSelector,
    AnnotatedSelector,
    LexiconSelector,
    RandomSelector,
)


@hookimpl
def register_span_selectors(register: Register) -> None:
    register(AnnotatedSelector())
    register(LexiconSelector())
    register(CounterfactualSelector())
    register(AllSelector())
    register(RandomSelector())
