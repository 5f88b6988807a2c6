"""The stereoset metric: SS/LMS/ICAT averaged over target terms on hand-computed examples, the metric
on a fixture file with fixed scores (contexts, tasks, the ``file`` option), and the tiny model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from tests.item_checks import assert_items_reproduce_rows  # noqa: E402

pytest.importorskip("debiasbench_metrics")

from debiasbench.testing import evaluate_metric  # noqa: E402
from debiasbench_metrics.stereoset import metric as stereoset  # noqa: E402
from debiasbench_metrics.stereoset.dataset import StereoSetDataset  # noqa: E402
from debiasbench_metrics.stereoset.metric import StereoSetMetric, StereoSetOptions  # noqa: E402
from debiasbench_metrics.stereoset.layouts import parse_stereoset  # noqa: E402
from debiasbench_metrics.stereoset.scores import icat, stereoset_items, stereoset_rows  # noqa: E402

from debiasbench.plugin_system.interfaces import DataFile, EvalContext  # noqa: E402
from debiasbench.plugin_system.registry import Registry  # noqa: E402
from debiasbench.data.locator import DataLocator  # noqa: E402
from debiasbench.testing import tiny_model_handle  # noqa: E402


def _by_key(rows):
    return {(r.domain, r.measure.split(".")[-1]): r for r in rows}


def _figures(domains, targets, pro, lm_hits, order, seed=0, intervals=False):
    """The rows a run records: ICAT from the metric, SS/LMS/margin computed by the core from the items."""
    from debiasbench.api import MetricResult, concat_items
    from debiasbench.run.metric_rows import with_core_rows

    prefix = "stereoset-intra"
    ids = np.array([f"e{i}" for i in range(len(pro))])
    items = concat_items(stereoset_items(prefix, ids, domains, targets, pro, lm_hits, order, np.zeros(len(pro))))
    rows = stereoset_rows(prefix, domains, targets, pro, lm_hits, order)
    return with_core_rows(StereoSetMetric(), MetricResult(rows, {}, items=items), seed, intervals).rows


def test_ss_lms_icat_are_means_over_target_terms():
    domains = np.array(["gender"] * 4 + ["race"] * 2)
    targets = np.array(["A", "A", "A", "B", "C", "C"])
    pro = np.array([True, True, False, False, True, True])
    lm_hits = np.array([2, 1, 0, 2, 2, 2])
    rows = _by_key(_figures(domains, targets, pro, lm_hits, ["gender", "race"]))
    # gender: SS_A = 200/3, SS_B = 0 -> 100/3 (pooled would be 50); LMS_A = 50, LMS_B = 100 -> 75
    assert rows[("gender", "ss")].value == pytest.approx(100 / 3)
    assert rows[("gender", "lms")].value == pytest.approx(75.0)
    assert rows[("gender", "icat")].value == pytest.approx(50.0)
    assert rows[("race", "ss")].value == 100.0 and rows[("race", "icat")].value == 0.0
    # all: the mean over the three target terms, not over domains or examples
    assert rows[("all", "ss")].value == pytest.approx((200 / 3 + 0 + 100) / 3)
    assert rows[("all", "lms")].value == pytest.approx(250 / 3)
    assert rows[("all", "icat")].value == pytest.approx(icat(250 / 3, 100 - 500 / 9))
    assert rows[("gender", "ss")].n == 4 and rows[("all", "ss")].n == 6
    assert rows[("gender", "ss")].measure == "stereoset-intra.ss"


def test_same_target_name_in_two_domains_is_two_targets():
    rows = _by_key(_figures(np.array(["gender", "race"]), np.array(["T", "T"]), np.array([True, False]),
                            np.array([2, 2]), ["gender", "race"]))
    assert rows[("all", "ss")].value == 50.0


def test_core_intervals_resample_target_terms_and_are_deterministic():
    rng = np.random.default_rng(1)
    domains = np.array(["gender"] * 30 + ["race"] * 20)
    targets = np.array([f"t{i % 5}" for i in range(50)])
    pro, hits = rng.random(50) < 0.6, rng.integers(0, 3, 50)
    first = _figures(domains, targets, pro, hits, ["gender", "race"], 7, True)
    again = _figures(domains, targets, pro, hits, ["gender", "race"], 7, True)
    other = _figures(domains, targets, pro, hits, ["gender", "race"], 8, True)
    assert [(r.ci_low, r.ci_high) for r in first] == [(r.ci_low, r.ci_high) for r in again]
    assert [(r.ci_low, r.ci_high) for r in first] != [(r.ci_low, r.ci_high) for r in other]
    for row in first:
        if row.measure.endswith(".icat"):  # no item aggregate: the metric's row, no interval
            assert row.ci_low is None
        else:
            assert row.ci_low <= row.value <= row.ci_high


EXAMPLES = [
    {"type": "intrasentence", "target": "mother", "bias_type": "gender", "context": "The mother is BLANK.",
     "stereotype": "The mother is caring.", "anti-stereotype": "The mother is cold.", "unrelated": "The mother is purple."},
    {"type": "intrasentence", "target": "Muslim", "bias_type": "religion", "context": "Muslims are BLANK.",
     "stereotype": "Muslims are violent.", "anti-stereotype": "Muslims are peaceful.", "unrelated": "Muslims are cheese."},
    {"type": "intersentence", "target": "mother", "bias_type": "gender", "context": "The mother walked in.",
     "stereotype": "She cooked.", "anti-stereotype": "She drank beer.", "unrelated": "Snakes are long."},
]
SCORES = {"The mother is caring.": -1.0, "The mother is cold.": -2.0, "The mother is purple.": -3.0,
          "Muslims are violent.": -2.0, "Muslims are peaceful.": -2.0, "Muslims are cheese.": -1.0,
          "She cooked.": -5.0, "She drank beer.": -4.0, "Snakes are long.": -4.5}


@pytest.fixture
def ctx(tmp_path: Path) -> EvalContext:
    (tmp_path / "flat.jsonl").write_text("\n".join(json.dumps(e) for e in EXAMPLES))

    class HandMade(StereoSetDataset):
        files: ClassVar[tuple[DataFile, ...]] = (DataFile("flat.jsonl"),)

        def load(self, data):
            return parse_stereoset(data.path(self.files[0]))[0]

    registry = Registry()
    registry.add("dataset", HandMade(), "test")
    return EvalContext(data=DataLocator(data_dir=tmp_path, cache_dir=tmp_path / "cache", download=False), registry=registry)


@pytest.fixture
def calls(monkeypatch):
    seen = []

    def fake(handle, sentences, contexts=None, *, scoring, batch_size, groups=None, row_size=8, progress=None, description=""):
        seen.append({"sentences": list(sentences), "contexts": list(contexts), "scoring": scoring, "groups": list(groups)})
        return np.array([SCORES[s] for s in sentences]), np.ones(len(sentences), dtype=int)

    monkeypatch.setattr(stereoset, "score_sentences", fake)
    monkeypatch.setattr(stereoset, "scoring_setup", lambda handle: {})
    return seen


def test_metric_scores_both_tasks_with_mean_and_contexts_for_intersentence(ctx, calls):
    ctx.save_examples = True
    result = evaluate_metric(StereoSetMetric(), None, ctx, StereoSetOptions())
    rows = {(r.domain, r.measure): r.value for r in result.rows}
    assert calls[0]["scoring"] == "mean"
    assert calls[0]["groups"] == [0, 1, 2] * 3  # an example's three options share one packed row
    context_of = dict(zip(calls[0]["sentences"], calls[0]["contexts"]))
    assert context_of["She cooked."] == "The mother walked in." and context_of["The mother is caring."] == ""
    assert rows[("gender", "stereoset-intra.ss")] == 100.0 and rows[("gender", "stereoset-intra.lms")] == 100.0
    assert rows[("religion", "stereoset-intra.ss")] == 0.0 and rows[("religion", "stereoset-intra.lms")] == 0.0  # tie -> anti
    assert rows[("all", "stereoset-intra.ss")] == 50.0
    assert rows[("gender", "stereoset-inter.ss")] == 0.0 and rows[("gender", "stereoset-inter.lms")] == 50.0
    # the continuous companion: mean S(stereotype) - S(anti-stereotype), per task, domain and all
    assert rows[("gender", "stereoset-intra.margin")] == 1.0 and rows[("religion", "stereoset-intra.margin")] == 0.0
    assert rows[("all", "stereoset-intra.margin")] == 0.5 and rows[("gender", "stereoset-inter.margin")] == -1.0
    assert result.protocol["examples"] == {"intrasentence": 2, "intersentence": 1}
    assert result.examples.num_rows == 3 and set(result.examples.column("task").to_pylist()) == {"intrasentence", "intersentence"}
    assert {m.name for m in StereoSetMetric.measures} >= {r.measure for r in result.rows}


def test_tasks_option_and_the_file_option_with_the_canonical_layout(ctx, calls, tmp_path: Path):
    options = StereoSetOptions(tasks=("intra",))
    assert options.tasks == ("intrasentence",)
    flat = evaluate_metric(StereoSetMetric(), None, ctx, options)
    assert {r.measure.split(".")[0] for r in flat.rows} == {"stereoset-intra"}
    canonical = {"version": "1.0", "data": {"intrasentence": [
        {"id": f"x{i}", "target": e["target"], "bias_type": e["bias_type"], "context": e["context"],
         "sentences": [{"sentence": e[k], "id": k, "gold_label": k} for k in ("unrelated", "anti-stereotype", "stereotype")]}
        for i, e in enumerate(EXAMPLES) if e["type"] == "intrasentence"]}}
    dev = tmp_path / "dev.json"
    dev.write_text(json.dumps(canonical))
    from_file = evaluate_metric(StereoSetMetric(), None, ctx, StereoSetOptions(tasks=("intrasentence",), file=str(dev)))
    assert [(r.domain, r.measure, r.value) for r in from_file.rows] == [(r.domain, r.measure, r.value) for r in flat.rows]
    assert from_file.protocol["layout"] == "canonical" and list(from_file.data_checksums) == [str(dev)]
    assert "file_sha256" in StereoSetMetric().protocol_key(ctx, StereoSetOptions(file=str(dev)))
    with pytest.raises(ValueError, match="tasks must be among"):
        StereoSetOptions(tasks=("both",))


def test_end_to_end_on_the_tiny_model(ctx):
    handle = tiny_model_handle(n_positions=256)
    result = evaluate_metric(StereoSetMetric(), handle, ctx, StereoSetOptions())
    values = {(r.domain, r.measure): r for r in result.rows}
    assert set(values) >= {("gender", "stereoset-intra.ss"), ("all", "stereoset-inter.icat"), ("religion", "stereoset-intra.lms")}
    assert all(0 <= r.value <= 100 for r in result.rows if not r.measure.endswith(".margin"))
    assert assert_items_reproduce_rows(StereoSetMetric(), result) == 3 * len(result.rows) // 4  # SS, LMS, margin; ICAT has no items


def test_grouped_rows_give_the_plain_scorer_per_option_scores():
    """The metric's packing (one group per example, three examples a row) against padded batches."""
    from debiasbench_metrics.scoring.scorer import encode, reduce_scores, sentence_logprobs
    from debiasbench_metrics.scoring.sentences import continuation_text, score_sentences
    from debiasbench.testing import tiny_model_handle

    contexts = ["The mother walked in.", "The mother walked in.", "The mother walked in.", "", "", ""]
    sentences = ["She cooked.", "She swore.", "Car blue.", "The nurse is caring.", "The nurse is rude.", "The nurse is table."]
    handle = tiny_model_handle(texts=contexts + sentences)
    packed, _ = score_sentences(handle, sentences, contexts, scoring="mean", batch_size=64, groups=[0, 0, 0, 1, 1, 1], row_size=9)
    ctx_ids = encode(handle, contexts)
    seqs = [c + s for c, s in zip(ctx_ids, encode(handle, [continuation_text(c, s) for c, s in zip(contexts, sentences)]))]
    plain = reduce_scores(sentence_logprobs(handle, seqs, [len(c) for c in ctx_ids], batch_size=1), "mean")
    assert np.abs(packed - plain).max() < 1e-5
