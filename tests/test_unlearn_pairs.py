"""Sentence-pair sources of biasunlearn / pcgu and the no-leakage guarantee (issue 28, item 2).

The leakage tests compute the run's evaluated test split exactly as the results are tagged
(``split_of(metric, item ids, --heldout-seed, --dev-fraction)`` over every item of the benchmark) and
check that no trained pair is a test item, names a test target term, or repeats a test sentence.
Run with ``-s`` to see what each checked."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

pytest.importorskip("debiasbench_unlearn")

from debiasbench.api import DebiasbenchError, ForgetText, RunFacts
from debiasbench.api.data import DataLocator
from debiasbench.statistics.paired import split_of
from debiasbench_unlearn.pairs import PairOptions, check_pairs, run_pairs
from debiasbench_unlearn.pairs.sources import (
    _attribute_swaps,
    attribute_swap,
    benchmark_examples,
    crows_pairs,
    stereoset_pairs,
    swapped_pairs,
)


def _facts(data_dir: Path, metrics: tuple[str, ...], seed: int = 0, fraction: float = 0.5, domain: str = "gender") -> RunFacts:
    return RunFacts(domain=domain, preset="full", eval_every=None, probed_metrics=(), forget_set="hatecheck",
                    data=DataLocator(data_dir, None), metrics=metrics, heldout_seed=seed, dev_fraction=fraction)


def test_attribute_swap_replaces_whole_words_keeping_case(tmp_path: Path):
    path = tmp_path / "words.json"
    path.write_text(json.dumps({"gender": [["men", "women"], ["his", "her"], ["actor", "actress"]]}))
    pattern, others = _attribute_swaps(str(path), "gender")
    got = attribute_swap("Women say his actor is HIS; womenfolk stay.", pattern, others, random.Random(0))
    assert got == "Men say her actress is HER; womenfolk stay."


def test_redditbias_style_swap_pairs_drop_texts_without_a_group_term():
    texts = [ForgetText("women are bad drivers", "gender", "female"), ForgetText("cars are fast", "gender", "female")]
    pairs = swapped_pairs(texts, "redditbias", 0)
    assert [(p.stereo, p.anti) for p in pairs] == [("women are bad drivers", "men are bad drivers")]


def test_unknown_domain_for_a_swap_source_is_one_line():
    with pytest.raises(DebiasbenchError, match="has no pairs for domain 'disability'") as info:
        check_pairs(PairOptions(pairs="attribute-swap"), RunFacts("disability", "full", None, (), "hatecheck"), "hatecheck")
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- leakage, on the real benchmark files


def _test_split(metric: str, items: list[str], seed: int, fraction: float) -> set[str]:
    return {i for i, s in zip(items, split_of(metric, items, seed, fraction)) if s == "test"}


@pytest.mark.parametrize("seed,fraction", [(0, 0.5), (1, 0.5), (7, 0.3)])
def test_crows_pairs_source_trains_on_no_evaluated_item(data_dir: Path, seed: int, fraction: float):
    facts = _facts(data_dir, ("crows-pairs", "stereoset", "perplexity"), seed, fraction)
    trained = run_pairs(PairOptions(pairs="crows-pairs"), facts, [], 0)
    every = benchmark_examples("crows-pairs", facts.data)
    test_ids = _test_split("crows-pairs", [str(p.pair_id) for p in every], seed, fraction)  # every domain, as evaluated
    test_sentences = {s for p in every if str(p.pair_id) in test_ids for s in (p.sent_more, p.sent_less)}
    shared_items = {p.item for p in trained} & test_ids
    shared_sentences = {s for p in trained for s in (p.stereo, p.anti)} & test_sentences
    print(f"\n[leakage] crows-pairs source, --heldout-seed {seed} --dev-fraction {fraction}: trained on {len(trained)} gender "
          f"pairs; evaluated test split {len(test_ids)} of {len(every)} pairs; trained items in it: {len(shared_items)}; "
          f"trained sentences equal to a test sentence: {len(shared_sentences)}")
    assert trained and not shared_items and not shared_sentences
    assert all(split_of("crows-pairs", [p.item], seed, fraction) == ["dev"] for p in trained)


def test_stereoset_source_is_refused_while_stereoset_is_evaluated(data_dir: Path):
    facts = _facts(data_dir, ("crows-pairs", "stereoset"))
    with pytest.raises(DebiasbenchError, match="pairs=stereoset would leak") as info:
        check_pairs(PairOptions(pairs="stereoset"), facts, "hatecheck")
    assert "\n" not in str(info.value)
    every = stereoset_pairs(benchmark_examples("stereoset", facts.data), "gender")
    test = _test_split("stereoset", [p.item for p in every], 0, 0.5)
    terms = {p.target for p in every}
    free = terms - {p.target for p in every if p.item in test}
    print(f"\n[leakage] stereoset source with stereoset evaluated: {len(terms)} gender target terms, "
          f"{len(free)} without a test example -> refused: {info.value}")
    assert not free


@pytest.mark.parametrize("seed", [0, 3])
def test_stereoset_source_uses_dev_target_terms_only_when_not_evaluated(data_dir: Path, seed: int):
    facts = _facts(data_dir, ("crows-pairs",), seed)
    trained = run_pairs(PairOptions(pairs="stereoset"), facts, [], 0)
    every = stereoset_pairs(benchmark_examples("stereoset", facts.data), "gender")
    terms = sorted({p.target for p in every})
    test_terms = {t for t, s in zip(terms, split_of("stereoset", [f"group\x00gender/{t}" for t in terms], seed, 0.5)) if s == "test"}
    trained_terms = {p.target for p in trained}
    print(f"\n[leakage] stereoset source, stereoset not evaluated, --heldout-seed {seed}: {len(trained)} pairs of "
          f"{len(trained_terms)} dev target terms; test target terms {len(test_terms)}; shared: {len(trained_terms & test_terms)}")
    assert trained and not trained_terms & test_terms


def test_pair_split_all_is_refused_only_when_the_benchmark_is_evaluated(data_dir: Path):
    with pytest.raises(DebiasbenchError, match="pair_split=all would train on the 'crows-pairs' items") as info:
        check_pairs(PairOptions(pairs="crows-pairs", pair_split="all"), _facts(data_dir, ("crows-pairs",)), "hatecheck")
    assert "\n" not in str(info.value)
    everything = run_pairs(PairOptions(pairs="crows-pairs", pair_split="all"), _facts(data_dir, ("stereoset",)), [], 0)
    assert len(everything) == len(crows_pairs(benchmark_examples("crows-pairs", DataLocator(data_dir, None)), "gender"))


def test_redditbias_source_holds_no_redditbias_test_sentence(data_dir: Path):
    import csv

    facts = _facts(data_dir, ("redditbias", "crows-pairs", "stereoset"))
    trained = run_pairs(PairOptions(pairs="redditbias"), facts, [], 0)
    test = set()
    for group in ("female", "male"):
        with open(data_dir / f"redditbias/gender/reddit_comments_gender_{group}_biased_test_reduced.csv", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                for column in ("comment", "comments", "comments_processed"):
                    if row.get(column):
                        test.add(row[column].strip().lower())
    shared = {s for p in trained for s in (p.stereo.strip().lower(), p.anti.strip().lower())} & test
    print(f"\n[leakage] redditbias source: {len(trained)} gender pairs; RedditBias test sentences (female and male "
          f"sides) {len(test)}; trained sentences among them: {len(shared)}")
    assert trained and not shared
