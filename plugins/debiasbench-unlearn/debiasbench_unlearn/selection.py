"""Shared by the span selectors: turning character spans into token masks, parsing selector
options, and the "selected nothing" check. Forget texts are tokenised by the core's
``tokenize_forget`` (re-exported here for the selectors and the ``spans`` command)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from debiasbench.api import DebiasbenchError, build_options
from debiasbench.api.training import tokenize_forget

__all__ = ["parse_options", "require_selection", "spans_to_mask", "tokenize_forget"]


def spans_to_mask(offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]) -> list[bool]:
    """True for every (non-empty) token whose character range overlaps one of ``spans``."""
    import numpy as np

    if not offsets:
        return []
    off = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    if not spans:
        return [False] * len(off)
    sp = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    overlap = (off[:, None, 0] < sp[None, :, 1]) & (off[:, None, 1] > sp[None, :, 0])
    return (overlap.any(axis=1) & (off[:, 1] > off[:, 0])).tolist()


def require_selection(masks: list[list[bool]], selector: str, domain: str, hint: str = "") -> list[list[bool]]:
    """A selector that picks nothing in every text would make unlearning a no-op: fail loudly."""
    if not any(any(m) for m in masks):
        raise DebiasbenchError(
            f"span selector {selector!r} selected no token in any of the {len(masks)} forget texts "
            f"for domain {domain!r}{'; ' + hint if hint else ''}"
        )
    return masks


def parse_options(cls: type, raw: dict[str, Any], owner: str) -> Any:
    """Typed selector options from ``SelectorContext.options`` (strings from ``-s key=value``
    or already-typed values from Python); unknown keys fail with a did-you-mean."""
    names = {f.name for f in dataclasses.fields(cls)}
    typed = {k: v for k, v in raw.items() if k in names and not isinstance(v, str)}
    strings = {k: v for k, v in raw.items() if k not in typed}
    options = build_options(cls, strings, owner)
    return dataclasses.replace(options, **typed) if typed else options
