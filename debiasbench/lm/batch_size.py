"""``batch_size = "auto"``: the largest batch of scoring passes that fits the device's free memory.

Like lm-evaluation-harness's ``--batch_size auto``, but measured rather than found by crashing:
on CPU an out-of-memory error is the kernel killing the process, so the search cannot be "try,
catch, halve". Instead one forward pass of ``PROBE_ITEMS`` sequences of the metric's longest
length is run and its peak memory measured (CUDA: the allocator's peak; CPU: the process's
high-water mark, reset through ``/proc/self/clear_refs``); the memory of one sequence of that
length, cached per architecture, dtype, device type and length (in memory and in the toolkit
cache), is then divided into ``FREE_SHARE`` of the memory free now. On CUDA the chosen batch is
tried once and halved on an out-of-memory error. The batch never exceeds ``ceiling`` (the items
there are) or ``MAX_BATCH``: past a few hundred sequences a bigger batch only costs memory.

On CPU the largest batch that fits is not the fastest, so there ``auto`` also keeps a pass to
``CPU_TOKENS_PER_PASS`` tokens: a thousand tokens already give the matmuls full tiles on every
core, and bigger passes only push the activations out of the caches (WikiText-2 windows of 992
tokens on SmolLM2-135M, 2 cores: 84 % of the float32 matmul peak one window per pass, 73 % four
windows per pass; benchmarks/README.md).

Batch size changes no figure: every scorer gives each sequence the log-probabilities it gets alone
(padding masked, explicit positions), so ``auto`` is recorded in the protocol as given, with the
resolved number beside it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal, Union

from debiasbench.errors import DebiasbenchError
from debiasbench.runtime.atomic import write_text_atomic
from debiasbench.runtime.distributed import broadcast
from debiasbench.runtime.hashing import sha256_json
from debiasbench.runtime.memory import clear_peak_rss, peak_rss, status_bytes

AUTO = "auto"
BatchSize = Union[int, Literal["auto"]]
"""Type of a metric's ``batch_size`` option that accepts ``auto``."""
PROBE_ITEMS = 2
FREE_SHARE = 0.6
"""Share of the free memory a batch may use: the rest is left to the allocator, the OS and other processes."""
MAX_BATCH = 512
CPU_TOKENS_PER_PASS = 1024
"""On CPU, ``auto`` puts at most this many tokens in one pass (or one sequence, if longer)."""
_MEMORY: dict[str, int] = {}


def check_batch_size(value: Any, what: str = "batch_size") -> BatchSize:
    """A positive int or ``"auto"`` (any case), else one clear line."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == AUTO:
            return AUTO
        if text.isdigit():
            value = int(text)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise DebiasbenchError(f"{what} must be a positive whole number or 'auto', not {value!r}")


def resolve_batch_size(
    handle: Any, requested: BatchSize, *, item_tokens: int, ceiling: int, cache_root: Path | None = None,
) -> int:
    """``requested`` itself, or (``auto``) the largest batch of ``item_tokens``-token sequences that fits.

    ``ceiling``: the number of sequences there are to score (no batch needs more).
    """
    if requested != AUTO:
        return int(requested)
    ceiling = max(1, min(ceiling, MAX_BATCH))
    tokens = max(1, min(item_tokens, int(getattr(handle, "max_length", item_tokens))))
    per_item = item_memory(handle, tokens, cache_root)
    device = _device(handle)
    batch = max(1, min(ceiling, int(FREE_SHARE * free_memory(device) // max(per_item, 1))))
    if device.type == "cpu":
        batch = max(1, min(batch, CPU_TOKENS_PER_PASS // tokens))
    elif device.type == "cuda":
        batch = _fits_on_cuda(handle, tokens, batch)
    return broadcast(batch)  # launched processes cut the same batches, so each item scores as in one process


def item_memory(handle: Any, tokens: int, cache_root: Path | None = None) -> int:
    """Bytes one sequence of ``tokens`` tokens adds to a forward pass (measured once, then cached)."""
    key = _key(handle, tokens)
    if key in _MEMORY:
        return _MEMORY[key]
    stored = _stored(cache_root, key)
    if stored is None:
        stored = max(1, _measure(handle, tokens) // PROBE_ITEMS)
        _store(cache_root, key, stored)
    _MEMORY[key] = stored
    return stored


def free_memory(device: Any) -> int:
    """Bytes free on ``device`` now: CUDA's free memory, else the OS's available memory."""
    import torch

    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # psutil is optional: read /proc on Linux
        text = Path("/proc/meminfo").read_text()
        return int(re.search(r"MemAvailable:\s+(\d+) kB", text).group(1)) * 1024  # type: ignore[union-attr]


def _key(handle: Any, tokens: int) -> str:
    config = handle.model.config.to_dict()
    keep = {k: v for k, v in config.items() if k not in ("_name_or_path", "transformers_version", "torch_dtype", "dtype")}
    return sha256_json({"config": keep, "dtype": str(next(handle.model.parameters()).dtype),
                        "device": _device(handle).type, "tokens": tokens}, 16)


def _device(handle: Any) -> Any:
    """The model's input device: with a device map, where a batch lands first."""
    from debiasbench.lm.logprobs import model_device

    return model_device(handle.model)


