"""Seeded random generators for a metric's own draws (SEAT's permutations, Winogender's quick subset).

Intervals and tests of changes are the core's; these draws are part of an instrument's definition.
"""

from __future__ import annotations

import zlib

import numpy as np


def generator(seed: int, *key: str) -> np.random.Generator:
    """A generator determined by ``seed`` and ``key`` (e.g. the instrument and the test name)."""
    return np.random.default_rng([seed % (2**32), zlib.crc32("/".join(key).encode())])
