"""The forget sets' shared ``quick`` preset: a seeded sample of 192 forget texts.

One size for every forget set, so a quick run trains the same number of steps (24 at batch 8,
one epoch) whichever set it unlearns and the methods' quick learning rates, chosen for that
budget, mean the same thing: with all 1,019 RedditBias race texts (128 steps) the quick
``mlm-unlearn`` settings drove WikiText-2 perplexity from 24 to 6.6e15.
"""

from __future__ import annotations

from collections.abc import Mapping

from debiasbench.api import PresetValues

QUICK_FORGET_TEXTS = 192
FORGET_SET_PRESETS: Mapping[str, PresetValues] = {"quick": PresetValues(limit=QUICK_FORGET_TEXTS)}
