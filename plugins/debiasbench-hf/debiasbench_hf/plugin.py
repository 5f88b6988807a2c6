"""Entry point ``hf-models``: registers the embedded SmolLM2, hub/folder and GGUF-file model providers."""

from __future__ import annotations

from debiasbench.api import Register, hookimpl
from debiasbench_hf.providers import (
    GGUFFileProvider,
    HuggingFaceProvider,
    SmolLM2Provider,
)


@hookimpl
def register_models(register: Register) -> None:
    register(SmolLM2Provider())
    register(HuggingFaceProvider())
    register(GGUFFileProvider())
