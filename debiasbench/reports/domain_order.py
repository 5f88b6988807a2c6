"""The order domains are shown in: the toolkit's own order (:data:`~debiasbench.domains.DOMAINS`),
then any other by name. Shared by the study report's tables and its figures, so rows and columns
line up between them.
"""

from __future__ import annotations

from collections.abc import Sequence

from debiasbench.domains import DOMAINS

__all__ = ["domain_order"]


def domain_order(domains: Sequence[str]) -> list[str]:
    """The distinct ``domains``, known ones in the toolkit's order, then the others alphabetically."""
    return sorted(set(domains), key=lambda d: (DOMAINS.index(d) if d in DOMAINS else len(DOMAINS), d))
