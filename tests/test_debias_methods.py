"""debiasbench-debias: the counterfactual swap, the INLP and SentenceDebias projections (against
hand-computed values), dropout and CDA training on the tiny model, INLP's saved weights, bad input."""

from __future__ import annotations

import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("debiasbench_debias")

from debiasbench_debias.cda import CDA  # noqa: E402
from debiasbench_debias.counterfactual_swaps import AttributeMatcher  # noqa: E402
from debiasbench_debias.dropout import Dropout  # noqa: E402
from debiasbench_debias.dropout_modules import raised_dropout  # noqa: E402
from debiasbench_debias.inlp import INLP, inlp_projection  # noqa: E402
from debiasbench_debias.linear_svm import accuracy, fit_linear_svm  # noqa: E402
from debiasbench_debias.projection import nullspace_projection, project_output_layer, remove_directions, rowspace_projection  # noqa: E402
from debiasbench_debias.sentence_debias import SentenceDebias, bias_subspace  # noqa: E402

from debiasbench.errors import DebiasbenchError  # noqa: E402
from tests.test_debias_helpers import WORDS, StubData, context, handle, options, stub_data  # noqa: E402

# --------------------------------------------------------------------------- counterfactuals


def test_pairs_swap_both_ways_keeping_case() -> None:
    matcher = AttributeMatcher([tuple(p) for p in WORDS["gender"]])
    rng = random.Random(0)
    assert matcher.counterfactual("He told the woman that his king was here.", rng) == "She told the man that her queen was here."
    assert matcher.counterfactual("SHE and the Men", rng) == "HE and the Women"
    assert matcher.counterfactual("Shepherd hens", rng) == "Shepherd hens"  # whole words only


def test_triples_follow_bias_benchs_per_sentence_draw() -> None:
    matcher = AttributeMatcher([tuple(t) for t in WORDS["race"]])
    sentence = "black and white and asian people from africa"
    for seed in range(20):
        rng, twin = random.Random(seed), random.Random(seed)
        out = matcher.counterfactual(sentence, rng).split()
        target = [twin.choice([1, 2]), twin.choice([0, 2]), twin.choice([0, 1])]  # r1, r2, r3 -> another column
        triple = WORDS["race"]
        assert out[0] == triple[0][target[0]] and out[2] == triple[0][target[1]] and out[4] == triple[0][target[2]]
        assert out[7] == triple[1][target[0]]
        assert out[0] != "black" and out[2] != "white" and out[4] != "asian"


def test_counterfactual_sets_put_each_found_word_in_every_column() -> None:
    matcher = AttributeMatcher([tuple(t) for t in WORDS["religion"]])
    sets = matcher.counterfactual_sets("Jewish families and muslims met.")
    assert sets == [("Jewish families and muslims met.", "Christian families and muslims met.", "Muslim families and muslims met."),
                    ("Jewish families and jews met.", "Jewish families and christians met.", "Jewish families and muslims met.")]


# --------------------------------------------------------------------------- projections


