"""self-debias: the formula against hand-computed values, the wrapper against separate regular and
prefixed runs (padded and packed inputs), the metrics' scorers through it, and the refused save."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("debiasbench_debias")

from debiasbench_debias.self_debias import SelfDebias  # noqa: E402
from debiasbench_debias.self_debias_model import SelfDebiasingLM, self_debiased_logprobs  # noqa: E402

from debiasbench.errors import DebiasbenchError  # noqa: E402
from tests.test_debias_helpers import context, handle, options, stub_data  # noqa: E402

REGULAR = torch.log(torch.tensor([0.5, 0.3, 0.2]))
BIASED = torch.log(torch.tensor([[0.2, 0.3, 0.5]]))  # the prefix makes token 2 likelier by 0.3


def test_formula_by_hand() -> None:
    # lambda 10: alpha = (1, 1, exp(-3)); p~ = (0.5, 0.3, 0.2 e^-3) / (0.8 + 0.2 e^-3)
    q = self_debiased_logprobs(REGULAR, BIASED, decay=10.0, epsilon=0.01).exp()
    z = 0.8 + 0.2 * math.exp(-3)
    assert torch.allclose(q, torch.tensor([0.5 / z, 0.3 / z, 0.2 * math.exp(-3) / z]), atol=1e-6)
    # lambda 50: exp(-15) < epsilon, so alpha = 0.01 for token 2
    q = self_debiased_logprobs(REGULAR, BIASED, decay=50.0, epsilon=0.01).exp()
    assert torch.allclose(q, torch.tensor([0.5, 0.3, 0.002]) / 0.802, atol=1e-6)
    # lambda 0: nothing changes
    assert torch.allclose(self_debiased_logprobs(REGULAR, BIASED, 0.0, 0.01), torch.log_softmax(REGULAR, -1), atol=1e-6)


def test_several_prefixes_use_the_largest_biased_probability() -> None:
    two = torch.log(torch.tensor([[0.2, 0.3, 0.5], [0.1, 0.6, 0.3]]))
    q = self_debiased_logprobs(REGULAR, two, decay=10.0, epsilon=0.01).exp()
    alpha = torch.tensor([1.0, math.exp(-3), math.exp(-3)])  # delta = (0, 0.3, 0.3)
    expected = torch.tensor([0.5, 0.3, 0.2]) * alpha
    assert torch.allclose(q, expected / expected.sum(), atol=1e-6)


def _wrapped(decay: float = 50.0) -> tuple[object, SelfDebiasingLM, list[int]]:
    h = handle()
    prefix = h.tokenizer("The following text discriminates against people because of their gender: ", add_special_tokens=False)["input_ids"]
    return h, SelfDebiasingLM(h.model, prefix, decay, 0.01).eval(), prefix


def test_wrapper_equals_separate_regular_and_prefixed_runs_with_padding() -> None:
    h, wrapped, prefix = _wrapped()
    rows = [[0, 5, 9, 14, 3], [0, 7, 2]]
    ids = torch.tensor([rows[0], rows[1] + [0, 0]])
    mask = torch.tensor([[1] * 5, [1, 1, 1, 0, 0]])
    with torch.no_grad():
        out = wrapped(input_ids=ids, attention_mask=mask).logits
        for b, row in enumerate(rows):
            regular = h.model(input_ids=torch.tensor([row])).logits[0]
            prefixed = h.model(input_ids=torch.tensor([row[:1] + prefix + row[1:]])).logits[0, len(prefix):]
            expected = self_debiased_logprobs(regular, prefixed[None], 50.0, 0.01)
            assert torch.allclose(out[b, :len(row)], expected, atol=1e-4)


def test_metric_scorers_read_the_debiased_logits_packed_or_plain() -> None:
    pytest.importorskip("debiasbench_metrics")
    from debiasbench_metrics.scoring.logprob_head import fast_path_ok
    from debiasbench_metrics.scoring.pair_scorer import _packed
    from debiasbench_metrics.scoring.scorer import sentence_logprobs

    h, wrapped, _ = _wrapped()
    plain_model = h.model
    sentences = [[5, 9, 14, 3], [5, 9, 2], [7, 2, 8, 8, 1]]
    undebiased = sentence_logprobs(h, sentences)
    h.model = wrapped
    assert not fast_path_ok(wrapped)  # no lm_head fast path around the debiasing
    plain = sentence_logprobs(h, sentences)
    packed = _packed(h, sentences, [0, 0, 0], 64, 8, None, "test")
    for a, b, c in zip(plain, packed, undebiased):
        assert abs(a - b).max() < 1e-4  # the 4-D tree mask is extended to the prefix correctly
        assert abs(a - c).max() > 1e-6  # and the scores are the debiased ones
    h.model = plain_model


def test_method_wraps_the_model_and_refuses_to_save(tmp_path) -> None:
    h = handle()
    outcome = SelfDebias().unlearn(h, options(SelfDebias()), context(stub_data(tmp_path / "data"), "race"))
    assert isinstance(h.model, SelfDebiasingLM) and outcome.stop_reason == "decoding"
    assert "race/color" in outcome.info["prefix"] and outcome.info["forget_texts_used"] == 0
    with pytest.raises(DebiasbenchError, match="self-debias changes decoding, not weights") as info:
        h.save(tmp_path / "saved")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("values", "message"), [
    ({"decay_constant": -1}, "decay_constant .* must be 0 or more"),
    ({"epsilon": 0}, "epsilon must be in"),
])
def test_bad_options_fail_in_one_line(values, message) -> None:
    with pytest.raises(DebiasbenchError, match=message):
        options(SelfDebias(), **values)


def test_domain_without_a_prefix_fails_in_one_line(tmp_path) -> None:
    with pytest.raises(DebiasbenchError, match="no prefix for domain 'profession'"):
        SelfDebias().unlearn(handle(), options(SelfDebias()), context(stub_data(tmp_path), "profession"))
