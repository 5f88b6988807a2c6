"""Benchmark: the generation engine (batched) against unbatched loops, in one run.

Continues N BOLD prompts greedily (the ``bold`` metric's default) three ways and reports generated
tokens per second, the speed-up over transformers' own one-prompt-at-a-time ``generate`` loop, and
whether every continuation is identical:

* engine, batched: ``debiasbench.lm.generation.generate`` with ``--batch-size`` prompts per pass;
* engine, unbatched: the same code with one prompt per pass;
* ``model.generate`` loop: transformers' greedy generate (KV cache) for one prompt at a time.

Then K sampled continuations per HONEST-style prompt (top-k 50) batched vs one prompt at a time,
with the K samples sharing the prompt pass, to show that the seeded samples do not change.

Last, the fluency guard's cost (docs/damage.md) as a share of the generation it checks: before
unlearning the perplexity comes from the decoder's own log-probabilities (only the text figures
cost anything); after it, the starting model rescores every continuation in one batched pass.

    DEBIASBENCH_DATA=../shared/data python benchmarks/generation.py [--prompts 48] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from typing import Any


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m-q4")
    parser.add_argument("--prompts", type=int, default=48, help="BOLD prompts (seeded sample)")
    parser.add_argument("--max-new-tokens", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--samples", type=int, default=10, help="sampled continuations per prompt in the sampling part")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    return parser.parse_args()


def bold_prompts(n: int) -> list[str]:
    from debiasbench.data.locator import DataLocator
    from debiasbench_metrics.bold.dataset import BoldDataset

    prompts = [p.prompt for p in BoldDataset().load(DataLocator())]
    return random.Random(0).sample(prompts, n)


def hf_loop(handle: Any, prompts: list[str], max_new_tokens: int) -> list[tuple[int, ...]]:
    """transformers' greedy ``generate``, one prompt at a time, cut at the first stop token."""
    import torch

    from debiasbench.lm.generation import stop_token_ids

    stops = stop_token_ids(handle)
    out = []
    with torch.inference_mode():
        for prompt in prompts:
            ids = torch.tensor([[handle.prefix_token_id, *handle.tokenizer(prompt, add_special_tokens=False)["input_ids"]]])
            new = handle.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens, do_sample=False,
                                        eos_token_id=stops, pad_token_id=stops[0])[0, ids.shape[1]:].tolist()
            cut = next((i for i, t in enumerate(new) if t in stops), len(new))
            out.append(tuple(new[:cut]))
    return out


def timed(label: str, run: Any) -> tuple[list[tuple[int, ...]], float]:
    start = time.perf_counter()
    tokens = run()
    seconds = time.perf_counter() - start
    count = sum(len(t) for t in tokens)
    print(f"{label:<28} {seconds:8.1f} s  {count:6d} tokens  {count / seconds:7.1f} tok/s")
    return tokens, seconds


def main() -> None:
    args = parse_args()
    import torch

    from debiasbench.plugin_system.interfaces import ModelSettings
    from debiasbench.lm.generation import DecodingSettings, generate
    from debiasbench.run.models import load_model
    from debiasbench.plugin_system.loader import get_registry

    torch.set_num_threads(args.threads)
    handle = load_model(args.model, ModelSettings(device="cpu"), get_registry())
    prompts = bold_prompts(args.prompts)
    greedy = DecodingSettings(max_new_tokens=args.max_new_tokens)
    print(f"model {args.model} on cpu, {torch.get_num_threads()} threads, {len(prompts)} BOLD prompts, "
          f"greedy, at most {args.max_new_tokens} new tokens, batch size {args.batch_size}")
    ids = lambda gens: [g.token_ids for g in gens]  # noqa: E731
    batched, t_batched = timed("engine, batched", lambda: ids(generate(handle, prompts, greedy, batch_size=args.batch_size)))
    single, t_single = timed("engine, one prompt per pass", lambda: ids(generate(handle, prompts, greedy, batch_size=1)))
    reference, t_hf = timed("model.generate loop", lambda: hf_loop(handle, prompts, args.max_new_tokens))
    print(f"speed-up over the model.generate loop: batched {t_hf / t_batched:.2f}x, unbatched engine {t_hf / t_single:.2f}x")
    print(f"identical continuations: batched vs unbatched {sum(a == b for a, b in zip(batched, single))}/{len(prompts)}, "
          f"batched vs model.generate {sum(a == b for a, b in zip(batched, reference))}/{len(prompts)}")
    sampled = DecodingSettings(max_new_tokens=10, sampling=True, top_k=50, seed=0)
    few = prompts[: max(1, len(prompts) // 4)]
    many, t_many = timed(f"sampling, {args.samples}/prompt, batched", lambda: ids(generate(handle, few, sampled, samples=args.samples,
                                                                                        batch_size=max(1, args.batch_size // args.samples))))
    one, t_one = timed(f"sampling, {args.samples}/prompt, 1/pass", lambda: ids(generate(handle, few, sampled, samples=args.samples,
                                                                                      batch_size=1)))
    print(f"sampling: {t_one / t_many:.2f}x; identical samples {sum(a == b for a, b in zip(many, one))}/{len(many)}")
    fluency_cost(handle, prompts, greedy, args.batch_size)


def fluency_cost(handle: Any, prompts: list[str], settings: Any, batch_size: int) -> None:
    """Seconds of the fluency check against the generation it checks, both ways of getting the perplexity."""
    from debiasbench.lm.fluency import FluencyThresholds, fluency, perplexities
    from debiasbench.lm.generation import generate

    start = time.perf_counter()
    gens = generate(handle, prompts, settings, batch_size=batch_size)
    t_generate = time.perf_counter() - start
    start = time.perf_counter()
    own = fluency(gens, FluencyThresholds())
    t_own = time.perf_counter() - start
    start = time.perf_counter()
    rescored = perplexities(gens, handle, batch_size=batch_size)
    t_rescore = time.perf_counter() - start
    same = bool(abs(rescored - own.perplexity).max() <= 1e-3 * own.perplexity.max())
    print(f"fluency check: generation {t_generate:.2f} s; check with the decoder's log-probabilities {t_own:.3f} s "
          f"({t_own / t_generate:.1%}); rescoring under the starting model {t_rescore:.2f} s ({t_rescore / t_generate:.1%}); "
          f"same perplexities {same}")


if __name__ == "__main__":
    main()
