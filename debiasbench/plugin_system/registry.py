"""Name -> object tables, one per plugin kind.

Names are unique per kind: a second registration of a name or alias is rejected with an
error naming both providers. Unknown names fail with a did-you-mean suggestion (exit 2).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from debiasbench.errors import DebiasbenchError, DuplicateNameError, UnknownNameError
from debiasbench.plugin_system.interfaces import (
    KIND_BASES,
    KINDS,
    Control,
    Dataset,
    FAMILY_SEPARATOR,
    EvalDataset,
    ForgetSet,
    Metric,
    MetricFamily,
    ModelProvider,
    SpanSelector,
    Tracker,
    UnlearningMethod,
)
from debiasbench.plugin_system.presets import validate_declarations

T = TypeVar("T")


@dataclass
class Entry:
    """A registered object and the plugin that provided it."""

    kind: str
    name: str
    obj: Any
    provider: str  # plugin (entry point) name


class Registry:
    """All registered methods, models, metrics, data sets and span selectors."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Entry]] = {k: {} for k in KINDS}
        self._aliases: dict[str, dict[str, str]] = {k: {} for k in KINDS}
        self.load_errors: list[str] = []  # plugins that failed to load: named when a name is unknown
        self._families: dict[str, Entry] = {}  # metric families by their name (the part before ':')
        self._built: dict[str, Path | None] = {}  # family metrics built so far -> the include folder they were built with

    def owner_of(self, kind: str, obj: Any) -> Entry | None:
        """The entry that already owns ``obj``'s name or one of its aliases, if any."""
        for key in (getattr(obj, "name", None), *getattr(obj, "aliases", ())):
            if isinstance(key, str) and (owner := self._owner(kind, key)) is not None:
                return owner
        return None

    def remove(self, kind: str, name: str) -> None:
        """Drop one entry and its aliases (an opted-in override replaces it)."""
        self._entries[kind].pop(name, None)
        for alias in [a for a, target in self._aliases[kind].items() if target == name]:
            del self._aliases[kind][alias]

    def add(self, kind: str, obj: Any, provider: str) -> Entry:
        """Register ``obj`` under its ``name`` and ``aliases``; reject duplicates and wrong types."""
        if kind not in KIND_BASES:
            raise ValueError(f"unknown plugin kind {kind!r}")
        if kind == "metric" and isinstance(obj, MetricFamily):
            return self._add_family(obj, provider)
        base = KIND_BASES[kind]
        if not isinstance(obj, base):
            raise TypeError(f"{provider} registered {obj!r} as a {kind}, but it is not a {base.__name__}")
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{provider} registered a {kind} without a name")
        validate_declarations(obj, f"{provider} {kind} {name!r}")
        for key in (name, *obj.aliases):
            owner = self._owner(kind, key)
            if owner is not None:
                raise DuplicateNameError(
                    f"{kind} name {key!r} is registered twice: by plugin {owner.provider!r} "
                    f"and by plugin {provider!r}; disable one with DEBIASBENCH_DISABLE_PLUGINS"
                )
        entry = Entry(kind, name, obj, provider)
        self._entries[kind][name] = entry
        for alias in obj.aliases:
            self._aliases[kind][alias] = name
        return entry

    def _add_family(self, family: MetricFamily, provider: str) -> Entry:
        name = getattr(family, "name", None)
        if not isinstance(name, str) or not name or FAMILY_SEPARATOR in name:
            raise TypeError(f"{provider} registered a metric family without a name, or with {FAMILY_SEPARATOR!r} in it")
        owner = self._families.get(name)
        if owner is not None:
            raise DuplicateNameError(f"metric family {name!r} is registered twice: by plugin {owner.provider!r} and by plugin "
                                     f"{provider!r}; disable one with DEBIASBENCH_DISABLE_PLUGINS")
        entry = Entry("metric", family.pattern, family, provider)
        self._families[name] = entry
        return entry

    def families(self) -> Iterator[Entry]:
        """The metric families in name order (each entry's ``name`` is its pattern, ``lm-eval:TASK``)."""
        for name in sorted(self._families):
            yield self._families[name]

    def family_of(self, name: str) -> Entry | None:
        """The family entry a metric name ``<family>:<argument>`` belongs to, or None."""
        prefix, separator, _ = name.partition(FAMILY_SEPARATOR)
        return self._families.get(prefix) if separator else None

    def build_metric(self, name: str, include: Path | None = None) -> Entry | None:
        """Register the metric ``<family>:<argument>`` built by its family (again when ``include`` changed);
        None when ``name`` names no family. A metric registered under that name otherwise is left alone."""
        family = self.family_of(name)
        if family is None:
            return None
        existing = self._owner("metric", name)
        if existing is not None and (name not in self._built or self._built[name] == include):
            return existing
        argument = name.partition(FAMILY_SEPARATOR)[2]
        if not argument:
            raise UnknownNameError(f"metric {name!r} names no argument; write {family.name} with one, e.g. "
                                   f"{family.name}:{family.obj.argument}")
        metric = family.obj.build(argument, include)
        if not isinstance(metric, Metric) or metric.name != name:
            raise TypeError(f"metric family {family.name!r} built {metric!r} for {name!r}, not a Metric of that name")
        if existing is not None:
            self.remove("metric", name)
        self._built[name] = include
        return self.add("metric", metric, family.provider)

    def _owner(self, kind: str, key: str) -> Entry | None:
        if key in self._entries[kind]:
            return self._entries[kind][key]
        if key in self._aliases[kind]:
            return self._entries[kind][self._aliases[kind][key]]
        return None

    def remove_provider(self, provider: str) -> None:
        """Drop everything one plugin registered (used when its registration fails half-way)."""
        for name in [n for n, e in self._families.items() if e.provider == provider]:
            del self._families[name]
        for kind in KINDS:
            for name in [n for n, e in self._entries[kind].items() if e.provider == provider]:
                del self._entries[kind][name]
                for alias in [a for a, target in self._aliases[kind].items() if target == name]:
                    del self._aliases[kind][alias]

    def find(self, kind: str, name: str) -> Entry | None:
        """The entry for ``name`` or an alias of it, or None."""
        return self._owner(kind, name)

    def get(self, kind: str, name: str) -> Any:
        """The object registered as ``name``; unknown names raise with a did-you-mean hint."""
        entry = self._owner(kind, name)
        if entry is None:
            raise UnknownNameError(self.unknown_message(kind, name))
        return entry.obj

    # typed look-ups: what ``get`` returns, typed per kind (unknown names raise as ``get`` does)

    def method(self, name: str) -> UnlearningMethod:
        """The unlearning method registered as ``name`` (or an alias of it)."""
        return self._typed("method", name, UnlearningMethod)

    def metric(self, name: str) -> Metric:
        """The metric registered as ``name``."""
        return self._typed("metric", name, Metric)

    def model_provider(self, name: str) -> ModelProvider:
        """The model provider registered as ``name`` (a provider's name or a registered model name)."""
        return self._typed("model", name, ModelProvider)

    def dataset(self, name: str) -> Dataset:
        """The data set registered as ``name``, of either role."""
        return self._typed("dataset", name, Dataset)

    def eval_dataset(self, name: str) -> EvalDataset:
        """The evaluation data set registered as ``name``; a forget set of that name is refused in one line."""
        return self._role(name, EvalDataset, "an evaluation data set")

    def forget_set(self, name: str) -> ForgetSet:
        """The forget set registered as ``name``; an evaluation data set of that name is refused in one line."""
        return self._role(name, ForgetSet, "a forget set")

    def selector(self, name: str) -> SpanSelector:
        """The span selector registered as ``name``."""
        return self._typed("selector", name, SpanSelector)

    def control(self, name: str) -> Control:
        """The study control registered as ``name``."""
        return self._typed("control", name, Control)

    def tracker(self, name: str) -> Tracker:
        """The experiment tracker registered as ``name``."""
        return self._typed("tracker", name, Tracker)

    def _typed(self, kind: str, name: str, base: type[T]) -> T:
        obj = self.get(kind, name)
        if not isinstance(obj, base):  # add() checks the kind's base, so only a hand-built registry gets here
            raise TypeError(f"{kind} {name!r} is a {type(obj).__name__}, not a {base.__name__}")
        return obj

    def _role(self, name: str, base: type[T], what: str) -> T:
        obj = self.dataset(name)
        if not isinstance(obj, base):
            raise DebiasbenchError(f"data set {obj.name!r} is {obj.role} data, not {what}; see `debiasbench list datasets`")
        return obj

    def unknown_message(self, kind: str, name: str) -> str:
        """``unknown method 'gradient-ascnt'; did you mean 'gradient-ascent'?`` (or the list of names)."""
        known = self.names(kind, with_aliases=True)
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        if close:
            target = self._owner(kind, close[0])
            suggestion = target.name if target is not None else close[0]
            return f"unknown {kind} {name!r}; did you mean {suggestion!r}?"
        families = [e.name for e in self.families()] if kind == "metric" else []
        listing = ", ".join(self.names(kind) + families) or "none registered"
        failed = f"; note: {'; '.join(self.load_errors)} (see `debiasbench plugins`)" if self.load_errors else ""
        return f"unknown {kind} {name!r}; known {kind}s: {listing} (see `debiasbench list {kind}s`){failed}"

    def default(self, kind: str, where: Any = None) -> Entry | None:
        """The first entry (in name order) whose object declares ``default = True`` and, when given,
        satisfies ``where(obj)``: what the core uses when the user names no object of ``kind``."""
        return next((e for e in self.entries(kind) if e.obj.default and (where is None or where(e.obj))), None)

    def names(self, kind: str, with_aliases: bool = False) -> list[str]:
        """Registered names of one kind, sorted."""
        names = list(self._entries[kind])
        if with_aliases:
            names += list(self._aliases[kind])
        return sorted(names)

    def entries(self, kind: str) -> Iterator[Entry]:
        """Entries of one kind in name order."""
        for name in sorted(self._entries[kind]):
            yield self._entries[kind][name]

    def all_entries(self) -> Iterator[Entry]:
        """Every entry, kind by kind."""
        for kind in KINDS:
            yield from self.entries(kind)
