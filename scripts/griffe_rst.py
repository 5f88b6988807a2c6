"""Griffe extension for the docs build: the code's docstrings use reST literals and roles
(``x``, :class:`~a.B`, "example::"); rewrite them as Markdown so mkdocstrings renders them cleanly.

Loaded by ``mkdocs.yml`` (``extensions: [scripts/griffe_rst.py:RestToMarkdown]``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj|ref):`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")
_DOUBLE_COLON = re.compile(r"(\S)::$", re.MULTILINE)


def rest_to_markdown(text: str) -> str:
    """``:class:`~a.b.C``` -> `C`; ````x```` -> `x`; a line ending in ``::`` -> ``:``."""
    text = _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", text)
    text = _LITERAL.sub(r"`\1`", text)
    return _DOUBLE_COLON.sub(r"\1:", text)


class RestToMarkdown(griffe.Extension):
    """Rewrite every docstring once it is loaded."""

    def on_object(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rest_to_markdown(obj.docstring.value)
