"""One item resample shared by every figure of a cell (docs/statistics.md).

Before, every seed's after and every arm's after are scored on the same items, so they are paired
only if they are resampled together: this module checks that the figures cover the same items and
draws (or validates) the one count-weight matrix that :mod:`.change` applies to all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .resampling import Figure, weights_for

__all__ = ["check_resamples", "check_same_items", "resampled_units", "resolve_weights", "shared_weights", "stack"]


def check_same_items(*figures: Figure) -> int:
    """The common item count; pairing is only meaningful on the same (aligned) items."""
    sizes = [f.n for f in figures]
    if len(set(sizes)) != 1:
        raise ValueError(f"paired figures must be over the same items (align them by item id); got sizes {sizes}")
    if sizes[0] < 2:
        raise ValueError(f"need at least 2 items; got {sizes[0]}")
    return sizes[0]


def check_resamples(resamples: int, min_resamples: int) -> None:
    """Refuse a resample count that is not an integer of at least ``min_resamples`` (and 2)."""
    if int(resamples) != resamples or resamples < max(2, min_resamples):
        raise ValueError(f"resamples must be an integer >= {min_resamples}; got {resamples!r}")


def shared_weights(figures: Sequence[Figure], resamples: int = 1000, seed: int = 0, min_resamples: int = 1000) -> np.ndarray:
    """One item resample for every figure of a cell (before, each seed's after, each arm's).

    Cluster weights when the figures average groups (StereoSet target terms), item weights otherwise.
    """
    check_same_items(*figures)
    check_resamples(resamples, min_resamples)
    return weights_for(figures, resamples, np.random.default_rng(seed))


def resolve_weights(figures: Sequence[Figure], weights: np.ndarray | None, resamples: int, seed: int,
                    min_resamples: int) -> np.ndarray:
    """The caller's weights, checked against the figures, or a fresh :func:`shared_weights`."""
    if weights is None:
        return shared_weights(figures, resamples, seed, min_resamples)
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[1] != figures[0].n:
        raise ValueError(f"weights must have shape (B, {figures[0].n}); got {w.shape}")
    check_resamples(w.shape[0], min_resamples)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    return w


def resampled_units(figures: Sequence[Figure]) -> int:
    """Resampled units: groups for a figure that averages groups, else items."""
    groups = next((f.groups for f in figures if f.groups is not None), None)
    return int(np.unique(groups).size) if groups is not None else figures[0].n


def stack(figures: Sequence[Figure], w: np.ndarray) -> np.ndarray:
    """Each figure under every resample, one column per figure: (B, len(figures))."""
    return np.stack([f.resampled(w) for f in figures], axis=1)
