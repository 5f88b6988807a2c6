"""Shared by every plugin kind: options, presets, the Named base and the progress factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol


@dataclass
class NoOptions:
    """Options class for a plugin object that takes none."""


def option(default: Any, help: str, **kwargs: Any) -> Any:
    """A documented dataclass field for typed plugin options (``-o key=value``)."""
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **kwargs})
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass(frozen=True)
class PresetValues:
    """What one preset (``quick``, ``full`` or a plugin's own) means for one object.

    ``options``: typed values for fields of the object's ``Options`` (validated when plugins
    load); ``limit``: for a metric, items per evaluated domain (a seeded subset); for a forget
    set, forget texts; ``domains``: for a metric, the evaluated domains (None: every domain).
    The user's explicit options, ``--eval-limit``, ``--forget-limit`` and ``--eval-domains``
    always win over a preset.
    """

    options: Mapping[str, Any] = field(default_factory=dict)
    limit: int | None = None
    domains: tuple[str, ...] | None = None


class Named:
    """Shared by every registrable object: a unique name per kind, aliases, a one-line description.

    ``presets`` maps preset names to :class:`PresetValues`: each object says itself what a preset
    means for it, so the core knows no option of any plugin. ``default`` marks the object the core
    uses when the user names none (the model, the metrics of a run, the forget set); when several
    plugins mark a default, the first in name order wins.
    """

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    presets: ClassVar[Mapping[str, PresetValues]] = {}
    default: ClassVar[bool] = False


ProgressFactory = Callable[..., Any]
"""``progress(description, total=None)`` -> a context manager with ``advance(n=1, **fields)``."""


class PluginLookup(Protocol):
    """The registry as plugins and contexts see it (``ctx.registry``): look-ups only.

    The core's :class:`~debiasbench.plugin_system.registry.Registry` satisfies it. The interfaces name
    this protocol rather than the class so the contract does not import the registry, which imports
    the contract (one way, no circle)."""

    def get(self, kind: str, name: str) -> Any: ...

    # typed look-ups (each returns the kind's interface; an unknown name raises UnknownNameError)
    def method(self, name: str) -> Any: ...

    def metric(self, name: str) -> Any: ...

    def model_provider(self, name: str) -> Any: ...

    def dataset(self, name: str) -> Any: ...

    def eval_dataset(self, name: str) -> Any: ...

    def forget_set(self, name: str) -> Any: ...

    def selector(self, name: str) -> Any: ...

    def control(self, name: str) -> Any: ...

    def tracker(self, name: str) -> Any: ...

    def find(self, kind: str, name: str) -> Any: ...

    def default(self, kind: str, where: Any = None) -> Any: ...

    def names(self, kind: str, with_aliases: bool = False) -> list[str]: ...

    def entries(self, kind: str) -> Iterator[Any]: ...
