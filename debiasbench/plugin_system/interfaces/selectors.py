"""Span selectors: which tokens of a forget text are "the harmful part"."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from debiasbench.plugin_system.interfaces.common import Named, PluginLookup
from debiasbench.plugin_system.interfaces.datasets import DataLocatorProto, ForgetText
from debiasbench.plugin_system.interfaces.models import ModelHandle


@dataclass
class TokenizedText:
    """A forget text with its token ids (no special tokens) and each token's character span."""

    item: ForgetText
    input_ids: list[int]
    offsets: list[tuple[int, int]]


@dataclass
class SelectorContext:
    """What a selector may use: the model (counterfactual), the data (lexicon), a seed, options."""

    model: ModelHandle | None
    data: DataLocatorProto
    registry: PluginLookup
    domain: str
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)  # facts the selector records (method_info: ``selector_<key>``)


class SpanSelector(Named, ABC):
    """Decides which tokens of each forget text are unlearned. Its ``-s`` options arrive in
    ``SelectorContext.options``; :meth:`check_options` validates them while the run is planned."""

    def check_options(self, options: Mapping[str, Any], registry: PluginLookup) -> None:
        """Raise ``DebiasbenchError`` (one line) when ``options`` do not fit this selector; the
        default builds ``Options`` from them. A selector that passes options on overrides this."""
        from debiasbench.plugin_system.options import build_options

        build_options(self.Options, dict(options), f"selector {self.name!r}")

    @abstractmethod
    def select(self, items: Sequence[TokenizedText], ctx: SelectorContext) -> list[list[bool]]:
        """One boolean per token of each item: True = unlearn this token."""
