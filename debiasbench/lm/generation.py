"""Batched, KV-cached text generation for generation metrics (HONEST, BOLD; docs/concepts.md, "Generation").

Prompts are tokenised without special tokens and read after the model's prefix token (docs/concepts.md,
"Sentence scoring"), sorted by length, batched and left-padded: padding is masked and each row's position
ids count its own tokens only, so a prompt's continuation does not depend on the other prompts in
its batch (up to float rounding). The prompt runs once; every further step feeds one token per row
through the KV cache. A row stops at an end-of-text token or after ``max_new_tokens``.

Greedy decoding takes the first highest logit. Sampling (temperature, top-k) draws by inverse CDF
from uniforms that belong to the prompt: each prompt's key (its text, or what the caller passes)
and the seed fix a generator of ``max_new_tokens`` uniforms, so a sample is the same whichever
batch the prompt lands in, and the same on every CPU run. ``samples > 1`` runs a prompt once and
decodes several continuations from copies of its cache (HONEST's K completions per template).
Under ``accelerate launch`` each process decodes its share of the batches
(:func:`~debiasbench.runtime.distributed.shard`) and every process gets all continuations.

:class:`DecodingSettings` is frozen and goes into the metric's protocol and cache key.
Torch is imported inside the functions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from debiasbench.errors import DebiasbenchError
from debiasbench.plugin_system.interfaces import ModelHandle, ProgressFactory
from debiasbench.runtime.distributed import gather, shard
from debiasbench.runtime.progress import progress_bar


@dataclass(frozen=True)
class DecodingSettings:
    """How continuations are decoded; recorded with every figure."""

    max_new_tokens: int = 20
    sampling: bool = False  # False: greedy
    temperature: float = 1.0
    top_k: int = 0  # 0: the whole vocabulary
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, not {self.max_new_tokens}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, not {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be 0 (off) or positive, not {self.top_k}")

    def protocol(self) -> dict[str, Any]:
        """The settings as recorded: greedy runs record no temperature, top-k or seed (they change nothing)."""
        if not self.sampling:
            return {"decoding": "greedy", "max_new_tokens": self.max_new_tokens}
        return {"decoding": "sampling", **dataclasses.asdict(self)}


@dataclass(frozen=True)
class Generation:
    """One continuation: its text (special tokens dropped), its token ids (stop token excluded), why it ended.

    ``logprobs`` are the generating model's log-probabilities of ``token_ids`` (its full float32
    distribution, before temperature or top-k): the fluency check reads the frozen model's
    perplexity from them for free when the generating model is the frozen one. ``prompt_ids`` is
    the prompt as the model read it (prefix token first), for rescoring under another model.
    """

    text: str
    token_ids: tuple[int, ...]
    stop: Literal["eos", "length"]
    logprobs: tuple[float, ...] = ()
    prompt_ids: tuple[int, ...] = ()


def stop_token_ids(handle: ModelHandle) -> list[int]:
    """End-of-text tokens: the tokenizer's EOS and the prefix token (SmolLM2: ``<|im_end|>`` 2 and ``<|endoftext|>`` 0)."""
    ids = {handle.prefix_token_id, getattr(handle.tokenizer, "eos_token_id", None)}
    return sorted(i for i in ids if i is not None)


def prompt_uniforms(keys: Sequence[str], settings: DecodingSettings) -> np.ndarray:
    """``[len(keys), max_new_tokens]`` uniforms in [0, 1), one generator per key and seed."""
    rows = []
    for key in keys:
        words = np.frombuffer(hashlib.sha256(key.encode()).digest()[:16], dtype=np.uint32)
        rows.append(np.random.default_rng([settings.seed % 2**32, *words.tolist()]).random(settings.max_new_tokens))
    return np.array(rows, dtype=np.float64).reshape(len(keys), settings.max_new_tokens)


def next_tokens(logits: Any, uniforms: Any, settings: DecodingSettings) -> Any:
    """``[B]`` token ids from ``[B, vocab]`` float32 logits: argmax, or inverse-CDF sampling with ``[B]`` uniforms."""
    import torch

    if not settings.sampling:
        return logits.argmax(dim=-1)
    scaled = logits.double() / settings.temperature
    if settings.top_k:
        scaled, index = scaled.topk(min(settings.top_k, scaled.shape[-1]), dim=-1)  # sorted, highest first
    cdf = torch.softmax(scaled, dim=-1).cumsum(dim=-1)
    pick = torch.searchsorted(cdf, (uniforms.double() * cdf[:, -1]).unsqueeze(-1)).clamp(max=cdf.shape[-1] - 1)
    return (index.gather(-1, pick) if settings.top_k else pick).squeeze(-1)


def _accepts(model: Any, name: str) -> bool:
    return name in inspect.signature(model.forward).parameters


def _forward(model: Any, ids: Any, mask: Any, positions: Any, past: Any) -> tuple[Any, Any]:
    """Float32 logits of each row's last position and the updated cache.

    transformers 5 calls the cache ``cache`` (``past_key_values`` before); the output layer runs
    on the last position only where the model takes ``logits_to_keep``.
    """
    kwargs: dict[str, Any] = {"input_ids": ids, "attention_mask": mask, "position_ids": positions, "use_cache": True}
    cache_name = "cache" if _accepts(model, "cache") else "past_key_values"
    if past is not None:
        kwargs[cache_name] = past
    if _accepts(model, "logits_to_keep"):
        kwargs["logits_to_keep"] = 1
    out = model(**kwargs)
    return out.logits[:, -1].float(), getattr(out, cache_name)


