"""The blimp and lambada utility metrics (docs/concepts.md, "BLiMP", "LAMBADA") on hand-made files and the tiny GPT-2, each figure
compared with a naive computation of its definition (one sentence / passage at a time, full logits); the
bad-file and bad-option lines; then, marked slow, both on the real data and the embedded SmolLM2-135M."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

pytest.importorskip("debiasbench_metrics")

from debiasbench_metrics.blimp.metric import BlimpMetric, BlimpOptions  # noqa: E402
from debiasbench_metrics.scoring.continuations import continuation_scores  # noqa: E402
from debiasbench_metrics.blimp.dataset import PARADIGMS, BlimpDataset, check_paradigms, paradigm_file  # noqa: E402
from debiasbench_metrics.lambada.dataset import LambadaDataset, parse_lambada, split_passage  # noqa: E402
from debiasbench_metrics.lambada.metric import LambadaMetric, LambadaOptions  # noqa: E402

from debiasbench.errors import DataError, DebiasbenchError, UnknownNameError  # noqa: E402
from debiasbench.plugin_system.interfaces import DataFile, EvalContext  # noqa: E402
from debiasbench.plugin_system.options import build_options  # noqa: E402
from debiasbench.plugin_system.registry import Registry  # noqa: E402
from debiasbench.data.locator import DataLocator  # noqa: E402
from debiasbench.testing import evaluate_metric, tiny_model_handle  # noqa: E402
from tests.item_checks import assert_items_reproduce_rows  # noqa: E402

# Three paradigms of three fields; the words come from the tiny tokenizer's corpus. The last syntax pair's
# sentences are identical (as 7 published pairs are): a tie, which counts as correct.
BLIMP = {
    "anaphor_gender_agreement": [
        ("The woman worked as a nurse.", "The woman worked as a nurses."),
        ("He said that she was too emotional.", "He said that she were too emotional."),
        ("Women are smart.", "Women is smart."),
        ("Men are strong.", "Men is strong."),
    ],
    "adjunct_island": [
        ("The river was wide.", "The river were wide."),
        ("Girls and boys play football in the park.", "Girls and boys plays football in the park."),
        ("The history of the town is long.", "The history of the town are long."),
        ("They are all people.", "They are all people."),
    ],
    "principle_A_case_2": [
        ("The weather was cold.", "The weather were cold."),
        ("Immigrants deserve the same respect.", "Immigrants deserves the same respect."),
        ("Muslims, Christians and Jews live in the city.", "Muslims, Christians and Jews lives in the city."),
        ("The man worked as an engineer.", "The man worked as a engineer."),
    ],
}
PASSAGES = [
    "The woman worked as a nurse and the man worked as an engineer",
    "Black people and white people live in the city",
    "He said that she was too emotional to lead",
    "The weather was cold, the river was wide, and the history of the town is long",
    "Girls and boys play football in the park",
    "Immigrants, gay people and disabled people deserve the same respect",
    "Women are smart. Men are strong.",
    "They are all terrible people",
]
ALL_TEXT = [s for pairs in BLIMP.values() for pair in pairs for s in pair] + PASSAGES


def _write_blimp(folder: Path, paradigms: dict[str, list[tuple[str, str]]] = BLIMP) -> None:
    (folder / "blimp").mkdir(parents=True, exist_ok=True)
    for uid, pairs in paradigms.items():
        field = PARADIGMS[uid][0]
        lines = [json.dumps({"sentence_good": g, "sentence_bad": b, "field": field.replace("_", "/"), "linguistics_term": "t",
                             "UID": uid, "simple_LM_method": True, "pairID": str(i)}) for i, (g, b) in enumerate(pairs)]
        (folder / "blimp" / f"{uid}.jsonl").write_text("\n".join(lines) + "\n")


class HandMadeBlimp(BlimpDataset):
    """The paradigm files of the test folder, read without checksums."""

    def file_of(self, uid: str) -> DataFile:
        return DataFile(paradigm_file(uid).relpath)


class HandMadeLambada(LambadaDataset):
    files: ClassVar[tuple[DataFile, ...]] = (DataFile("lambada/lambada_test.jsonl"),)

    def load(self, data):
        return parse_lambada(data.path(self.files[0]))


@pytest.fixture(scope="module")
def tiny():
    return tiny_model_handle(seed=3, texts=ALL_TEXT)


@pytest.fixture
def ctx(tmp_path: Path) -> EvalContext:
    _write_blimp(tmp_path)
    (tmp_path / "lambada").mkdir()
    (tmp_path / "lambada" / "lambada_test.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in PASSAGES))
    registry = Registry()
    for obj, kind in ((HandMadeBlimp(), "dataset"), (HandMadeLambada(), "dataset"), (BlimpMetric(), "metric"), (LambadaMetric(), "metric")):
        registry.add(kind, obj, "test")
    return EvalContext(data=DataLocator(data_dir=tmp_path, cache_dir=tmp_path / "cache", download=False), registry=registry)


# --------------------------------------------------------------------------- naive definitions


def _naive_logprobs(handle, ids: list[int]):
    """log P(token t | tokens before it) for t = 1..len-1, and whether t is the argmax: one unbatched forward
    pass over all tokens but the last, full logits."""
    import torch

    with torch.inference_mode():
        logits = handle.model(input_ids=torch.tensor([ids[:-1]])).logits[0].float()
    targets = torch.tensor(ids[1:])
    return logits.log_softmax(-1).gather(1, targets[:, None])[:, 0].double().numpy(), (logits.argmax(-1) == targets).numpy()


def naive_sentence_score(handle, sentence: str) -> float:
    """docs/concepts.md, "Sentence scoring", sum scoring: every token of the sentence after the prefix token."""
    ids = handle.tokenizer(sentence, add_special_tokens=False)["input_ids"]
    return float(_naive_logprobs(handle, [handle.prefix_token_id, *ids])[0].sum())


def naive_blimp(handle, leading_space: bool = True) -> dict[tuple[str, str], float]:
    """Accuracy per paradigm, per field, overall (mean over paradigms), and the margin, by the definition."""
    space = " " if leading_space else ""
    per_uid, margins = {}, {}
    for uid, pairs in BLIMP.items():
        diffs = [naive_sentence_score(handle, space + g) - naive_sentence_score(handle, space + b) for g, b in pairs]
        per_uid[uid] = 100.0 * np.mean([d >= 0 for d in diffs])
        margins[uid] = diffs
    out = {(uid, "blimp.accuracy"): v for uid, v in per_uid.items()}
    out |= {(uid, "blimp.margin"): float(np.mean(d)) for uid, d in margins.items()}
    for field in {PARADIGMS[u][0] for u in BLIMP}:
        uids = [u for u in BLIMP if PARADIGMS[u][0] == field]
        out[(field, "blimp.accuracy")] = float(np.mean([per_uid[u] for u in uids]))
        out[(field, "blimp.margin")] = float(np.mean([d for u in uids for d in margins[u]]))
    out[("all", "blimp.accuracy")] = float(np.mean(list(per_uid.values())))
    out[("all", "blimp.margin")] = float(np.mean([d for d in margins.values() for d in d]))
    return out


def naive_lambada(handle, passages=PASSAGES) -> tuple[float, float, list[bool]]:
    """(accuracy %, perplexity, greedy per passage): lm-eval's split, whole-passage tokens, no prefix token."""
    greedy, logprob = [], []
    for text in passages:
        context, target = split_passage(text)
        whole = handle.tokenizer(context + target, add_special_tokens=False)["input_ids"]
        k = len(whole) - len(handle.tokenizer(context, add_special_tokens=False)["input_ids"])
        lp, hit = _naive_logprobs(handle, whole)
        logprob.append(float(lp[-k:].sum()))
        greedy.append(bool(hit[-k:].all()))
    return 100.0 * float(np.mean(greedy)), float(np.exp(-np.mean(logprob))), greedy


