"""Orthogonal projections of the output layer's input, and folding them into the output layer.

``P`` (d x d, symmetric, ``P @ P = P``) removes a subspace from the hidden state ``h`` that feeds
the output layer; ``logits = W (P h) = (W P) h``, so replacing ``W`` by ``W P`` applies it with
ordinary weights (saved and loaded like any checkpoint, honoured by the metrics' fast output layer
that reads ``lm_head.weight``). Where ``lm_head`` shares its weight with the input embeddings
(GPT-2, SmolLM2), the two are untied first so the embeddings stay as they were.
"""

from __future__ import annotations

from typing import Any

import numpy as np

RANK_TOLERANCE = 1e-10
"""Singular values below this (relative to the largest) do not count towards a rowspace."""


def rowspace_basis(W: np.ndarray) -> np.ndarray:
    """Orthonormal basis (d x r) of the row space of ``W`` (k x d); empty when ``W`` is zero."""
    W = np.atleast_2d(np.asarray(W, dtype=np.float64))
    _, s, vt = np.linalg.svd(W, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return np.zeros((W.shape[1], 0))
    return vt[s > RANK_TOLERANCE * s[0]].T


def rowspace_projection(W: np.ndarray) -> np.ndarray:
    """``P_R(W) = B B^T``: the orthogonal projection onto the row space of ``W``."""
    basis = rowspace_basis(W)
    return basis @ basis.T


def nullspace_projection(rowspace_projections: list[np.ndarray], dim: int) -> np.ndarray:
    """Projection onto ``N(w_1) n ... n N(w_n) = N(P_R(w_1) + ... + P_R(w_n))`` (Ben-Israel 2013),
    as INLP composes it: ``I - P_R(sum_i P_R(w_i))``."""
    if not rowspace_projections:
        return np.eye(dim)
    return np.eye(dim) - rowspace_projection(np.sum(rowspace_projections, axis=0))


def remove_directions(directions: np.ndarray) -> np.ndarray:
    """``I - V V^T`` for the orthonormalised rows of ``directions`` (k x d): SentenceDebias'
    ``h - sum_j (h . v_j) v_j``."""
    directions = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    return np.eye(directions.shape[1]) - rowspace_projection(directions)


def untie_output_layer(model: Any) -> bool:
    """Give ``lm_head`` its own weight when it shares the input embeddings'; True when it did."""
    import torch

    head, embeddings = model.get_output_embeddings(), model.get_input_embeddings()
    if head is None or embeddings is None or head.weight.data_ptr() != embeddings.weight.data_ptr():
        return False
    head.weight = torch.nn.Parameter(head.weight.detach().clone(), requires_grad=head.weight.requires_grad)
    for config in {id(c): c for c in (model.config, _text_config(model.config))}.values():
        config.tie_word_embeddings = False
    return True


def _text_config(config: Any) -> Any:
    getter = getattr(config, "get_text_config", None)
    return getter() if callable(getter) else config


def project_output_layer(model: Any, P: np.ndarray) -> dict[str, Any]:
    """Replace the output layer's weight ``W`` (vocab x d) by ``W P``; what was done, for the run record."""
    import torch

    head = model.get_output_embeddings()
    if head is None:
        raise ValueError("the model has no output layer to project")
    d = head.weight.shape[1]
    if P.shape != (d, d):
        raise ValueError(f"projection is {P.shape[0]} x {P.shape[1]}, the output layer reads {d} features")
    untied = untie_output_layer(model)
    with torch.no_grad():
        W = head.weight.detach().double()
        head.weight.copy_((W @ torch.as_tensor(P, dtype=torch.float64, device=W.device)).to(head.weight.dtype))
    return {"untied_from_input_embeddings": untied, "projection_rank_removed": int(round(d - np.trace(P)))}
