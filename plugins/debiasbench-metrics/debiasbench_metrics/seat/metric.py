"""The ``seat`` metric: sentence-embedding association tests (May et al. 2019; docs/concepts.md, "SEAT"), as bias-bench runs them.

Each sentence is embedded as the mean of the model's last hidden states over its tokens
(:mod:`embeddings`); each test gives WEAT's effect size ``d`` and one-sided permutation p (:mod:`weat`).
Rows:

* ``seat.<test>.d`` and ``seat.<test>.p`` per test, on the test's domain (:mod:`catalogue`);
* ``seat.effect-size`` per domain and overall: the mean of ``|d|`` over its tests (bias-bench's
  "average absolute effect size"; ideal 0);
* ``seat.association`` per domain and overall, from per-item rows: an item is one target sentence of one
  test, its value the signed association ``s(x, A, B)`` for a sentence of X (``targ1``) and ``-s(y, A, B)`` for
  one of Y (``targ2``); the figure is the mean over tests of the mean over their target sentences, i.e.
  half of the effect size's numerator averaged over tests (ideal 0), so before and after pair on sentences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from debiasbench.api import (
    OVERALL,
    UnknownNameError,
    EvalContext,
    MeasureSpec,
    Metric,
    MetricResult,
    MetricRow,
    ModelHandle,
    PresetValues,
    concat_items,
    item_rows,
    option,
)
from debiasbench.api.lm import BatchSize, check_batch_size
from debiasbench_metrics.shared.seeding import generator
from debiasbench_metrics.seat.dataset import SeatDataset, SeatTest, check_tests, seat_file
from debiasbench_metrics.seat.embeddings import mean_hidden_states
from debiasbench_metrics.seat.catalogue import DEFAULT_TESTS, QUICK_TESTS, TESTS
from debiasbench_metrics.seat.weat import associations, effect_size, permutation_p

EFFECT, ASSOCIATION = "seat.effect-size", "seat.association"
DOMAIN_ORDER = ("gender", "race", "religion", "disability", "age")


def measures_of(test: str) -> tuple[MeasureSpec, MeasureSpec]:
    return (MeasureSpec(f"seat.{test}.d", 0.0, "closer", f"WEAT effect size of SEAT test {test}"),
            MeasureSpec(f"seat.{test}.p", None, "higher", f"one-sided permutation p of SEAT test {test}"))


@dataclass
class SeatOptions:
    """Options of the ``seat`` metric."""

    tests: tuple[str, ...] = option(DEFAULT_TESTS, "SEAT tests, comma-separated, or all; default: bias-bench's 17 gender, race and religion tests")
    samples: int = option(100_000, "permutations for the p-value (exact over every partition when there are at most this many)")
    batch_size: BatchSize = option(64, "sentences per forward pass, or auto: the largest batch that fits the free memory")

    def __post_init__(self) -> None:
        tests = [self.tests] if isinstance(self.tests, str) else list(self.tests)
        tests = [t.strip() for t in tests if t.strip()]
        try:
            self.tests = tuple(TESTS) if tests == ["all"] else check_tests(tests)
        except UnknownNameError as exc:  # the options' one-line error carries its did-you-mean
            raise ValueError(str(exc)) from None
        if self.samples < 1:
            raise ValueError(f"samples must be a positive number of permutations, not {self.samples}")
        self.batch_size = check_batch_size(self.batch_size)


@dataclass(frozen=True)
class WeatResult:
    test: SeatTest
    d: float
    p: float
    exact: bool
    s_x: np.ndarray
    s_y: np.ndarray


def run_test(test: SeatTest, vectors: Mapping[str, np.ndarray], samples: int, seed: int) -> WeatResult:
    """WEAT on one test's embeddings (``vectors``: sentence -> embedding)."""
    def matrix(examples: tuple[str, ...]) -> np.ndarray:
        return np.stack([vectors[e] for e in examples])

    a, b = matrix(test.attr1.examples), matrix(test.attr2.examples)
    s_x, s_y = associations(matrix(test.targ1.examples), a, b), associations(matrix(test.targ2.examples), a, b)
    p, exact = permutation_p(s_x, s_y, samples, generator(seed, "seat", test.name))
    return WeatResult(test, effect_size(s_x, s_y), p, exact, s_x, s_y)