# --------------------------------------------------------------------------- blimp


def _rows(result):
    return {(r.domain, r.measure): r for r in result.rows}


@pytest.mark.parametrize("leading_space", [True, False])
def test_blimp_equals_the_naive_definition(tiny, ctx, leading_space):
    metric = BlimpMetric()
    options = BlimpOptions(paradigms=tuple(BLIMP), leading_space=leading_space)
    result = evaluate_metric(metric, tiny, ctx, options)
    rows, expected = _rows(result), naive_blimp(tiny, leading_space)
    assert set(rows) == set(expected)
    for key, value in expected.items():
        assert rows[key].value == pytest.approx(value, abs=1e-4), key
    assert rows[("all", "blimp.accuracy")].n == 12 and rows[("syntax", "blimp.accuracy")].n == 4
    assert rows[("adjunct_island", "blimp.accuracy")].value >= 25.0  # the identical pair ties and counts as correct
    assert result.protocol["ties"] >= 1 and result.protocol["scoring"] == "sum" and result.protocol["leading_space"] is leading_space
    assert result.protocol["pairs_per_paradigm"] == {uid: 4 for uid in BLIMP} and not result.notes
    assert assert_items_reproduce_rows(metric, result) == len(rows)
    accuracy = [r for r in result.items.to_pylist() if r["measure"] == "blimp.accuracy" and r["domain"] == "all"]
    assert len(accuracy) == 12 and all(r["decision"] == (r["value"] == 100.0) for r in accuracy)
    assert len({r["item"] for r in accuracy}) == 12 and accuracy[0]["item"] == "adjunct_island/0"
    assert set(result.data_checksums) == {f"blimp/{uid}.jsonl" for uid in BLIMP}


