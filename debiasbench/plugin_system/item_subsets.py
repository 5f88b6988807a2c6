"""The evaluated domains and the seeded per-domain item subset (``--eval-limit``), owned by the core.

Every metric draws its items here (through :class:`~debiasbench.plugin_system.interfaces.EvalContext`),
so the same seed and limit choose the same items for every metric, first- or third-party, and
before, after and every probe of a run are scored on the same items.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np


def generator(seed: int, *key: str) -> np.random.Generator:
    """A generator determined by ``seed`` and ``key`` alone (not by what else was drawn before)."""
    return np.random.default_rng([seed % (2**32), zlib.crc32("/".join(key).encode())])


def evaluated_domains(available: Sequence[str], requested: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """The domains to evaluate, in the data's order, and the requested ones the data does not have."""
    if requested is None:
        return list(available), []
    return [d for d in available if d in requested], [d for d in requested if d not in available]


def limit_indices(indices: np.ndarray, limit: int | None, seed: int, *key: str) -> np.ndarray:
    """At most ``limit`` of ``indices``: a sample seeded by ``seed`` and ``key``, kept in file order.

    The same seed gives the same subset on every call, so probes during unlearning compare like with like.
    """
    if limit is None or len(indices) <= limit:
        return indices
    return np.sort(generator(seed, "subset", *key).choice(indices, size=limit, replace=False))


def domain_subsets(domain_of: Sequence[Any] | np.ndarray, domains: Sequence[str], limit: int | None, seed: int,
                   *key: str) -> np.ndarray:
    """Indices of the evaluated items: each domain's seeded subset (:func:`limit_indices`, keyed by
    ``key`` and the domain), domain by domain in the order of ``domains``."""
    labels = np.asarray(domain_of)
    parts = [limit_indices(np.flatnonzero(labels == d), limit, seed, *key, d) for d in domains]
    return np.concatenate(parts or [np.zeros(0, dtype=np.int64)]).astype(np.int64)


def subset_protocol(limit: int | None) -> dict[str, object]:
    """How the subset was drawn, for ``MetricResult.protocol`` (which records the seed itself)."""
    if limit is None:
        return {"limit": None, "subset": "all"}
    return {"limit": limit, "subset": f"seeded sample of at most {limit} per domain, file order"}
