"""Benchmark: score all CrowS-Pairs with the toolkit's scorer and with a naive one-sentence loop.

Reports, in one run: seconds and sentences/s of the naive loop, the plain padded batches and the
shared-prefix scorer the ``crows-pairs`` metric uses; the speed-up over the naive loop; the
FLOPs each executed as a share of this machine's float32 matmul peak (measured here with a large
``torch.matmul``); peak memory; the largest per-token log-prob difference; and whether every pair
got the same decision. ``--dtype bfloat16`` also scores in bfloat16 and counts flipped decisions.

    DEBIASBENCH_DATA=../shared/data python benchmarks/crows_scoring.py [--limit 200] [--dtype bfloat16]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m-q4", help="registry name, hub id or folder")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"), help="bfloat16: also score in bfloat16")
    parser.add_argument("--limit", type=int, default=None, help="first N pairs only (default: all 1,508)")
    parser.add_argument("--batch-size", type=int, default=64, help="sentences per forward pass")
    parser.add_argument("--row-size", type=int, default=8, help="sentences per packed row")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch CPU threads")
    parser.add_argument("--skip-naive", action="store_true", help="skip the (slow) naive loop")
    return parser.parse_args()


def matmul_peak(device: str, size: int = 2048, repeats: int = 10) -> float:
    """Best float32 matmul throughput of this machine in FLOP/s."""
    import torch

    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    best = 0.0
    for _ in range(3):
        _sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        _sync(device)
        best = max(best, 2 * size**3 * repeats / (time.perf_counter() - start))
    return best


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def naive_logprobs(handle: Any, sequences: list[list[int]]) -> list[np.ndarray]:
    """What a first implementation does: one forward pass and a full log-softmax per sentence."""
    import torch

    out = []
    with torch.inference_mode():
        for seq in sequences:
            ids = torch.tensor([[handle.prefix_token_id, *seq]], device=handle.model.device)
            logits = handle.model(input_ids=ids).logits[0, :-1].float()
            out.append(logits.log_softmax(-1).gather(-1, ids[0, 1:, None])[:, 0].double().cpu().numpy())
    return out


def timed(fn: Callable[[], Any], device: str) -> tuple[Any, float]:
    _sync(device)
    start = time.perf_counter()
    result = fn()
    _sync(device)
    return result, time.perf_counter() - start


def model_shape(handle: Any) -> dict[str, int]:
    config = handle.model.config
    total = sum(p.numel() for p in handle.model.parameters())
    embed = handle.model.get_input_embeddings().weight.numel()
    head = handle.model.get_output_embeddings().weight.numel()
    tied = handle.model.get_input_embeddings().weight.data_ptr() == handle.model.get_output_embeddings().weight.data_ptr()
    body = total - embed - (0 if tied else head)
    return {"body": body, "head": head, "layers": config.num_hidden_layers, "width": config.hidden_size}


def naive_flops(shape: dict[str, int], sequences: list[list[int]]) -> float:
    """Each sentence alone: body and head on every position, causal attention over its own tokens."""
    n = np.array([len(s) + 1 for s in sequences], dtype=np.float64)
    return float(np.sum(2 * (shape["body"] + shape["head"]) * n + 4 * shape["layers"] * shape["width"] * n * (n + 1) / 2))


def packed_flops(shape: dict[str, int], sequences: list[list[int]], prefix: int, batch_size: int, row_size: int) -> tuple[float, int]:
    """Tree rows padded per batch: body on every row position, dense attention, head on predicting nodes."""
    from debiasbench_metrics.prefix_tree import tree_rows

    rows = sorted(tree_rows([[prefix, *s] for s in sequences], row_size), key=lambda r: -len(r.tokens))
    per_batch = max(1, batch_size // row_size)
    flops, nodes = 0.0, 0
    for start in range(0, len(rows), per_batch):
        batch = rows[start:start + per_batch]
        width = max(len(r.tokens) for r in batch)
        flops += len(batch) * (2 * shape["body"] * width + 4 * shape["layers"] * shape["width"] * width * width)
        nodes += sum(len(r.tokens) for r in batch)
        predicting = sum(len({int(p) for k in range(len(r.members)) for p in r.paths[k, :r.lengths[k] - 1]}) for r in batch)
        flops += 2 * shape["head"] * predicting
    return flops, nodes


def decisions(lps: list[np.ndarray], n: int, scoring: str) -> np.ndarray:
    from debiasbench_metrics.scorer import reduce_scores

    scores = reduce_scores(lps, scoring)
    return scores[:n] > scores[n:]


def main() -> None:
    args = parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from debiasbench.support.data import DataLocator
    from debiasbench.plugin_system.interfaces import ModelSettings
    from debiasbench.plugin_system.loader import get_registry
    from debiasbench_metrics.pair_scorer import shared_prefix_logprobs
    from debiasbench_metrics.scorer import encode, sentence_logprobs

    registry = get_registry()
    provider = registry.find("model", args.model)
    provider = provider.obj if provider else next(e.obj for e in registry.entries("model") if e.obj.claims(args.model))
    handle = provider.load(args.model, ModelSettings(device=args.device, dtype="float32"))
    device = str(handle.model.device)
    pairs = registry.get("dataset", "crows-pairs").load(DataLocator(download=False))[:args.limit]
    n = len(pairs)
    (sequences, tokenize_s) = timed(lambda: encode(handle, [p.sent_more for p in pairs] + [p.sent_less for p in pairs]), device)
    shape = model_shape(handle)
    peak = matmul_peak(device)
    print(f"model {handle.name} on {device}, {torch.get_num_threads()} threads, {n} pairs = {2 * n} sentences, "
          f"{sum(map(len, sequences))} tokens (tokenised in {tokenize_s:.2f}s); float32 matmul peak {peak / 1e9:.1f} GFLOP/s")

    shared_prefix_logprobs(handle, sequences[:16], batch_size=args.batch_size, row_size=args.row_size)  # warm-up
    packed, packed_s = timed(lambda: shared_prefix_logprobs(handle, sequences, batch_size=args.batch_size, row_size=args.row_size), device)
    plain, plain_s = timed(lambda: sentence_logprobs(handle, sequences, batch_size=args.batch_size), device)
    p_flops, nodes = packed_flops(shape, sequences, handle.prefix_token_id, args.batch_size, args.row_size)
    b_flops = naive_flops(shape, sequences)  # padded batches compute at least the naive FLOPs
    report = [("shared-prefix (toolkit)", packed_s, p_flops), ("padded batches", plain_s, b_flops)]
    naive = None
    if not args.skip_naive:
        naive, naive_s = timed(lambda: naive_logprobs(handle, sequences), device)
        report.append(("naive loop", naive_s, naive_flops(shape, sequences)))
    print(f"\n{'scorer':<26}{'seconds':>9}{'sent/s':>9}{'GFLOP/s':>10}{'% peak':>8}{'speed-up':>10}")
    for name, seconds, flops in report:
        ratio = f"{naive_s / seconds:.2f}x" if naive is not None else "-"
        print(f"{name:<26}{seconds:>9.1f}{2 * n / seconds:>9.1f}{flops / seconds / 1e9:>10.1f}{100 * flops / seconds / peak:>8.1f}{ratio:>10}")
    print(f"tree rows hold {nodes} tokens for {sum(len(s) + 1 for s in sequences)} sentence tokens (prefix token included)")
    reference = naive if naive is not None else plain
    name = "naive loop" if naive is not None else "padded batches"
    diff = max(float(np.abs(a - b).max()) for a, b in zip(reference, packed))
    print(f"largest |lp difference| shared-prefix vs {name}: {diff:.2e} nats")
    for scoring in ("mean", "sum"):
        same = int(np.sum(decisions(reference, n, scoring) == decisions(packed, n, scoring)))
        print(f"{scoring} scoring: {same}/{n} pairs got the same decision ({'identical' if same == n else 'DIFFERENT'})")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = f", CUDA max allocated {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB" if device.startswith("cuda") else ""
    print(f"peak memory: RSS {rss:.0f} MiB{gpu}")

    if args.dtype == "bfloat16":
        handle.model.to(torch.bfloat16)
        handle.dtype = "bfloat16"
        shared_prefix_logprobs(handle, sequences[:16], batch_size=args.batch_size, row_size=args.row_size)
        half, half_s = timed(lambda: shared_prefix_logprobs(handle, sequences, batch_size=args.batch_size, row_size=args.row_size), device)
        print(f"\nbfloat16 shared-prefix: {half_s:.1f}s ({2 * n / half_s:.1f} sent/s), largest |lp difference| vs float32 "
              f"{max(float(np.abs(a - b).max()) for a, b in zip(packed, half)):.2e} nats")
        for scoring in ("mean", "sum"):
            flips = int(np.sum(decisions(packed, n, scoring) != decisions(half, n, scoring)))
            print(f"{scoring} scoring: {flips}/{n} decisions flip in bfloat16")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