def left_padded(rows: Sequence[Sequence[int]], pad: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ids, attention mask and position ids of left-padded rows (positions count real tokens from 0)."""
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, width - len(row):] = row
        mask[i, width - len(row):] = 1
    positions = np.maximum(mask.cumsum(axis=1) - 1, 0)
    return ids, mask, positions


def _decode_batch(handle: ModelHandle, rows: Sequence[Sequence[int]], uniforms: np.ndarray, settings: DecodingSettings,
                  samples: int, stops: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Generated ids ``[len(rows) * samples, T]`` (prompt-major), their log-probabilities under the
    model, each row's kept length and whether it hit a stop token."""
    import torch

    from debiasbench.lm.logprobs import model_device

    model, device = handle.model, model_device(handle.model)
    pad = stops[0]
    ids, mask, positions = (torch.from_numpy(a).to(device) for a in left_padded(rows, pad))
    logits, past = _forward(model, ids, mask, positions, None)
    if samples > 1:
        past.batch_repeat_interleave(samples)
        logits, mask = logits.repeat_interleave(samples, 0), mask.repeat_interleave(samples, 0)
        positions = positions.repeat_interleave(samples, 0)
    n, steps = logits.shape[0], settings.max_new_tokens
    out = torch.full((n, steps), pad, dtype=torch.long, device=device)
    scores = torch.zeros((n, steps), dtype=torch.float32, device=device)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    lengths = torch.full((n,), steps, dtype=torch.long, device=device)
    stop_ids = torch.tensor(stops, device=device)
    u = torch.from_numpy(uniforms).to(device)
    position = positions[:, -1:]
    for step in range(steps):
        token = torch.where(done, pad, next_tokens(logits, u[:, step], settings))
        out[:, step] = token
        scores[:, step] = torch.log_softmax(logits, dim=-1).gather(-1, token[:, None]).squeeze(-1)
        ended = ~done & torch.isin(token, stop_ids)
        lengths = torch.where(ended, step, lengths)
        done |= ended
        if step == steps - 1 or bool(done.all()):
            break
        mask = torch.cat([mask, torch.ones((n, 1), dtype=mask.dtype, device=device)], dim=1)
        position = position + 1
        logits, past = _forward(model, token[:, None], mask, position, past)
    return out.cpu().numpy(), scores.cpu().numpy(), lengths.cpu().numpy(), done.cpu().numpy()


def generate(
    handle: ModelHandle,
    prompts: Sequence[str],
    settings: DecodingSettings,
    *,
    keys: Sequence[str] | None = None,
    samples: int = 1,
    batch_size: int = 32,
    progress: ProgressFactory | None = None,
    description: str = "generating",
) -> list[Generation]:
    """``samples`` continuations of each prompt, prompt-major (``out[i * samples + j]``).

    ``keys`` name the prompts for their sampling seeds (default: the prompt texts); sample ``j`` of
    a prompt uses the key ``f"{key}#{j}"``. ``batch_size`` counts prompts per forward pass.
    """
    import torch

    if samples < 1 or batch_size < 1:
        raise ValueError(f"samples and batch_size must be at least 1, not {samples} and {batch_size}")
    keys = list(keys) if keys is not None else list(prompts)
    encoded = [[handle.prefix_token_id, *ids] for ids in handle.tokenizer(list(prompts), add_special_tokens=False)["input_ids"]] if prompts else []
    too_long = [i for i, row in enumerate(encoded) if len(row) + settings.max_new_tokens > handle.max_length]
    if too_long:
        raise DebiasbenchError(f"prompt {too_long[0]} has {len(encoded[too_long[0]])} tokens; with {settings.max_new_tokens} new "
                               f"tokens it exceeds the model's context of {handle.max_length}")
    stops = stop_token_ids(handle)
    order = sorted(range(len(encoded)), key=lambda i: (-len(encoded[i]), i))
    batches = shard([order[start:start + batch_size] for start in range(0, len(order), batch_size)])  # this process's share
    results: dict[int, Generation] = {}
    with progress_bar(progress, description, sum(len(b) for b in batches) * samples) as bar, torch.inference_mode():
        for batch in batches:
            started = time.perf_counter()
            uniforms = prompt_uniforms([f"{keys[i]}#{j}" for i in batch for j in range(samples)], settings)
            tokens, scores, lengths, hit_stop = _decode_batch(handle, [encoded[i] for i in batch], uniforms, settings, samples, stops)
            kept = [tokens[r, :lengths[r]].tolist() for r in range(len(tokens))]
            texts = handle.tokenizer.batch_decode(kept, skip_special_tokens=True)
            for r, (ids, text) in enumerate(zip(kept, texts)):
                stop: Literal["eos", "length"] = "eos" if hit_stop[r] else "length"
                prompt = batch[r // samples]
                results[prompt * samples + r % samples] = Generation(
                    text=text, token_ids=tuple(ids), stop=stop, logprobs=tuple(scores[r, :lengths[r]].tolist()),
                    prompt_ids=tuple(encoded[prompt]))
            seconds = max(time.perf_counter() - started, 1e-9)
            bar.advance(len(kept), tok_s=float(sum(len(k) for k in kept) / seconds))
    results = gather(results)
    return [results[i] for i in range(len(encoded) * samples)]
