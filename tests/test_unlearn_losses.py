"""The objectives of docs/concepts.md, "Unlearning methods", in debiasbench.training.losses, against log-probabilities computed
by hand (plain Python ``math``) from small logit tables."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from debiasbench import api  # noqa: E402
from debiasbench.lm.logprobs import target_logprobs  # noqa: E402
from debiasbench.training import losses  # noqa: E402

# two texts, prefix + 3 tokens each, vocabulary of 4
IDS = [[0, 2, 1, 3], [0, 3, 3, 1]]
LOGITS = [
    [[0.5, 1.0, -1.0, 0.0], [2.0, 0.0, 0.0, 1.0], [0.1, 0.2, 0.3, 0.4], [9.0, 9.0, 9.0, 9.0]],
    [[-1.0, 0.0, 1.0, 2.0], [0.0, 0.0, 0.0, 0.0], [1.5, -0.5, 0.5, 3.0], [9.0, 9.0, 9.0, 9.0]],
]
SELECTED = [[False, True, True], [True, False, False]]


def _lp(logits: list[float], target: int) -> float:
    return logits[target] - math.log(sum(math.exp(v) for v in logits))


def _hand_lp() -> list[list[float]]:
    """lp[b][i] = log P(ids[b][i+1] | ids[b][:i+1]) from the logits at position i."""
    return [[_lp(LOGITS[b][i], IDS[b][i + 1]) for i in range(3)] for b in range(2)]


def _tensors():
    logits = torch.tensor(LOGITS)[:, :-1]
    ids = torch.tensor(IDS)
    return logits, ids, target_logprobs(logits, ids), torch.tensor(SELECTED)


def test_target_logprobs_match_hand_computation():
    _, _, lp, _ = _tensors()
    assert lp.flatten().tolist() == pytest.approx([v for row in _hand_lp() for v in row], abs=1e-6)


def test_ga_loss_is_mean_selected_logprob_per_text_then_over_texts():
    _, _, lp, mask = _tensors()
    hand = _hand_lp()
    per_text = [(hand[0][1] + hand[0][2]) / 2, hand[1][0]]
    assert float(losses.ga_loss(lp, mask)) == pytest.approx(sum(per_text) / 2, abs=1e-6)


def test_token_ga_uses_every_token():
    _, _, lp, mask = _tensors()
    hand = _hand_lp()
    expected = (sum(hand[0]) / 3 + sum(hand[1]) / 3) / 2
    assert float(losses.ga_loss(lp, torch.ones_like(mask))) == pytest.approx(expected, abs=1e-6)


def test_nll_loss_is_token_mean_over_the_batch():
    _, _, lp, mask = _tensors()
    hand = _hand_lp()
    picked = [hand[0][1], hand[0][2], hand[1][0]]
    assert float(losses.nll_loss(lp, mask)) == pytest.approx(-sum(picked) / 3, abs=1e-6)


def test_kl_loss_matches_hand_computation_and_vanishes_for_equal_models():
    logits, _, _, mask = _tensors()
    ref = logits.flip(-1)  # a different distribution at every position

    def dist(values: list[float]) -> list[float]:
        z = sum(math.exp(v) for v in values)
        return [math.exp(v) / z for v in values]

    total, count = 0.0, 0
    for b in range(2):
        for i in range(3):
            if SELECTED[b][i]:
                p_ref, p_theta = dist(ref[b, i].tolist()), dist(logits[b, i].tolist())
                total += sum(r * (math.log(r) - math.log(t)) for r, t in zip(p_ref, p_theta))
                count += 1
    assert float(losses.kl_loss(logits, ref, mask)) == pytest.approx(total / count, abs=1e-6)
    assert float(losses.kl_loss(logits, logits.clone(), mask)) == pytest.approx(0.0, abs=1e-7)


def test_npo_loss_matches_formula():
    _, _, lp, mask = _tensors()
    hand = _hand_lp()
    seq = [hand[0][1] + hand[0][2], hand[1][0]]
    ref = [-3.0, -1.0]
    beta = 0.5
    expected = sum(-(2 / beta) * math.log(1 / (1 + math.exp(beta * (s - r)))) for s, r in zip(seq, ref)) / 2
    got = losses.npo_loss(losses.sequence_logprob(lp, mask), torch.tensor(ref), beta)
    assert float(got) == pytest.approx(expected, abs=1e-6)
    same = losses.npo_loss(torch.tensor(seq), torch.tensor(seq), beta)
    assert float(same) == pytest.approx(2 / beta * math.log(2), abs=1e-6)


def test_text_without_selected_tokens_contributes_zero_not_nan():
    _, _, lp, _ = _tensors()
    none = torch.zeros(2, 3, dtype=torch.bool)
    assert losses.selected_mean_logprob(lp, none).tolist() == [0.0, 0.0]


def test_selected_mean_and_sequence_logprob_per_text():
    _, _, lp, mask = _tensors()
    hand = _hand_lp()
    means = losses.selected_mean_logprob(lp, mask).tolist()
    sums = losses.sequence_logprob(lp, mask).tolist()
    assert means == pytest.approx([(hand[0][1] + hand[0][2]) / 2, hand[1][0]], abs=1e-6)
    assert sums == pytest.approx([hand[0][1] + hand[0][2], hand[1][0]], abs=1e-6)


def test_nll_and_kl_of_an_empty_mask_are_zero_not_nan():
    logits, _, lp, _ = _tensors()
    none = torch.zeros(2, 3, dtype=torch.bool)
    assert float(losses.nll_loss(lp, none)) == 0.0
    assert float(losses.kl_loss(logits, logits.flip(-1), none)) == 0.0


def test_npo_gradient_is_bounded_unlike_gradient_ascent():
    """d NPO / d log p(y) = 2 sigmoid(beta (log p - log p_ref)) <= 2: it fades as the text is
    forgotten, where gradient ascent's stays 1 per text (docs/concepts.md, "Unlearning methods"; Zhang et al. 2024)."""
    seq = torch.tensor([-2.0, -40.0], requires_grad=True)
    ref = torch.tensor([-2.0, -2.0])
    (losses.npo_loss(seq, ref, 0.5) * 2).backward()  # * 2: undo the batch mean
    expected = [2 / (1 + math.exp(-0.5 * (s - r))) for s, r in ((-2.0, -2.0), (-40.0, -2.0))]
    assert seq.grad.tolist() == pytest.approx(expected, abs=1e-6)
    assert expected[0] == pytest.approx(1.0) and expected[1] < 1e-7


def test_the_loss_functions_are_public_in_the_api():
    for name in ("selected_mean_logprob", "ga_loss", "nll_loss", "kl_loss", "sequence_logprob", "npo_loss"):
        assert getattr(api.training, name) is getattr(losses, name)
