"""Model providers: load a causal LM into a :class:`ModelHandle`.

Nothing here imports torch: the CLI must stay fast."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from debiasbench.plugin_system.interfaces.common import Named


@dataclass
class ModelSettings:
    """How to load a model; filled from the CLI (``--device``, ``--device-map``, ``--dtype``, ...).

    ``device_map``: None puts the whole model on ``device``; ``"auto"`` asks the provider to split
    it over the accelerators the process sees (largest first, then CPU), as transformers'
    ``from_pretrained(device_map="auto")`` does, with ``device`` left at ``auto``. A provider that
    cannot split a model raises :class:`~debiasbench.errors.DebiasbenchError` saying so; one that
    can records the placement in ``ModelHandle.info["device_map"]``.
    """

    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    device_map: str | None = None  # None | auto (see DEVICE_MAPS in debiasbench.runtime.devices)
    dtype: str = "float32"  # float32 | bfloat16 | float16
    trust_remote_code: bool = False
    cache_dir: Path | None = None  # the toolkit cache (DEBIASBENCH_CACHE); None = default
    seed: int = 0

    def torch_device(self) -> str:
        """The device to load onto: ``device`` with ``auto`` resolved (this process's accelerator, else CPU)."""
        from debiasbench.runtime.devices import resolve_device

        return resolve_device(self.device)

    def torch_dtype(self) -> Any:
        """``dtype`` as a torch dtype (imports torch); a name outside float32, bfloat16, float16 raises ``DebiasbenchError``."""
        from debiasbench.runtime.devices import torch_dtype

        return torch_dtype(self.dtype)

    def seed_everything(self) -> None:
        """Seed python, numpy and torch with ``seed`` before the model is built, so weights a
        checkpoint lacks (and anything else drawn while loading) are the same in every run."""
        from debiasbench.runtime.devices import seed_everything

        seed_everything(self.seed)


@dataclass
class ModelHandle:
    """A loaded causal LM plus everything metrics and methods need to use it correctly.

    ``prefix_token_id`` is the single context token of docs/concepts.md, "Protocols" (BOS, or end-of-text
    where BOS is absent or a chat marker). ``fingerprint`` identifies the exact weights, so
    cached baseline evaluations are reused only for the same model.
    """

    model: Any  # transformers.PreTrainedModel (causal LM), in eval mode
    tokenizer: Any  # transformers.PreTrainedTokenizerBase; pad token set
    name: str  # what the user asked for (registry name, hub id, path)
    source: str  # what was actually loaded (resolved path or hub id@revision)
    provider: str  # the ModelProvider that loaded it
    prefix_token_id: int
    device: str  # torch device string actually used; with a device map, where the inputs go (the input embedding's device)
    dtype: str  # float32 | bfloat16 | float16
    fingerprint: str
    max_length: int  # usable context length in tokens
    info: dict[str, Any] = field(default_factory=dict)  # anything worth recording (revision, ...)

    def save(self, directory: Path) -> None:
        """Write the model in Hugging Face layout with safetensors weights (no pickle)."""
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(directory, safe_serialization=True)
        self.tokenizer.save_pretrained(directory)


SAVED_MODEL_MANIFEST = "debiasbench-manifest.json"
"""Written beside a model saved by ``run --save-model`` (its run row, base model, prefix token);
model providers read it back when loading such a folder."""


MODULES_KEY = "debiasbench:modules"
"""Key of :meth:`ModelProvider.describe`'s answer: the names of the model's modules that hold weights."""


class ModelProvider(Named, ABC):
    """Loads models. Registered names (``smollm2-135m-q4``) are matched first; then each
    provider's :meth:`claims` is asked whether it understands an arbitrary spec (a hub id,
    a directory, a ``.gguf`` path), and the claimant of highest :attr:`precedence` loads it.
    ``--model PROVIDER:SPEC`` names the provider outright."""

    MODULES_KEY: ClassVar[str] = MODULES_KEY
    """The key under which :meth:`describe` may list the modules that hold weights."""
    SAVED_MODEL_MANIFEST: ClassVar[str] = SAVED_MODEL_MANIFEST
    """The JSON file beside a model saved by ``run --save-model`` (its run row, base model, prefix
    token): a provider that loads folders reads it back into ``ModelHandle.info``."""

    precedence: ClassVar[int] = 0
    """Which provider loads a spec that several claim: the highest wins. Two claimants of equal
    precedence are refused, naming both (the user then writes ``PROVIDER:SPEC``), so a plugin never
    takes specs from another silently. A provider of one narrow format (``.gguf`` files) declares
    more than a catch-all one (any hub id, 0); one meant to replace another declares more than it."""

    def claims(self, spec: str) -> bool:
        """True when this provider can load ``spec`` although it is not a registered name."""
        return False

    @abstractmethod
    def load(self, spec: str, settings: ModelSettings) -> ModelHandle:
        """Load ``spec``; raise :class:`debiasbench.errors.DebiasbenchError` with one clear line on failure."""

    def describe(self, spec: str, cache: Path | None = None) -> Mapping[str, Any] | None:
        """What is on disk about ``spec``, read without loading a weight: its configuration
        (``config.json``), so methods can check their options against it at plan time; None when it
        is not on disk yet (a hub id not downloaded). Raise ``DebiasbenchError`` (one line) when the
        files on disk can never load (weights cut short). It may add :data:`MODULES_KEY`: the names of
        the modules that hold weights, read from the weights' headers (``-o lora_targets`` is checked
        against them)."""
        return None