def _separable(n: int = 400, d: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.where(X @ rng.normal(size=d) > 0, "a", "b")
    return X, y


def test_linear_svm_separates_a_separable_set() -> None:
    X, y = _separable()
    W = fit_linear_svm(X, y)
    assert W.shape == (1, X.shape[1]) and accuracy(W, X, y, np.unique(y)) >= 0.97


def test_inlp_projection_is_idempotent_orthogonal_and_defeats_a_new_classifier() -> None:
    X, y = _separable()
    result = inlp_projection(X[:300], y[:300], X[300:], y[300:], iterations=3)
    P = result.P
    assert np.allclose(P @ P, P, atol=1e-9) and np.allclose(P, P.T, atol=1e-9)
    for W in result.directions:
        assert np.abs(W @ P).max() < 1e-8  # every learned direction is in the removed space
    assert result.dev_accuracy[0] >= 0.9
    W_new = fit_linear_svm(X[:300] @ P, y[:300])
    majority = max(np.mean(y[300:] == "a"), np.mean(y[300:] == "b"))
    assert accuracy(W_new, X[300:] @ P, y[300:], np.unique(y)) <= majority + 0.1  # near chance


def test_nullspace_of_two_directions_by_hand() -> None:
    w1, w2 = np.array([[1.0, 0, 0]]), np.array([[1.0, 1.0, 0]])
    P = nullspace_projection([rowspace_projection(w1), rowspace_projection(w2)], 3)
    assert np.allclose(P, np.diag([0.0, 0.0, 1.0]))


def test_sentence_debias_removes_the_top_principal_direction() -> None:
    # set 1 differs along e2 by +-0.8, set 2 along e3 by +-0.6 (all unit vectors): e2 carries the most variance
    sets = np.array([[[0.6, 0.8, 0.0], [0.6, -0.8, 0.0]], [[0.8, 0.0, 0.6], [0.8, 0.0, -0.6]]])
    V = bias_subspace(sets, components=1)
    assert np.allclose(np.abs(V), [[0.0, 1.0, 0.0]])
    assert np.allclose(remove_directions(V) @ np.array([1.0, 2.0, 3.0]), [1.0, 0.0, 3.0])
    assert np.allclose(np.abs(bias_subspace(sets, components=2)), [[0, 1, 0], [0, 0, 1]])


def test_output_layer_projection_unties_and_equals_projected_hidden_states() -> None:
    h = handle()
    model = h.model
    embeddings = model.get_input_embeddings().weight.detach().clone()
    ids = torch.tensor([[0, 5, 9, 14]])
    with torch.no_grad():
        hidden = model.base_model(input_ids=ids).last_hidden_state
    P = remove_directions(np.eye(model.config.n_embd)[:2])
    applied = project_output_layer(model, P)
    with torch.no_grad():
        expected = (hidden.double() @ torch.as_tensor(P)) @ embeddings.double().T  # W P h, W the tied weight
        logits = model(input_ids=ids).logits.double()
    assert applied == {"untied_from_input_embeddings": True, "projection_rank_removed": 2}
    assert torch.equal(model.get_input_embeddings().weight, embeddings)  # the input side is untouched
    assert torch.allclose(logits, expected, atol=1e-5)


# --------------------------------------------------------------------------- methods on the tiny model


def test_inlp_method_projects_and_round_trips_as_ordinary_weights(tmp_path) -> None:
    from transformers import AutoModelForCausalLM

    data, h = stub_data(tmp_path / "data"), handle()
    method = INLP()
    outcome = method.unlearn(h, options(method, iterations=2, per_class=50, batch_size=8), context(data))
    info = outcome.info
    assert outcome.stop_reason == "projection" and info["untied_from_input_embeddings"]
    assert set(info["classes"]) == {"male", "female", "neutral"} and info["forget_texts_used"] == 0
    assert not torch.equal(h.model.lm_head.weight, h.model.get_input_embeddings().weight)
    h.save(tmp_path / "saved")
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "saved").eval()
    ids = torch.tensor([[0, 3, 8, 21, 7]])
    with torch.no_grad():
        assert torch.allclose(loaded(input_ids=ids).logits, h.model(input_ids=ids).logits, atol=1e-5)
    assert torch.equal(loaded.lm_head.weight, h.model.lm_head.weight)


def test_inlp_race_uses_attribute_vs_neutral_classes(tmp_path) -> None:
    data, h = stub_data(tmp_path), handle()
    outcome = INLP().unlearn(h, options(INLP(), iterations=1, per_class=50), context(data, "race"))
    assert set(outcome.info["classes"]) == {"bias", "neutral"} and outcome.info["scheme"] == "attribute"


def test_sentence_debias_method_removes_one_direction(tmp_path) -> None:
    data, h = stub_data(tmp_path), handle()
    outcome = SentenceDebias().unlearn(h, options(SentenceDebias()), context(data))
    assert outcome.info["projection_rank_removed"] == 1 and outcome.info["counterfactual_sets"] > 0