def seat_rows(results: list[WeatResult]) -> tuple[list[MetricRow], Any]:
    """Per-test d and p, and per domain and overall the mean |d| and the item-based association."""
    rows: list[MetricRow] = []
    for r in results:
        n = len(r.s_x) + len(r.s_y)
        rows += [MetricRow(r.test.domain, f"seat.{r.test.name}.d", r.d, n), MetricRow(r.test.domain, f"seat.{r.test.name}.p", r.p, n)]
    domains = [d for d in DOMAIN_ORDER if any(r.test.domain == d for r in results)]
    tables = []
    for domain in [*domains, OVERALL] if results else []:
        mine = [r for r in results if domain == OVERALL or r.test.domain == domain]
        rows.append(MetricRow(domain, EFFECT, float(np.mean([abs(r.d) for r in mine])), len(mine)))
        ids = [f"{r.test.name}:{key}:{k}" for r in mine for key, s in (("targ1", r.s_x), ("targ2", r.s_y)) for k in range(len(s))]
        values = np.concatenate([np.concatenate([r.s_x, -r.s_y]) for r in mine])
        groups = [r.test.name for r in mine for _ in range(len(r.s_x) + len(r.s_y))]
        rows.append(MetricRow(domain, ASSOCIATION, float(np.mean([np.concatenate([r.s_x, -r.s_y]).mean() for r in mine])), len(ids)))
        tables.append(item_rows(ASSOCIATION, domain, ids, values, group=groups))
    return rows, concat_items(tables)


class SeatMetric(Metric):
    """SEAT effect sizes and permutation p-values on the model's mean last hidden states."""

    name: ClassVar[str] = "seat"
    description: ClassVar[str] = "SEAT: WEAT effect size d (ideal 0) and permutation p on mean last hidden states, per test and domain"
    Options: ClassVar[type] = SeatOptions
    datasets: ClassVar[tuple[str, ...]] = ()  # the files read follow ``tests``; protocol_key adds their checksums
    presets: ClassVar[Mapping[str, PresetValues]] = {"quick": PresetValues(options={"tests": QUICK_TESTS}), "full": PresetValues()}
    probe: ClassVar[PresetValues | None] = PresetValues(options={"tests": QUICK_TESTS})
    measures: ClassVar[tuple[MeasureSpec, ...]] = (
        MeasureSpec(EFFECT, 0.0, "closer", "mean |d| over the domain's SEAT tests (bias-bench's average absolute effect size)",
                    headline=True),
        MeasureSpec(ASSOCIATION, 0.0, "closer", "mean over tests of the signed association s(w, A, B) of the target sentences "
                    "(+ for targ1, - for targ2)", "cos", aggregate="group-mean"),
        *(spec for test in TESTS for spec in measures_of(test)),
    )

    def protocol_key(self, ctx: EvalContext, options: Any) -> dict[str, Any]:
        """The cache key holds the checksums of the chosen tests' files only: a data folder needs no other test."""
        return {**super().protocol_key(ctx, options), "seat_files": {seat_file(t).relpath: ctx.data.checksum(seat_file(t)) for t in options.tests}}

    def evaluate(self, model: ModelHandle, ctx: EvalContext, options: Any) -> MetricResult:
        dataset: SeatDataset = ctx.registry.get("dataset", "seat")
        names = [t for t in options.tests if ctx.domains is None or TESTS[t][0] in ctx.domains]
        tests = dataset.load_tests(ctx.data, names) if names else {}
        sentences = list(dict.fromkeys(e for t in tests.values() for s in (t.targ1, t.targ2, t.attr1, t.attr2) for e in s.examples))
        embedded = mean_hidden_states(model, sentences, batch_size=options.batch_size, progress=ctx.progress, description="seat")
        vectors = dict(zip(sentences, embedded))
        results = [run_test(t, vectors, options.samples, ctx.seed) for t in tests.values()]
        rows, items = seat_rows(results)
        skipped = [t for t in options.tests if t not in tests]
        notes = [f"SEAT tests outside the evaluated domains, not run: {', '.join(skipped)}"] if skipped else []
        protocol = {
            "metric": self.name, "tests": list(tests), "embedding": "mean of the base model's last hidden states over the "
            "sentence's tokens (no prefix token, no special tokens), as bias-bench's seat.py for GPT-2",
            "dtype": model.dtype, "sentences": len(sentences), "samples": options.samples,
            "p_value": "one-sided permutation, ties counted; exact when C(2n, n) <= samples, else samples - 1 seeded partitions + 1",
            "exact": {r.test.name: r.exact for r in results}, "domains": sorted({r.test.domain for r in results}),
            "limit": None, "interval": None, "seed": ctx.seed,
        }
        checksums = {seat_file(t).relpath: ctx.data.checksum(seat_file(t)) for t in tests}
        return MetricResult(rows, protocol, checksums, None, notes, items=items)
