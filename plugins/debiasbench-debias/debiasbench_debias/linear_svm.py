"""A linear SVM without intercept, the classifier bias-bench's INLP trains (sklearn is not a dependency).

bias-bench uses ``sklearn.svm.LinearSVC(fit_intercept=False, dual=False)``: the primal problem with
squared hinge loss and L2 penalty, one-vs-rest over the classes (a single weight vector for two)::

    min_w  (1/2) ||w||^2 + C sum_i max(0, 1 - y_i w . x_i)^2,   y_i in {-1, +1}

The objective is smooth and strictly convex, so full-batch L-BFGS (torch, float64) finds the same
minimum; every class's vector is fitted at once (the objective is a sum over classes).
"""

from __future__ import annotations

import numpy as np


def _targets(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``[n, k]`` of +1/-1: one column per class, one column in total for two classes."""
    if len(classes) == 2:
        return np.where(y == classes[1], 1.0, -1.0)[:, None]
    return np.where(y[:, None] == classes[None, :], 1.0, -1.0)


def fit_linear_svm(X: np.ndarray, y: np.ndarray, C: float = 1.0, max_iter: int = 500) -> np.ndarray:
    """Weights ``[k, d]`` (``k = 1`` for two classes, else one row per class in sorted class order)."""
    import torch

    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError("a classifier needs at least two classes")
    x = torch.as_tensor(X, dtype=torch.float64)
    t = torch.as_tensor(_targets(y, classes), dtype=torch.float64)
    w = torch.zeros((x.shape[1], t.shape[1]), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w], lr=1.0, max_iter=max_iter, tolerance_grad=1e-9, tolerance_change=1e-12,
                                  history_size=20, line_search_fn="strong_wolfe")

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        margins = torch.clamp(1.0 - t * (x @ w), min=0.0)
        loss = 0.5 * (w * w).sum() + C * (margins * margins).sum()
        loss.backward()
        return loss

    optimizer.step(objective)
    return w.detach().numpy().T.copy()


def predict(W: np.ndarray, X: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The class each row of ``X`` is assigned (sign for two classes, arg-max otherwise)."""
    scores = X @ W.T
    if len(classes) == 2:
        return np.where(scores[:, 0] > 0, classes[1], classes[0])
    return classes[np.argmax(scores, axis=1)]


def accuracy(W: np.ndarray, X: np.ndarray, y: np.ndarray, classes: np.ndarray) -> float:
    """Share of ``X`` classified correctly."""
    return float(np.mean(predict(W, X, classes) == y)) if len(y) else float("nan")