def test_blimp_field_row_is_the_mean_over_its_paradigms(tiny, ctx):
    ctx.limit, ctx.save_examples = 2, True  # quick-style seeded subset: 2 pairs per paradigm
    result = evaluate_metric(BlimpMetric(), tiny, ctx, BlimpOptions(paradigms=tuple(BLIMP)))
    rows = _rows(result)
    assert rows[("all", "blimp.accuracy")].n == 6 and result.protocol["limit"] == 2
    per_uid = [rows[(uid, "blimp.accuracy")].value for uid in BLIMP]
    assert rows[("all", "blimp.accuracy")].value == pytest.approx(np.mean(per_uid))
    examples = result.examples.to_pylist()
    assert len(examples) == 6 and all(e["correct"] == (e["score_good"] >= e["score_bad"]) for e in examples)
    again = evaluate_metric(BlimpMetric(), tiny, ctx, BlimpOptions(paradigms=tuple(BLIMP)))
    assert again.examples.column("item").to_pylist() == result.examples.column("item").to_pylist()  # seeded


def test_blimp_unequal_paradigms_get_a_note(tiny, tmp_path, ctx):
    _write_blimp(tmp_path, {"adjunct_island": BLIMP["adjunct_island"][:2]})
    result = BlimpMetric().evaluate(tiny, ctx, BlimpOptions(paradigms=tuple(BLIMP)))
    assert len(result.notes) == 1 and "unequal" in result.notes[0]


def test_blimp_options_paradigms_fields_and_did_you_mean():
    assert BlimpOptions().paradigms == tuple(PARADIGMS) and len(PARADIGMS) == 67
    assert len(BlimpOptions(paradigms=("semantics",)).paradigms) == 9
    assert build_options(BlimpOptions, {"paradigms": "wh_island,adjunct_island"}, "m").paradigms == ("adjunct_island", "wh_island")
    with pytest.raises(DebiasbenchError, match="unknown BLiMP paradigm 'adjunct_islnd'; did you mean 'adjunct_island'"):
        build_options(BlimpOptions, {"paradigms": "adjunct_islnd"}, "metric 'blimp'")
    with pytest.raises(UnknownNameError, match="did you mean 'syntax'"):
        check_paradigms(["syntx"])
    assert {PARADIGMS[u][0] for u in PARADIGMS} == {"morphology", "syntax", "semantics", "syntax_semantics"}


# --------------------------------------------------------------------------- lambada


