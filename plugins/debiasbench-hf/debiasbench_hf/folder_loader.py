"""Load a Hugging Face layout folder (config + safetensors + tokenizer) into a ModelHandle.

Every provider ends here: hub ids are downloaded to a snapshot folder first, GGUF files are
dequantised once into a cached folder, so device, dtype, pad token and prefix rules live in one place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from debiasbench.api import DebiasbenchError, ModelHandle, ModelProvider, ModelSettings
from debiasbench_hf.prefix import prefix_token_id
from debiasbench_hf.quiet import quiet_transformers

MANIFEST = ModelProvider.SAVED_MODEL_MANIFEST  # written beside a model saved by `debiasbench run --save-model`
_FALLBACK_CONTEXT = 1024
_MANIFEST_KEYS = ("run_id", "base_model", "model_fingerprint", "method", "forget_set", "source_domain")


def check_folder(directory: Path) -> list[str]:
    """The tensor names of the checkpoint in ``directory``, or one clear line when it is not a
    loadable safetensors checkpoint."""
    if not (directory / "config.json").is_file():
        raise DebiasbenchError(f"{directory} is not a Hugging Face model folder (no config.json)")
    if not any(directory.glob("*.safetensors")):
        pickled = any(directory.glob("*.bin")) or any(directory.glob("*.pt"))
        what = "only pickle (.bin) weights" if pickled else "no weights"
        raise DebiasbenchError(
            f"{directory} has {what}; debiasbench loads safetensors only (no pickle): "
            "re-save it with model.save_pretrained(dir, safe_serialization=True)"
        )
    return [name for weights in sorted(directory.glob("*.safetensors")) for name in check_safetensors(weights)]


def check_safetensors(path: Path) -> list[str]:
    """The tensor names of a ``.safetensors`` file, or one line when it is cut short or is not one:
    its header says how long every tensor is, so a truncated copy is found without loading a weight."""
    import struct

    size = path.stat().st_size
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                raise ValueError("shorter than its 8-byte header length")
            (length,) = struct.unpack("<Q", head)
            if length > size - 8:
                raise ValueError(f"its header claims {length} bytes but the file has {size}")
            header = json.loads(handle.read(length))
        end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise DebiasbenchError(f"{path} is not a readable safetensors file ({exc}); copy or save the model again") from None
    if 8 + length + end > size:
        raise DebiasbenchError(f"{path} is truncated: its header needs {8 + length + end} bytes, the file has {size}; "
                               "copy or save the model again") from None
    return [k for k in header if k != "__metadata__"]


def read_manifest(directory: Path) -> dict[str, Any]:
    """The run record saved beside a debiased model, or {} for any other folder."""
    path = directory / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise DebiasbenchError(f"{path} is not valid JSON ({exc}); restore or delete it") from exc
    return data if isinstance(data, dict) else {}


def context_length(config: Any, tokenizer: Any) -> int:
    """The model's usable context: ``n_positions`` / ``max_position_embeddings``, else the tokenizer's limit."""
    for key in ("n_positions", "max_position_embeddings", "n_ctx", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 10**7 else _FALLBACK_CONTEXT


def load_folder(
    directory: Path,
    settings: ModelSettings,
    *,
    name: str,
    source: str,
    provider: str,
    fingerprint: str,
    info: dict[str, Any] | None = None,
) -> ModelHandle:
    """Load tokenizer and causal LM from ``directory`` onto ``settings.device`` in ``settings.dtype``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from debiasbench.api.lm import model_device  # imports torch: not at plugin load

    check_folder(directory)
    device = settings.torch_device()
    dtype = settings.torch_dtype()
    settings.seed_everything()
    remote = bool(settings.trust_remote_code)
    placement = {"device_map": settings.device_map} if settings.device_map else {}
    with quiet_transformers():
        try:
            tokenizer = AutoTokenizer.from_pretrained(directory, trust_remote_code=remote)
            model = AutoModelForCausalLM.from_pretrained(
                directory, dtype=dtype, use_safetensors=True, trust_remote_code=remote, **placement
            )
        except ValueError as exc:  # e.g. "Unrecognized configuration class ... for AutoModelForCausalLM"
            raise DebiasbenchError(f"cannot load {name!r} as a causal language model: {_first_line(exc)}") from exc
        except OSError as exc:
            raise DebiasbenchError(f"cannot read the model files of {name!r} in {directory}: {_first_line(exc)}") from exc
    if not settings.device_map:
        model.to(device)
    model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token if tokenizer.eos_token is not None else tokenizer.convert_ids_to_tokens(
            prefix_token_id(tokenizer)
        )
    manifest = read_manifest(directory)
    prefix = manifest.get("prefix_token_id")
    prefix = int(prefix) if isinstance(prefix, int) else prefix_token_id(tokenizer)
    details: dict[str, Any] = {
        "architecture": type(model).__name__,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "dtype": settings.dtype,
        "vocab_size": len(tokenizer),
        "prefix_token": tokenizer.convert_ids_to_tokens(prefix),
        "folder": str(directory),
    }
    if manifest:
        details["debiasbench_manifest"] = {k: manifest.get(k) for k in _MANIFEST_KEYS if k in manifest}
    if settings.device_map:
        details["device_map"] = placement_of(model)
    details.update(info or {})
    return ModelHandle(
        model=model, tokenizer=tokenizer, name=name, source=source, provider=provider,
        prefix_token_id=prefix, device=str(model_device(model)), dtype=settings.dtype,
        fingerprint=fingerprint, max_length=context_length(model.config, tokenizer), info=details,
    )


def placement_of(model: Any) -> dict[str, str]:
    """Where each module of a model loaded with a device map lives (``{"": "cpu"}``: all of it on CPU).

    transformers records accelerate's placement in ``model.hf_device_map`` (GPU indices as ints);
    recorded as strings so the run record reads ``cuda:0``, ``cpu`` or ``disk``.
    """
    from debiasbench.api.lm import model_device

    mapping = getattr(model, "hf_device_map", None) or {"": str(model_device(model))}
    return {module: (f"cuda:{where}" if isinstance(where, int) else str(where)) for module, where in mapping.items()}


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