def _cache_file(cache_root: Path | None) -> Path:
    from debiasbench.runtime.paths import cache_dir

    return cache_dir(cache_root) / "batch-size.json"


def _stored(cache_root: Path | None, key: str) -> int | None:
    try:
        value = json.loads(_cache_file(cache_root).read_text()).get(key)
    except (OSError, ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, int) and value > 0 else None


def _store(cache_root: Path | None, key: str, value: int) -> None:
    path = _cache_file(cache_root)
    try:
        known = json.loads(path.read_text()) if path.is_file() else {}
        known = known if isinstance(known, dict) else {}
        known[key] = value
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(known, indent=1, sort_keys=True))
    except (OSError, ValueError):
        pass  # a cache that cannot be written only means measuring again next time


def _probe(handle: Any, tokens: int, items: int) -> None:
    """One scoring-shaped forward pass over ``items`` random sequences of ``tokens`` tokens.

    The scorers run the base model and stream the output layer in fixed-size blocks (a few MiB),
    so the base model's activations are what grows with the batch; a model without a separate
    base model is run whole (its scorer reads full logits too). An all-ones mask is passed, as
    the padded scorers do, so attention takes its masked (largest) path.
    """
    import torch

    model = handle.model
    vocab = model.get_input_embeddings().weight.shape[0]
    device = _device(handle)
    ids = torch.randint(0, vocab, (items, tokens), generator=torch.Generator().manual_seed(0)).to(device)
    base = getattr(model, "base_model", None)
    runner = base if base is not None and base is not model else model
    with torch.inference_mode():
        runner(input_ids=ids, attention_mask=torch.ones_like(ids), position_ids=torch.arange(tokens, device=device).expand(items, tokens),
               use_cache=False)


def _measure(handle: Any, tokens: int) -> int:
    """Peak bytes of one probe pass above what the process held before it."""
    import torch

    device = _device(handle)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        _probe(handle, tokens, PROBE_ITEMS)
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - before)
    _probe(handle, tokens, 1)  # warm-up: first-call allocations are not per-item cost
    before = reset_peak_rss()
    _probe(handle, tokens, PROBE_ITEMS)
    peak = peak_rss()
    if before is None or peak is None:  # no /proc: a conservative analytic bound
        return _analytic(handle, tokens) * PROBE_ITEMS
    return max(peak - before, _analytic(handle, tokens) * PROBE_ITEMS // 4)


def _analytic(handle: Any, tokens: int) -> int:
    """Bytes of one sequence's largest live activations: hidden states, the MLP and one layer's attention."""
    config = handle.model.config
    width = int(getattr(config, "hidden_size", 1024))
    inner = int(getattr(config, "intermediate_size", 4 * width))
    heads = int(getattr(config, "num_attention_heads", 16))
    size = next(handle.model.parameters()).element_size()
    return size * tokens * (6 * width + 3 * inner + heads * tokens)


def reset_peak_rss() -> int | None:
    """Reset the process's peak resident set to its current size (Linux) and return that size;
    the peak it wipes is kept for the run record (:func:`debiasbench.runtime.memory.note_cleared_peak`)."""
    from debiasbench.runtime.memory import note_cleared_peak

    note_cleared_peak(peak_rss())
    return status_bytes("VmRSS") if clear_peak_rss() else None




def _fits_on_cuda(handle: Any, tokens: int, batch: int) -> int:
    """The measured batch tried once on CUDA, halved while it runs out of memory."""
    import torch

    while batch > 1:
        try:
            _probe(handle, tokens, batch)
            return batch
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            batch //= 2
    return batch