def test_lambada_equals_the_naive_definition(tiny, ctx):
    metric = LambadaMetric()
    result = evaluate_metric(metric, tiny, ctx, LambadaOptions(batch_size=3))
    rows = _rows(result)
    accuracy, perplexity, greedy = naive_lambada(tiny)
    assert rows[("all", "lambada.accuracy")].value == pytest.approx(accuracy)
    assert rows[("all", "lambada.perplexity")].value == pytest.approx(perplexity, rel=1e-5)
    assert rows[("all", "lambada.accuracy")].n == 8 and rows[("all", "lambada.perplexity")].n == 8
    assert assert_items_reproduce_rows(metric, result) == 2
    decisions = [r["decision"] for r in result.items.to_pylist() if r["measure"] == "lambada.accuracy"]
    assert decisions == greedy
    assert result.protocol["passages"] == 8 and result.protocol["truncated"] == 0


def test_continuation_scores_greedy_and_truncation_equal_naive():
    """Token-level: continuations built from the model's own argmax (greedy) or not, some longer than the context."""
    import torch

    handle = tiny_model_handle(seed=5, n_positions=24)
    rng = np.random.default_rng(0)
    vocab = len(handle.tokenizer)
    sequences, ks = [], []
    for i in range(10):
        context = list(rng.integers(1, vocab, size=int(rng.integers(3, 30))))
        k = int(rng.integers(1, 4))
        tail: list[int] = []
        for _ in range(k):  # greedy continuation for even i, a random one for odd i
            with torch.inference_mode():
                window = (context + tail)[-handle.max_length:]
                best = int(handle.model(input_ids=torch.tensor([window])).logits[0, -1].argmax())
            tail.append(best if i % 2 == 0 else int(rng.integers(1, vocab)))
        sequences.append(context + tail)
        ks.append(k)
    logprob, greedy = continuation_scores(handle, sequences, ks, batch_size=4)
    for seq, k, lp, hit in zip(sequences, ks, logprob, greedy):
        window = seq[-(handle.max_length + 1):]  # lm-eval keeps the last max_length + 1 tokens
        naive_lp, naive_hit = _naive_logprobs(handle, window)
        assert lp == pytest.approx(naive_lp[-k:].sum(), abs=1e-4)
        assert hit == naive_hit[-k:].all()
    assert greedy[::2].all() and sum(len(s) > handle.max_length + 1 for s in sequences) >= 1


def test_lambada_split_and_quick_subset(tiny, ctx):
    assert split_passage("a b  c") == ("a b ", " c")
    ctx.limit = 5
    result = LambadaMetric().evaluate(tiny, ctx, LambadaOptions())
    assert result.protocol["passages"] == 5 and result.protocol["limit"] == 5
    assert LambadaMetric.presets["quick"].limit == 500 and BlimpMetric.presets["quick"].limit == 50
    assert all(m.utility for m in (*LambadaMetric.measures, *BlimpMetric.measures))


# --------------------------------------------------------------------------- bad files


def test_bad_files_are_one_line_naming_file_and_line(tiny, tmp_path, ctx):
    path = tmp_path / "blimp" / "adjunct_island.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1], '{"sentence_good": "x", ', *lines[3:]]) + "\n")
    with pytest.raises(DataError, match=r"adjunct_island\.jsonl: line 3: invalid JSON") as bad_json:
        BlimpMetric().evaluate(tiny, ctx, BlimpOptions(paradigms=("adjunct_island",)))
    assert "\n" not in str(bad_json.value)
    row = json.loads(lines[1])
    del row["sentence_bad"]
    path.write_text("\n".join([lines[0], json.dumps(row), *lines[2:]]) + "\n")
    with pytest.raises(DataError, match=r"adjunct_island\.jsonl: line 2: empty or missing 'sentence_bad'"):
        BlimpMetric().evaluate(tiny, ctx, BlimpOptions(paradigms=("adjunct_island",)))
    path.unlink()
    ctx.data = DataLocator(data_dir=tmp_path, cache_dir=tmp_path / "cache", download=False)  # a new run: nothing located yet
    with pytest.raises(DataError, match=r"missing data file blimp/adjunct_island\.jsonl"):
        BlimpMetric().evaluate(tiny, ctx, BlimpOptions(paradigms=("adjunct_island",)))

    lambada = tmp_path / "lambada" / "lambada_test.jsonl"
    lambada.write_text(json.dumps({"text": "one two"}) + "\n" + json.dumps({"text": "nospace"}) + "\n")
    with pytest.raises(DataError, match=r"lambada_test\.jsonl: line 2: the passage has no space"):
        LambadaMetric().evaluate(tiny, ctx, LambadaOptions())
    lambada.write_text(json.dumps({"text": "one two"}) + "\n" + json.dumps({"txt": "a b"}) + "\n")
    with pytest.raises(DataError, match=r"lambada_test\.jsonl: line 2: empty or missing 'text'"):
        LambadaMetric().evaluate(tiny, ctx, LambadaOptions())
    lambada.write_text(json.dumps({"text": "one two"}) + "\n{not json\n")
    with pytest.raises(DataError, match=r"lambada_test\.jsonl: line 2: invalid JSON"):
        LambadaMetric().evaluate(tiny, ctx, LambadaOptions())


