"""Benchmark the whole evaluation: CrowS-Pairs, StereoSet and WikiText-2 perplexity (and, on request,
the utility instruments BLiMP and LAMBADA), each scored by the toolkit and by a naive implementation
in the same run, plus lm-evaluation-harness's ``crows_pairs`` task side by side.

For every scorer: seconds, items per second, the FLOPs it executes as a share of this machine's
measured float32 matmul peak, peak memory of the phase, the speed-up over the reference, and
whether every decision is identical. The naive loops (one sentence or window per pass, full
logits) are slow, so by default they run on a seeded subset of the items, with the toolkit
timed on that same subset for the ratio; ``--naive-limit 0`` runs them on everything.
StereoSet is also scored in full by the plain padded-batch scorer (what it used before it
shared prefixes). ``--dtype both`` repeats the toolkit's scorers in bfloat16 and counts the
decisions that flip (meant for a GPU).

``--metrics blimp,lambada`` (not in the default set, so the default run stays what it was) scores
BLiMP's pairs from all 67 paradigms (67,000; ``--limit`` a seeded subset) as the ``blimp`` metric does
(one leading space, shared prefixes, ``sum`` scoring, correct = good >= bad) and LAMBADA's 5,153
passages as the ``lambada`` metric does (``continuation_scores``: last word's log-likelihood and
greedy match, ``--lambada-batch-size`` passages per pass), each against a naive loop on
``--naive-limit`` items (``naive.sentence_loop``, ``naive.continuation_loop``).

    DEBIASBENCH_DATA=../shared/data .venv/bin/python benchmarks/evaluation.py             # the default three, CPU
    DEBIASBENCH_DATA=../shared/data .venv/bin/python benchmarks/evaluation.py --peer      # + lm-evaluation-harness
    DEBIASBENCH_DATA=../shared/data .venv/bin/python benchmarks/evaluation.py --device cuda --dtype both --peer
    DEBIASBENCH_DATA=../shared/data .venv/bin/python benchmarks/evaluation.py --metrics blimp,lambada   # utility instruments
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import naive  # noqa: E402
from bench_common import Shape, load_handle, matmul_peak, seeded_subset, timed, tree_flops  # noqa: E402

METRICS = ("crows-pairs", "stereoset", "perplexity", "blimp", "lambada")
DEFAULT_METRICS = ("crows-pairs", "stereoset", "perplexity")


@dataclass
class Line:
    """One row of the table."""

    metric: str
    scorer: str
    items: int
    seconds: float
    flops: float
    peak_mib: float | None
    reference_seconds: float | None = None  # the reference scorer on the same items
    decisions: str = ""

    def cells(self, peak: float) -> list[str]:
        ratio = f"{self.reference_seconds / self.seconds:.2f}x" if self.reference_seconds else "-"
        memory = f"{self.peak_mib:.0f}" if self.peak_mib is not None else "-"
        return [self.metric, self.scorer, str(self.items), f"{self.seconds:.1f}", f"{self.items / self.seconds:.1f}",
                f"{self.flops / self.seconds / 1e9:.1f}", f"{100 * self.flops / self.seconds / peak:.1f}", ratio, memory,
                self.decisions]


@dataclass
class Report:
    header: dict[str, Any]
    lines: list[Line] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def print(self) -> None:
        peak = self.header["matmul_peak_flops"]
        head = ["metric", "scorer", "items", "seconds", "items/s", "GFLOP/s", "% peak", "speed-up", "peak MiB", "decisions"]
        rows = [head] + [line.cells(peak) for line in self.lines]
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        print(", ".join(f"{k} {v}" for k, v in self.header.items() if k != "matmul_peak_flops")
              + f", float32 matmul peak {peak / 1e9:.1f} GFLOP/s\n")
        for r in rows:
            print("  ".join(c.ljust(w) if i < 2 or i == len(r) - 1 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        for note in self.notes:
            print(f"- {note}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m-q4", help="registry name, hub id or folder")
    parser.add_argument("--metrics", default=",".join(DEFAULT_METRICS),
                        help="comma-separated among " + ", ".join(METRICS) + " (default: " + ", ".join(DEFAULT_METRICS) + ")")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=("float32", "both"), help="both: also the toolkit in bfloat16")
    parser.add_argument("--batch-size", default="64", help="sentences per pass for CrowS/StereoSet/BLiMP (or auto)")
    parser.add_argument("--lambada-batch-size", default="32", help="LAMBADA passages per pass (the metric's default; or auto)")
    parser.add_argument("--ppl-batch-size", default="1", help="perplexity windows per pass (or auto)")
    parser.add_argument("--ppl-before-batch", type=int, default=4,
                        help="also time the naive's windows at this many per pass (the old default; 0 = skip)")
    parser.add_argument("--limit", type=int, default=0, help="score only a seeded subset of N items per metric (0 = all)")
    parser.add_argument("--naive-limit", type=int, default=300, help="items the naive loops score (0 = all)")
    parser.add_argument("--naive-windows", type=int, default=12, help="perplexity windows the naive loop scores (0 = all)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch CPU threads (lm-eval gets the same)")
    parser.add_argument("--peer", action="store_true", help="also run lm-evaluation-harness's crows_pairs (its own venv)")
    parser.add_argument("--peer-venv", type=Path, default=Path(__file__).resolve().parent / ".venv-lm-eval")
    parser.add_argument("--json", type=Path, default=None, help="also write the table as JSON here")
    args = parser.parse_args()
    args.metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = sorted(set(args.metrics) - set(METRICS))
    if unknown:
        parser.error(f"unknown metric(s) {', '.join(unknown)}; choose among {', '.join(METRICS)}")
    from debiasbench.api.lm import check_batch_size

    args.batch_size, args.ppl_batch_size = check_batch_size(args.batch_size), check_batch_size(args.ppl_batch_size)
    args.lambada_batch_size = check_batch_size(args.lambada_batch_size)
    return args


def same(a: np.ndarray, b: np.ndarray) -> str:
    agree = int(np.sum(a == b))
    return f"{agree}/{len(a)} identical" if agree == len(a) else f"{agree}/{len(a)} SAME, {len(a) - agree} differ"


# --------------------------------------------------------------------------- CrowS-Pairs


def crows(handle: Any, args: argparse.Namespace, report: Report, device: str) -> dict[str, Any]:
    from debiasbench.api import get_registry
    from debiasbench.api.data import DataLocator
    from debiasbench_metrics.scoring.pair_scorer import packed_rows_per_batch, shared_prefix_logprobs
    from debiasbench_metrics.scoring.prefix_tree import tree_rows
    from debiasbench_metrics.scoring.scorer import encode, reduce_scores

    pairs = get_registry().get("dataset", "crows-pairs").load(DataLocator(download=False))
    pairs = [pairs[i] for i in seeded_subset(len(pairs), args.limit)]
    n = len(pairs)
    seqs = encode(handle, [p.sent_more for p in pairs] + [p.sent_less for p in pairs])
    shape = Shape.of(handle.model)

    def toolkit(sequences: list[list[int]]) -> list[np.ndarray]:
        return shared_prefix_logprobs(handle, sequences, batch_size=args.batch_size)

    toolkit(seqs[:16])  # warm-up
    full = timed(lambda: toolkit(seqs), device)
    rows = tree_rows([[handle.prefix_token_id, *s] for s in seqs], 8)
    flops, nodes = tree_flops(shape, rows, packed_rows_per_batch(handle, args.batch_size, rows, 8))
    report.lines.append(Line("crows-pairs", "toolkit (shared prefixes)", n, full.seconds, flops, full.peak_mib))
    report.notes.append(f"crows-pairs: tree rows hold {nodes} tokens for {sum(len(s) + 1 for s in seqs)} sentence tokens")

    sub = seeded_subset(n, args.naive_limit, seed=1)
    sub_seqs = [seqs[i] for i in sub] + [seqs[n + i] for i in sub]
    mine, slow = timed(lambda: toolkit(sub_seqs), device), timed(lambda: naive.sentence_loop(handle, sub_seqs), device)
    lengths = np.array([len(s) + 1 for s in sub_seqs])
    verdicts = []
    for scoring in ("mean", "sum"):
        a, b = reduce_scores(mine.result, scoring), reduce_scores(slow.result, scoring)
        verdicts.append(f"{scoring}: {same(a[:len(sub)] > a[len(sub):], b[:len(sub)] > b[len(sub):])}")
    sub_rows = tree_rows([[handle.prefix_token_id, *s] for s in sub_seqs], 8)
    report.lines.append(Line("crows-pairs", "toolkit, naive's subset", len(sub), mine.seconds,
                             tree_flops(shape, sub_rows, packed_rows_per_batch(handle, args.batch_size, sub_rows, 8))[0], mine.peak_mib,
                             reference_seconds=slow.seconds, decisions="; ".join(verdicts)))
    report.lines.append(Line("crows-pairs", "naive loop", len(sub), slow.seconds, shape.causal_flops(lengths), slow.peak_mib))
    diff = max(float(np.abs(x - y).max()) for x, y in zip(mine.result, slow.result))
    report.notes.append(f"crows-pairs: largest |log-prob difference| toolkit vs naive loop {diff:.2e} nats")
    summed = reduce_scores(full.result, "sum")
    return {"seconds": full.seconds, "pct_sum": 100 * float(np.mean(summed[:n] > summed[n:])), "n": n,
            "decisions": {s: (lambda r: r[:n] > r[n:])(reduce_scores(full.result, s)) for s in ("mean", "sum")},
            "rerun": lambda: toolkit(seqs)}


# --------------------------------------------------------------------------- StereoSet


def stereoset(handle: Any, args: argparse.Namespace, report: Report, device: str) -> dict[str, Any]:
    from debiasbench.api import get_registry
    from debiasbench.api.data import DataLocator
    from debiasbench_metrics.scoring.pair_scorer import packed_rows_per_batch
    from debiasbench_metrics.scoring.prefix_tree import tree_rows
    from debiasbench_metrics.scoring.scorer import encode, reduce_scores, sentence_logprobs
    from debiasbench_metrics.scoring.sentences import continuation_text
    from debiasbench_metrics.stereoset.metric import ROW_SIZE

    examples = get_registry().get("dataset", "stereoset").load(DataLocator(download=False))
    examples = [examples[i] for i in seeded_subset(len(examples), args.limit)]
    n = len(examples)
    sentences = [e.stereotype for e in examples] + [e.anti_stereotype for e in examples] + [e.unrelated for e in examples]
    contexts = [e.context if e.task == "intersentence" else "" for e in examples] * 3
    context_ids = encode(handle, contexts)
    seqs = [c + s for c, s in zip(context_ids, encode(handle, [continuation_text(c, s) for c, s in zip(contexts, sentences)]))]
    firsts = [len(c) for c in context_ids]
    groups = list(range(n)) * 3
    shape = Shape.of(handle.model)

    def toolkit(index: np.ndarray) -> list[np.ndarray]:
        from debiasbench_metrics.scoring.pair_scorer import shared_prefix_logprobs

        members = np.concatenate([index, index + n, index + 2 * n])
        return shared_prefix_logprobs(handle, [seqs[i] for i in members], [firsts[i] for i in members], batch_size=args.batch_size,
                                      row_size=ROW_SIZE, groups=[groups[i] for i in members])

    def decisions(lps: list[np.ndarray]) -> np.ndarray:
        s = reduce_scores(lps, "mean").reshape(3, -1)
        return np.concatenate([s[0] > s[1], s[0] > s[2], s[1] > s[2]])

    everything = np.arange(n)
    toolkit(everything[:8])
    full = timed(lambda: toolkit(everything), device)
    full_seqs = [[handle.prefix_token_id, *s] for s in seqs]
    rows = tree_rows(full_seqs, ROW_SIZE, groups)
    flops, nodes = tree_flops(shape, rows, packed_rows_per_batch(handle, args.batch_size, rows, ROW_SIZE))
    scored = np.array([len(s) - f for s, f in zip(seqs, firsts)])
    lengths = np.array([len(s) + 1 for s in seqs])
    plain = timed(lambda: sentence_logprobs(handle, seqs, firsts, batch_size=args.batch_size), device)
    report.lines.append(Line("stereoset", "toolkit (shared prefixes)", n, full.seconds, flops, full.peak_mib,
                             reference_seconds=plain.seconds, decisions=same(decisions(full.result), decisions(plain.result))))
    report.lines.append(Line("stereoset", "padded batches (before)", n, plain.seconds, shape.causal_flops(lengths, scored),
                             plain.peak_mib))
    report.notes.append(f"stereoset: tree rows hold {nodes} tokens for {int(lengths.sum())} sentence tokens")

    sub = seeded_subset(n, args.naive_limit, seed=1)
    members = np.concatenate([sub, sub + n, sub + 2 * n])
    mine = timed(lambda: toolkit(sub), device)
    slow = timed(lambda: naive.sentence_loop(handle, [seqs[i] for i in members], [firsts[i] for i in members]), device)
    sub_rows = tree_rows([full_seqs[i] for i in members], ROW_SIZE, [groups[i] for i in members])
    report.lines.append(Line("stereoset", "toolkit, naive's subset", len(sub), mine.seconds,
                             tree_flops(shape, sub_rows, packed_rows_per_batch(handle, args.batch_size, sub_rows, ROW_SIZE))[0],
                             mine.peak_mib, reference_seconds=slow.seconds, decisions=same(decisions(mine.result), decisions(slow.result))))
    report.lines.append(Line("stereoset", "naive loop", len(sub), slow.seconds, shape.causal_flops(lengths[members]), slow.peak_mib))
    return {"seconds": full.seconds, "decisions": {"all": decisions(full.result)}, "rerun": lambda: toolkit(everything),
            "decide": lambda lps: {"all": decisions(lps)}}


# --------------------------------------------------------------------------- perplexity


def perplexity(handle: Any, args: argparse.Namespace, report: Report, device: str) -> dict[str, Any]:
    from debiasbench.api import get_registry
    from debiasbench.api.data import DataLocator
    from debiasbench_metrics.perplexity.metric import window_nll
    from debiasbench_metrics.perplexity.windows import plan_windows, window_size

    text = get_registry().get("dataset", "wikitext2").load(DataLocator(download=False))
    tokens = np.asarray(handle.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"], dtype=np.int64)
    length, stride, _ = window_size("bias-bench", handle.max_length)
    windows = plan_windows(len(tokens), length, stride)
    windows = [windows[i] for i in seeded_subset(len(windows), args.limit)]
    shape = Shape.of(handle.model)

    def flops(ws: list[Any]) -> float:
        return shape.causal_flops(np.array([w.end - w.start for w in ws]), np.array([w.scored for w in ws]))

    window_nll(handle, tokens, windows[:1], 1, None)
    full = timed(lambda: window_nll(handle, tokens, windows, args.ppl_batch_size, None), device)
    scored = sum(w.scored for w in windows)
    report.lines.append(Line("perplexity", "toolkit (streamed head)", len(windows), full.seconds, flops(windows), full.peak_mib))
    report.notes.append(f"perplexity: {len(windows)} windows of {length}, {scored} scored tokens, "
                        f"ppl {np.exp(full.result[0].sum() / scored):.4f}")
    sub = [windows[i] for i in seeded_subset(len(windows), args.naive_windows, seed=1)]
    mine = timed(lambda: window_nll(handle, tokens, sub, args.ppl_batch_size, None), device)
    slow = timed(lambda: naive.window_loop(handle, tokens, sub), device)
    per_token = np.abs(mine.result[0] - slow.result) / np.array([w.scored for w in sub])
    report.lines.append(Line("perplexity", "toolkit, naive's subset", len(sub), mine.seconds, flops(sub), mine.peak_mib,
                             reference_seconds=slow.seconds,
                             decisions=f"max |window NLL diff| {np.abs(mine.result[0] - slow.result).max():.1e} nats "
                                       f"({per_token.max():.1e}/token)"))
    report.lines.append(Line("perplexity", "naive loop", len(sub), slow.seconds, flops(sub), slow.peak_mib))
    exact = naive.window_float64(handle, tokens, sub[:2])
    report.notes.append(f"perplexity: against the output layer in float64 (first {len(exact)} of the naive's windows), "
                        f"largest |window NLL error|: toolkit {np.abs(mine.result[0][:2] - exact).max():.1e} nats, "
                        f"naive loop {np.abs(slow.result[:2] - exact).max():.1e} nats")
    if args.ppl_before_batch and args.ppl_before_batch != args.ppl_batch_size:
        before = timed(lambda: window_nll(handle, tokens, sub, args.ppl_before_batch, None), device)
        report.lines.append(Line("perplexity", f"{args.ppl_before_batch} windows per pass (before)", len(sub), before.seconds,
                                 flops(sub), before.peak_mib,
                                 decisions=f"max |window NLL diff| vs toolkit {np.abs(mine.result[0] - before.result[0]).max():.1e} nats"))
    return {"seconds": full.seconds, "nll": full.result[0],
            "rerun": lambda: window_nll(handle, tokens, windows, args.ppl_batch_size, None)}


# --------------------------------------------------------------------------- BLiMP


def blimp(handle: Any, args: argparse.Namespace, report: Report, device: str) -> dict[str, Any]:
    """All 67 paradigms' pairs (or a seeded ``--limit`` of them) as the ``blimp`` metric scores them: ``' ' + sentence``
    (its ``leading_space`` default) after the prefix token, shared prefixes, ``sum`` scoring, correct = good >= bad."""
    from debiasbench.api import get_registry
    from debiasbench.api.data import DataLocator
    from debiasbench_metrics.blimp.metric import BlimpOptions
    from debiasbench_metrics.scoring.pair_scorer import ROW_SIZE, packed_rows_per_batch, shared_prefix_logprobs
    from debiasbench_metrics.scoring.prefix_tree import tree_rows
    from debiasbench_metrics.scoring.scorer import encode, reduce_scores

    pairs = get_registry().get("dataset", "blimp").load(DataLocator(download=False))
    pairs = [pairs[i] for i in seeded_subset(len(pairs), args.limit)]
    n = len(pairs)
    space = " " if BlimpOptions().leading_space else ""
    seqs = encode(handle, [space + p.good for p in pairs] + [space + p.bad for p in pairs])  # score_sentences' encoding
    shape = Shape.of(handle.model)

    def toolkit(sequences: list[list[int]]) -> list[np.ndarray]:
        return shared_prefix_logprobs(handle, sequences, batch_size=args.batch_size, row_size=ROW_SIZE)

    def flops(sequences: list[list[int]]) -> tuple[float, int]:
        rows = tree_rows([[handle.prefix_token_id, *s] for s in sequences], ROW_SIZE)
        return tree_flops(shape, rows, packed_rows_per_batch(handle, args.batch_size, rows, ROW_SIZE))

    def decisions(lps: list[np.ndarray]) -> np.ndarray:
        summed = reduce_scores(lps, "sum")
        half = len(summed) // 2
        return summed[:half] >= summed[half:]

    toolkit(seqs[:16])  # warm-up
    full = timed(lambda: toolkit(seqs), device)
    total, nodes = flops(seqs)
    report.lines.append(Line("blimp", "toolkit (shared prefixes)", n, full.seconds, total, full.peak_mib))
    report.notes.append(f"blimp: tree rows hold {nodes} tokens for {sum(len(s) + 1 for s in seqs)} sentence tokens; "
                        f"accuracy {100 * float(np.mean(decisions(full.result))):.2f}% of {n} pairs")

    sub = seeded_subset(n, args.naive_limit, seed=1)
    sub_seqs = [seqs[i] for i in sub] + [seqs[n + i] for i in sub]
    mine, slow = timed(lambda: toolkit(sub_seqs), device), timed(lambda: naive.sentence_loop(handle, sub_seqs), device)
    report.lines.append(Line("blimp", "toolkit, naive's subset", len(sub), mine.seconds, flops(sub_seqs)[0], mine.peak_mib,
                             reference_seconds=slow.seconds,
                             decisions=f"sum: {same(decisions(mine.result), decisions(slow.result))}"))
    report.lines.append(Line("blimp", "naive loop", len(sub), slow.seconds,
                             shape.causal_flops(np.array([len(s) + 1 for s in sub_seqs])), slow.peak_mib))
    diff = max(float(np.abs(x - y).max()) for x, y in zip(mine.result, slow.result))
    report.notes.append(f"blimp: largest |log-prob difference| toolkit vs naive loop {diff:.2e} nats")
    return {"seconds": full.seconds, "decisions": {"sum": decisions(full.result)}, "rerun": lambda: toolkit(seqs),
            "decide": lambda lps: {"sum": decisions(lps)}}


# --------------------------------------------------------------------------- LAMBADA


def continuation_flops(handle: Any, shape: Shape, sequences: list[list[int]], k: np.ndarray, batch_size: Any) -> float:
    """What ``continuation_scores`` executes: passages sorted by length and cut into batches, each right-padded to its
    longest input (the body and the causal kernel run on the padding too), the output layer on the ``k`` positions
    that predict a target token only."""
    from debiasbench.api.lm import resolve_batch_size
    from debiasbench_metrics.scoring.continuations import windows_of

    lengths = np.array([len(w) - 1 for w in windows_of(handle, sequences, k)], dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    size = resolve_batch_size(handle, batch_size, item_tokens=int(lengths.max(initial=1)), ceiling=len(lengths))
    return sum(shape.causal_flops(np.full(len(b), lengths[b].max()), k[b]) for b in (order[s:s + size] for s in range(0, len(order), size)))


def lambada(handle: Any, args: argparse.Namespace, report: Report, device: str) -> dict[str, Any]:
    """LAMBADA (OpenAI) passages (or a seeded ``--limit`` of them) as the ``lambada`` metric scores them: the last word's
    summed log-probability after the passage's own tokens (no prefix token) and whether each of its tokens is the argmax."""
    from debiasbench.api import get_registry
    from debiasbench.api.data import DataLocator
    from debiasbench_metrics.lambada.metric import target_tokens
    from debiasbench_metrics.scoring.continuations import continuation_scores

    passages = get_registry().get("dataset", "lambada").load(DataLocator(download=False))
    passages = [passages[i] for i in seeded_subset(len(passages), args.limit)]
    n = len(passages)
    seqs, k = target_tokens(handle, passages)
    shape = Shape.of(handle.model)

    def toolkit(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return continuation_scores(handle, [seqs[i] for i in index], k[index], batch_size=args.lambada_batch_size)

    def flops(index: np.ndarray) -> float:
        return continuation_flops(handle, shape, [seqs[i] for i in index], k[index], args.lambada_batch_size)

    everything = np.arange(n)
    toolkit(everything[:4])  # warm-up
    full = timed(lambda: toolkit(everything), device)
    logprob, greedy = full.result
    report.lines.append(Line("lambada", "toolkit (head on targets)", n, full.seconds, flops(everything), full.peak_mib))
    inputs = sum(min(len(s), handle.max_length + 1) - 1 for s in seqs)
    report.notes.append(f"lambada: {n} passages, {inputs} input tokens, {int(k.sum())} target tokens; "
                        f"accuracy {100 * float(greedy.mean()):.2f}%, perplexity {np.exp(-logprob.mean()):.4f}")

    sub = seeded_subset(n, args.naive_limit, seed=1)
    mine = timed(lambda: toolkit(sub), device)
    slow = timed(lambda: naive.continuation_loop(handle, [seqs[i] for i in sub], k[sub]), device)
    report.lines.append(Line("lambada", "toolkit, naive's subset", len(sub), mine.seconds, flops(sub), mine.peak_mib,
                             reference_seconds=slow.seconds,
                             decisions=f"greedy: {same(mine.result[1], slow.result[1])}; max |log-likelihood diff| "
                                       f"{np.abs(mine.result[0] - slow.result[0]).max():.1e} nats"))
    naive_lengths = np.array([min(len(seqs[i]), handle.max_length + 1) - 1 for i in sub])
    report.lines.append(Line("lambada", "naive loop", len(sub), slow.seconds, shape.causal_flops(naive_lengths), slow.peak_mib))
    return {"seconds": full.seconds, "decisions": {"greedy": greedy}, "rerun": lambda: toolkit(everything),
            "decide": lambda result: {"greedy": result[1]}}


# --------------------------------------------------------------------------- peer and bfloat16


def peer(handle: Any, args: argparse.Namespace, report: Report, ours: dict[str, Any]) -> None:
    from peer_lm_eval import run_lm_eval_crows

    from debiasbench.api import get_registry
    from debiasbench.api.data import DataLocator

    folder = _model_folder(handle)
    dataset = get_registry().get("dataset", "crows-pairs")
    csv = DataLocator(download=False).path(dataset.files[0])
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    result = run_lm_eval_crows(args.peer_venv, folder, csv, batch_size=16, device=args.device, limit=args.limit or None,
                               prefix_token_id=handle.prefix_token_id)
    if args.limit:  # lm-eval's --limit takes the first rows of the file, ours a seeded sample: only the times compare
        report.notes.append("lm-eval scored the first rows of the file and the toolkit a seeded sample: percentages differ")
    seconds = result["lm_eval_seconds"] or result["seconds"]
    report.lines.append(Line("crows-pairs", f"lm-eval {result['version']} (batch 16)", result["n"], seconds, 0.0, None,
                             decisions=f"{100 * result['pct_stereotype']:.2f}% stereotyped (ours, sum: {ours['pct_sum']:.2f}%)"))
    report.notes.append(f"lm-eval: {result['seconds']:.1f} s wall incl. start-up, {seconds:.1f} s evaluating; "
                        f"toolkit {ours['seconds']:.1f} s = {seconds / ours['seconds']:.2f}x faster; command: {result['command']}")


def _model_folder(handle: Any) -> Path:
    """The Hugging Face folder lm-eval can load: the model's own, or the embedded GGUF's converted copy."""
    source = Path(handle.source)
    if source.is_dir():
        return source
    from debiasbench.api.data import cache_dir

    found = sorted((cache_dir(None) / "models").glob(f"{handle.name}-*/config.json"))
    if not found:
        raise SystemExit(f"no Hugging Face folder for {handle.name}; pass a folder as --model")
    return found[0].parent


def bfloat16(handle: Any, report: Report, results: dict[str, dict[str, Any]], device: str) -> None:
    import torch

    handle.model.to(torch.bfloat16)
    handle.dtype = "bfloat16"
    for metric, result in results.items():
        half = timed(result["rerun"], device)
        if metric == "perplexity":
            verdict = f"ppl {np.exp(half.result[0].sum() / half.result[1].sum()):.4f}"
        else:
            from debiasbench_metrics.scoring.scorer import reduce_scores

            if metric == "crows-pairs":
                n = result["n"]
                now = {s: (lambda r: r[:n] > r[n:])(reduce_scores(half.result, s)) for s in ("mean", "sum")}
            else:
                now = result["decide"](half.result)
            verdict = "; ".join(f"{k}: {int(np.sum(now[k] != v))}/{len(v)} flip" for k, v in result["decisions"].items())
        report.lines.append(Line(metric, f"toolkit in bfloat16 ({result['seconds'] / half.seconds:.2f}x float32)", 0, half.seconds,
                                 0.0, half.peak_mib, decisions=verdict))


def main() -> None:
    args = parse_args()
    import torch

    torch.set_num_threads(args.threads)
    handle = load_handle(args.model, args.device)
    device = str(handle.model.device)
    report = Report({"model": handle.name, "device": device, "threads": torch.get_num_threads(), "torch": torch.__version__,
                     "batch": f"{args.batch_size}/{args.ppl_batch_size}"
                     + (f"/{args.lambada_batch_size} (LAMBADA)" if "lambada" in args.metrics else ""),
                     "matmul_peak_flops": matmul_peak(device)})
    results: dict[str, dict[str, Any]] = {}
    runners = {"crows-pairs": crows, "stereoset": stereoset, "perplexity": perplexity, "blimp": blimp, "lambada": lambada}
    for metric in args.metrics:
        print(f"[{metric}] ...", file=sys.stderr, flush=True)
        results[metric] = runners[metric](handle, args, report, device)
    total = sum(r["seconds"] for r in results.values())
    report.notes.append(f"whole evaluation ({', '.join(results)}), toolkit: {total:.0f} s = {total / 60:.1f} min")
    if args.peer and "crows-pairs" in results:
        print("[lm-eval] ...", file=sys.stderr, flush=True)
        peer(handle, args, report, results["crows-pairs"])
    if args.dtype == "both":
        bfloat16(handle, report, results, device)
    report.print()
    if args.json:
        args.json.write_text(json.dumps({"header": report.header, "lines": [asdict(line) for line in report.lines],
                                         "notes": report.notes}, indent=2))


if __name__ == "__main__":
    main()
