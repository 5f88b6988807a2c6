"""Entry point ``span-selectors``: registers annotated, lexicon, counterfactual, all and random,
and the ``debiasbench spans`` command that shows what they select."""

from __future__ import annotations

from debiasbench.api import Register, RegisterCommand, hookimpl
from debiasbench_unlearn.counterfactual_selector import CounterfactualSelector
from debiasbench_unlearn.selectors import (
    AllSelector,
    AnnotatedSelector,
    LexiconSelector,
)
from debiasbench_unlearn.random_selector import RandomSelector
from debiasbench_unlearn.spans_command import spans_command


@hookimpl
def register_span_selectors(register: Register) -> None:
    register(AnnotatedSelector())
    register(LexiconSelector())
    register(CounterfactualSelector())
    register(AllSelector())
    register(RandomSelector())


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    register(spans_command, name="spans")
