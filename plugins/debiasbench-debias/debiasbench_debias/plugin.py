"""Entry point ``debiasing-methods``: registers cda, dropout, inlp, sentence-debias and self-debias."""

from __future__ import annotations

from debiasbench.api import Register, hookimpl
from debiasbench_debias.cda import CDA
from debiasbench_debias.dropout import Dropout
from debiasbench_debias.inlp import INLP
from debiasbench_debias.self_debias import SelfDebias
from debiasbench_debias.sentence_debias import SentenceDebias


@hookimpl
def register_methods(register: Register) -> None:
    register(CDA())
    register(Dropout())
    register(INLP())
    register(SentenceDebias())
    register(SelfDebias())