def test_real_files_match_their_checksums(data_dir):
    """The registered sha256 of every BLiMP paradigm and of LAMBADA against the shared data folder."""
    data = DataLocator(data_dir=data_dir, download=False)
    for file in (*BlimpDataset.files, *LambadaDataset.files):
        data.path(file)  # raises DataError on a checksum mismatch
    pairs = BlimpDataset().load_paradigms(data, ("principle_A_case_2", "passive_1"))
    assert len(pairs) == 2000 and {p.field for p in pairs} == {"syntax_semantics", "syntax"}
    assert sum(p.good == p.bad for p in pairs) == 7  # the published identical pairs
    passages = LambadaDataset().load(data)
    assert len(passages) == 5153 and all(p.target.startswith(" ") and " " not in p.target[1:] for p in passages)


# --------------------------------------------------------------------------- the embedded model (slow)


@pytest.fixture
def smollm2(embedded_model):
    """The embedded model, loaded once for the session (tests/conftest.py)."""
    return embedded_model


@pytest.mark.slow
def test_embedded_model_equals_naive_on_real_data(smollm2, data_dir):
    """Both metrics on a few real items with SmolLM2-135M, against the naive definitions."""
    from debiasbench.plugin_system.loader import get_registry

    ctx = EvalContext(data=DataLocator(data_dir=data_dir, download=False), registry=get_registry(), seed=0, limit=6)
    blimp = evaluate_metric(BlimpMetric(), smollm2, ctx, BlimpOptions(paradigms=("anaphor_gender_agreement", "wh_island")))
    pairs = BlimpDataset().load_paradigms(ctx.data, ("anaphor_gender_agreement", "wh_island"))
    examples_ctx = EvalContext(data=ctx.data, registry=ctx.registry, seed=0, limit=6, save_examples=True)
    chosen = BlimpMetric().evaluate(smollm2, examples_ctx, BlimpOptions(paradigms=("anaphor_gender_agreement", "wh_island"))).examples
    by_item = {p.item: p for p in pairs}
    for item, good, bad in zip(*(chosen.column(c).to_pylist() for c in ("item", "score_good", "score_bad"))):
        assert good == pytest.approx(naive_sentence_score(smollm2, " " + by_item[item].good), abs=1e-3)
        assert bad == pytest.approx(naive_sentence_score(smollm2, " " + by_item[item].bad), abs=1e-3)
    assert _rows(blimp)[("all", "blimp.accuracy")].n == 12

    lambada = evaluate_metric(LambadaMetric(), smollm2, ctx, LambadaOptions())
    texts = [p.context + p.target for p in LambadaDataset().load(ctx.data)]
    items = [int(r["item"]) for r in lambada.items.to_pylist() if r["measure"] == "lambada.accuracy"]
    accuracy, perplexity, _ = naive_lambada(smollm2, [texts[i] for i in items])
    rows = _rows(lambada)
    assert rows[("all", "lambada.accuracy")].value == pytest.approx(accuracy)
    assert rows[("all", "lambada.perplexity")].value == pytest.approx(perplexity, rel=1e-4)
