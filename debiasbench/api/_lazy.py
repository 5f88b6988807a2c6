"""Module-level ``__getattr__`` for promised names that import torch: loaded on first use, so
``import debiasbench.api`` (and every plugin module) stays fast for the command line."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_getattr(namespace: str, table: dict[str, str], scope: dict[str, Any]) -> Callable[[str], Any]:
    """A ``__getattr__`` for ``namespace`` that imports ``table[name]``'s module on first use and
    caches the value in ``scope`` (the namespace's globals)."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {namespace!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        scope[name] = value
        return value

    return __getattr__
