"""Lay out sentences that share opening tokens as one token tree per row (numpy only).

Sentences sorted lexicographically by token ids share their longest prefix with their immediate
predecessor, so writing each sentence's tokens after that shared prefix, one sentence after the
other, gives the prefix tree of the group in depth-first pre-order. Each tree node is one token
of the row; its position id is its depth (its index in its sentence), and it may attend exactly
to its ancestors, so every token sees the same context as in its sentence alone.

A CrowS pair shares its opening words and a StereoSet triple shares its context (and often the
words before the blank): the shared tokens are computed once per row instead of once per sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class TreeRow:
    """One packed row: the tree's tokens in pre-order, their depths, and each sentence's path.

    ``paths[k, d]`` is the row index of the node at depth ``d`` on sentence ``k``'s path (valid for
    ``d < lengths[k]``); the logits at ``paths[k, d - 1]`` predict that sentence's token ``d``.
    """

    members: np.ndarray  # sequence indices, in row order
    tokens: np.ndarray
    depths: np.ndarray
    paths: np.ndarray  # [len(members), max length]
    lengths: np.ndarray


def tree_row(sequences: Sequence[Sequence[int]], members: Sequence[int]) -> TreeRow:
    """The tree of ``sequences[m]`` for ``m`` in ``members``, which must be sorted lexicographically."""
    lengths = np.array([len(sequences[m]) for m in members], dtype=np.int64)
    width = int(lengths.max())
    table = np.full((len(members), width), -1, dtype=np.int64)
    for k, m in enumerate(members):
        table[k, :lengths[k]] = sequences[m]
    same = (table[1:] == table[:-1]) & (table[1:] >= 0)
    shared = np.where(same.all(axis=1), width, np.argmin(same, axis=1))
    shared = np.concatenate([[0], shared]).astype(np.int64)  # tokens shared with the predecessor
    depth = np.arange(width)
    introduced = (depth[None, :] >= shared[:, None]) & (depth[None, :] < lengths[:, None])
    starts = np.concatenate([[0], np.cumsum(lengths - shared)[:-1]])
    own = starts[:, None] + depth[None, :] - shared[:, None]  # row index of a node this sentence adds
    # The node at depth d on sentence k's path was added by the latest sentence <= k that added depth d.
    source = np.maximum.accumulate(np.where(introduced, np.arange(len(members))[:, None], -1), axis=0)
    paths = np.where(source >= 0, own[np.maximum(source, 0), depth[None, :]], -1)
    return TreeRow(
        members=np.asarray(members, dtype=np.int64),
        tokens=table[introduced], depths=np.broadcast_to(depth, table.shape)[introduced],
        paths=paths, lengths=lengths,
    )


def tree_rows(sequences: Sequence[Sequence[int]], row_size: int, groups: Sequence[int] | None = None) -> list[TreeRow]:
    """All sequences, sorted lexicographically and cut into rows of ``row_size`` sentences.

    With ``groups`` (one label per sequence), a group's sequences never straddle two rows, so a
    prefix they all share (a BBQ prompt before its answers) is computed exactly once: whole groups
    fill a row up to ``row_size`` sequences, and a larger group gets a row of its own.
    """
    order = sorted(range(len(sequences)), key=lambda i: list(sequences[i]))
    if groups is None:
        return [tree_row(sequences, order[i:i + row_size]) for i in range(0, len(order), row_size)]
    members: dict[int, list[int]] = {}
    for i in order:  # groups in the order of their lexicographically first sequence
        members.setdefault(groups[i], []).append(i)
    rows: list[list[int]] = [[]]
    for group in members.values():
        if rows[-1] and len(rows[-1]) + len(group) > row_size:
            rows.append([])
        rows[-1].extend(group)
    return [tree_row(sequences, sorted(row, key=lambda i: list(sequences[i]))) for row in rows if row]
