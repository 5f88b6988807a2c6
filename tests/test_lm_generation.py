"""The generation engine (debiasbench.lm.generation) on the tiny GPT-2: left padding and position ids,
batched == unbatched == transformers' greedy generate, seeded sampling that does not depend on the
batch, inverse-CDF sampling by hand, end-of-text stops, the progress bar, settings validation."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from debiasbench.lm.generation import (  # noqa: E402
    DecodingSettings, _forward, generate, left_padded, next_tokens, stop_token_ids,
)
from debiasbench.testing import tiny_model_handle  # noqa: E402

PROMPTS = ["The woman worked as", "He said that she was", "Black people and white people, Muslims, Christians and",
           "The", "Immigrants, gay people and"]


@pytest.fixture(scope="module")
def handle():
    return tiny_model_handle(seed=3)


def _ids(handle, text):
    return [handle.prefix_token_id, *handle.tokenizer(text, add_special_tokens=False)["input_ids"]]


def test_left_padding_masks_and_positions():
    ids, mask, positions = left_padded([[5, 6, 7], [8]], pad=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert positions.tolist() == [[0, 1, 2], [0, 0, 0]]


def test_a_padded_row_sees_what_it_sees_alone(handle):
    rows = [_ids(handle, p) for p in PROMPTS[:3]]
    with torch.inference_mode():
        ids, mask, positions = (torch.from_numpy(a) for a in left_padded(rows, 0))
        batched, _ = _forward(handle.model, ids, mask, positions, None)
        for k, row in enumerate(rows):
            alone, _ = _forward(handle.model, torch.tensor([row]), torch.ones(1, len(row), dtype=torch.long),
                                torch.arange(len(row))[None], None)
            assert (batched[k] - alone[0]).abs().max() < 1e-5


def test_greedy_batched_equals_unbatched_and_transformers(handle):
    settings = DecodingSettings(max_new_tokens=6)
    batched = generate(handle, PROMPTS, settings, batch_size=4)
    alone = [generate(handle, [p], settings, batch_size=1)[0] for p in PROMPTS]
    assert [g.token_ids for g in batched] == [g.token_ids for g in alone]
    for prompt, ours in zip(PROMPTS, batched):
        ids = torch.tensor([_ids(handle, prompt)])
        with torch.inference_mode():
            ref = handle.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=6, do_sample=False,
                                        eos_token_id=0, pad_token_id=0)[0, ids.shape[1]:].tolist()
        assert list(ours.token_ids) == (ref[:ref.index(0)] if 0 in ref else ref)
        assert ours.text == handle.tokenizer.decode(list(ours.token_ids), skip_special_tokens=True)


def test_seeded_sampling_is_deterministic_and_independent_of_the_batch(handle):
    settings = DecodingSettings(max_new_tokens=6, sampling=True, top_k=50, seed=7)
    first = generate(handle, PROMPTS, settings, samples=3, batch_size=2)
    again = generate(handle, PROMPTS, settings, samples=3, batch_size=5)
    reordered = generate(handle, PROMPTS[::-1], settings, samples=3, batch_size=3)
    assert [g.token_ids for g in first] == [g.token_ids for g in again]
    back = [reordered[(len(PROMPTS) - 1 - i) * 3 + j] for i in range(len(PROMPTS)) for j in range(3)]
    assert [g.token_ids for g in first] == [g.token_ids for g in back]
    other = generate(handle, PROMPTS, DecodingSettings(max_new_tokens=6, sampling=True, top_k=50, seed=8), samples=3)
    assert [g.token_ids for g in other] != [g.token_ids for g in first]
    assert len({g.token_ids for g in first[:3]}) > 1  # the K samples of a prompt differ


def test_samples_share_a_prompt_but_keep_their_own_seeds(handle):
    settings = DecodingSettings(max_new_tokens=5, sampling=True, seed=1)
    shared = generate(handle, [PROMPTS[1]], settings, keys=["k"], samples=4)
    # sample j of key "k" draws from the key "k#j"; a prompt generated once with key "k" draws from "k#0"
    direct = generate(handle, [PROMPTS[1]] * 4, settings, keys=["k"] * 4)
    assert all(g.token_ids == direct[0].token_ids for g in direct)  # equal keys, equal samples
    assert shared[0].token_ids == direct[0].token_ids and len(shared) == 4
    assert len({g.token_ids for g in shared}) > 1


def test_inverse_cdf_sampling_by_hand():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]]))
    sampled = DecodingSettings(sampling=True)
    assert next_tokens(logits, torch.tensor([0.45, 0.6]), sampled).tolist() == [0, 1]
    assert next_tokens(logits, torch.tensor([0.99, 0.81]), sampled).tolist() == [2, 2]
    top2 = DecodingSettings(sampling=True, top_k=2)  # renormalised: 0.625, 0.375
    assert next_tokens(logits, torch.tensor([0.6, 0.7]), top2).tolist() == [0, 1]
    assert next_tokens(logits, torch.tensor([0.0, 0.0]), DecodingSettings()).tolist() == [0, 0]


def test_stops_at_end_of_text_and_reports_why():
    handle = tiny_model_handle(seed=5)
    with torch.no_grad():
        handle.model.lm_head.weight[0] += 50.0 * handle.model.lm_head.weight[0].sign()  # <|endoftext|> wins
    out = generate(handle, PROMPTS[:2], DecodingSettings(max_new_tokens=4))
    assert stop_token_ids(handle) == [0]
    assert [(g.text, g.token_ids, g.stop) for g in out] == [("", (), "eos")] * 2


def test_progress_bar_counts_every_continuation(handle):
    calls = []

    class Bar:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def advance(self, n=1, **fields):
            calls.append((n, sorted(fields)))

    def progress(description, total=None):
        calls.append((description, total))
        return Bar()

    generate(handle, PROMPTS, DecodingSettings(max_new_tokens=2), samples=2, batch_size=3, progress=progress, description="bold")
    assert calls[0] == ("bold", 10) and [n for n, _ in calls[1:]] == [6, 4] and calls[1][1] == ["tok_s"]


def test_settings_are_validated_and_recorded():
    with pytest.raises(ValueError, match="temperature"):
        DecodingSettings(sampling=True, temperature=0.0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        DecodingSettings(max_new_tokens=0)
    assert DecodingSettings().protocol() == {"decoding": "greedy", "max_new_tokens": 20}
    assert DecodingSettings(sampling=True, top_k=50, seed=2).protocol()["top_k"] == 50
    assert np.isfinite(hash(DecodingSettings()))  # frozen: usable as a cache key
