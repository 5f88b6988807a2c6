"""Entry point ``forget-sets``: registers the hatecheck (default offline), toxigen, dynahate and redditbias forget sets."""

from __future__ import annotations

from debiasbench.api import Register, hookimpl
from debiasbench_unlearn.dynahate import DynaHate
from debiasbench_unlearn.hatecheck import HateCheck
from debiasbench_unlearn.redditbias_forget_set import RedditBias
from debiasbench_unlearn.toxigen import ToxiGen


@hookimpl
def register_datasets(register: Register) -> None:
    register(HateCheck())
    register(ToxiGen())
    register(DynaHate())
    register(RedditBias())