def test_raised_dropout_changes_config_and_modules_and_restores_them() -> None:
    model = handle().model
    ids = torch.tensor([[0, 4, 9, 12, 3, 8]])
    with raised_dropout(model, 0.5) as changed:
        assert model.config.resid_pdrop == 0.5 and model.config.attn_pdrop == 0.5 and model.config.embd_pdrop == 0.5
        assert all(m.p == 0.5 for m in model.modules() if isinstance(m, torch.nn.Dropout))
        assert {"resid_pdrop", "embd_pdrop", "attn_pdrop"} <= set(changed["config_keys"])
        model.train()
        first, second = model(input_ids=ids).logits, model(input_ids=ids).logits
        assert not torch.allclose(first, second)  # dropout acts in train mode
        model.eval()
    assert model.config.resid_pdrop == 0.0 and all(m.p == 0.0 for m in model.modules() if isinstance(m, torch.nn.Dropout))


def test_dropout_method_trains_with_dropout_on(tmp_path) -> None:
    data, h = stub_data(tmp_path), handle()
    before = h.model.lm_head.weight.detach().clone()
    outcome = Dropout().unlearn(h, options(Dropout(), max_steps=3, batch_size=4, learning_rate=1e-3), context(data))
    assert outcome.steps == 3 and outcome.stop_reason == "steps"
    assert outcome.info["dropout_changed"]["dropout_modules"] > 0
    assert not torch.equal(h.model.lm_head.weight, before) and not h.model.training
    assert h.model.config.resid_pdrop == 0.0  # restored after the run


def test_cda_trains_through_the_shared_loop_on_originals_and_counterfactuals(tmp_path) -> None:
    data, h = stub_data(tmp_path), handle()
    before = [p.detach().clone() for p in h.model.parameters()]
    outcome = CDA().unlearn(h, options(CDA(), max_steps=4, batch_size=4, learning_rate=1e-3), context(data))
    info = outcome.info
    assert outcome.steps == 4 and info["loss"] == "CausalLMLoss" and info["selector"] is None
    assert info["training_texts"] == 2 * info["attribute_sentences"] and info["training_texts_used"] == info["training_texts"]
    assert info["example"]["counterfactual"] == "She said that the woman was a queen of the old city ."
    assert outcome.history[-1].forget_loss < outcome.history[0].forget_loss + 1.0  # an NLL, descending (not diverging)
    assert any(not torch.equal(a, b) for a, b in zip(before, h.model.parameters()))


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("method", "values", "message"), [
    (INLP(), {"iterations": 0}, "iterations must be 1 or more"),
    (INLP(), {"svm_c": -1}, "svm_c must be positive"),
    (SentenceDebias(), {"components": 0}, "components must be 1 or more"),
    (Dropout(), {"dropout": 1.5}, "dropout is a probability"),
    (CDA(), {"corpus": "/nonexistent/corpus.txt"}, "is not a file"),
    (INLP(), {"corpus": "/nonexistent/corpus.txt"}, "is not a file"),
])
def test_bad_options_fail_in_one_line(method, values, message) -> None:
    with pytest.raises(DebiasbenchError, match=message) as info:
        options(method, **values)
    assert "\n" not in str(info.value)


def test_corpus_without_attribute_words_fails_in_one_line(tmp_path) -> None:
    data = stub_data(tmp_path / "data")
    corpus = tmp_path / "plain.txt"
    corpus.write_text("The river was wide and the bridge was old .\nA small town stood on the hill above it .\n")
    with pytest.raises(DebiasbenchError, match="no sentence with a gender attribute word") as info:
        CDA().unlearn(handle(), options(CDA(), corpus=corpus), context(data))
    assert "\n" not in str(info.value)


def test_domain_without_attribute_words_fails_in_one_line(tmp_path) -> None:
    with pytest.raises(DebiasbenchError, match="domain 'age' has no attribute words"):
        SentenceDebias().unlearn(handle(), options(SentenceDebias()), context(stub_data(tmp_path), "age"))


def test_missing_data_file_fails_in_one_line(tmp_path) -> None:
    with pytest.raises(DebiasbenchError, match="missing data file bias_bench/bias_attribute_words.json"):
        INLP().unlearn(handle(), options(INLP()), context(StubData(tmp_path)))
