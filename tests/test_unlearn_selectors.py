"""Span selectors of debiasbench-unlearn on the tiny test model: which tokens each one picks,
their options, and the errors when nothing can be selected."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("debiasbench_unlearn")

from debiasbench_unlearn import forget_sets_plugin, selectors_plugin  # noqa: E402
from debiasbench_unlearn.counterfactual_selector import (  # noqa: E402
    align_tokens,
    apply_edits,
    counterfactual_edits,
)
from debiasbench_unlearn.selection import spans_to_mask, tokenize_forget  # noqa: E402

from debiasbench.errors import DebiasbenchError  # noqa: E402
from debiasbench.plugin_system.interfaces import ForgetText, SelectorContext  # noqa: E402
from debiasbench.plugin_system.loader import load_plugins  # noqa: E402
from debiasbench.data.locator import DataLocator  # noqa: E402
from debiasbench.testing import tiny_model_handle  # noqa: E402


def _span(text: str, words: str) -> tuple[int, int]:
    return (text.index(words), text.index(words) + len(words))


FIRST, SECOND = "Women are terrible people and should die.", "I think those women are no good at all."
TEXTS = [
    (FIRST, (_span(FIRST, "terrible"), _span(FIRST, "die"))),
    (SECOND, (_span(SECOND, "no good"),)),
    ("The weather was cold and the river was wide.", None),
]


@pytest.fixture(scope="module")
def handle():
    return tiny_model_handle(texts=[t for t, _ in TEXTS])


@pytest.fixture(scope="module")
def registry():
    return load_plugins(extra={"sel": selectors_plugin, "sets": forget_sets_plugin}, entry_points=[]).registry


def _items(handle, texts=TEXTS, domain="gender"):
    return tokenize_forget(handle.tokenizer, [ForgetText(t, domain, "women", s, "test") for t, s in texts])


def _ctx(handle, registry, tmp_path: Path | None = None, domain: str = "gender", **options):
    data = DataLocator(tmp_path, tmp_path / "cache" if tmp_path else None, download=False)
    return SelectorContext(model=handle, data=data, registry=registry, domain=domain, seed=0, options=options)


def _chosen(item, mask) -> str:
    """The selected characters, runs of unselected ones replaced by one space."""
    text = item.item.text
    keep = [False] * len(text)
    for (s, e), m in zip(item.offsets, mask):
        if m:
            keep[s:e] = [True] * (e - s)
    return "".join(c if k else " " for c, k in zip(text, keep))


def test_spans_to_mask_is_overlap():
    offsets = [(0, 5), (5, 9), (9, 18), (18, 19)]
    assert spans_to_mask(offsets, [(10, 18)]) == [False, False, True, False]
    assert spans_to_mask(offsets, [(4, 6)]) == [True, True, False, False]
    assert spans_to_mask(offsets, []) == [False] * 4
    assert spans_to_mask([(0, 0), (0, 3)], [(0, 3)]) == [False, True]  # empty tokens never


def test_annotated_selects_tokens_of_the_spans(handle, registry):
    items = _items(handle)
    masks = registry.get("selector", "annotated").select(items, _ctx(handle, registry))
    assert _chosen(items[0], masks[0]).split() == ["terrible", "die"]
    assert _chosen(items[1], masks[1]).split() == ["no", "good"]
    assert not any(masks[2])  # no annotation


def test_annotated_without_spans_fails_with_a_hint(handle, registry):
    items = _items(handle, [(TEXTS[2][0], None)])
    with pytest.raises(DebiasbenchError, match="selector 'annotated' needs annotated spans.*selector=lexicon"):
        registry.get("selector", "annotated").select(items, _ctx(handle, registry))


def test_selecting_nothing_names_selector_and_domain(handle, registry):
    items = _items(handle, [(TEXTS[2][0], ())])
    with pytest.raises(DebiasbenchError, match="'annotated' selected no token in any of the 1 forget texts for domain 'gender'"):
        registry.get("selector", "annotated").select(items, _ctx(handle, registry))


def test_lexicon_file_whole_words_case_insensitive_plus_identity_terms(handle, registry, tmp_path: Path):
    lexicon = tmp_path / "words.txt"
    lexicon.write_text("# my lexicon\nTERRIBLE\nno good\nwid\n", encoding="utf-8")
    items = _items(handle)
    masks = registry.get("selector", "lexicon").select(items, _ctx(handle, registry, tmp_path, lexicon=str(lexicon)))
    assert _chosen(items[0], masks[0]).split() == ["Women", "terrible"]
    assert _chosen(items[1], masks[1]).split() == ["women", "no", "good"]
    assert not any(masks[2])  # "wid" is not a whole word of "wide"
    masks = registry.get("selector", "lexicon").select(
        items, _ctx(handle, registry, tmp_path, lexicon=str(lexicon), identity_terms="false"))
    assert _chosen(items[0], masks[0]).split() == ["terrible"]


def test_lexicon_reports_nothing_found(handle, registry, tmp_path: Path):
    lexicon = tmp_path / "words.txt"
    lexicon.write_text("zebra\n", encoding="utf-8")
    items = _items(handle, [TEXTS[2]])
    with pytest.raises(DebiasbenchError, match="'lexicon' selected no token.*no term of words.txt"):
        registry.get("selector", "lexicon").select(items, _ctx(handle, registry, tmp_path, lexicon=str(lexicon)))


def test_lexicon_hurtlex_on_shared_data(handle, registry, data_dir: Path):
    items = _items(handle, [("Women are stupid scum who should die.", None)])
    ctx = SelectorContext(model=handle, data=DataLocator(data_dir, download=False), registry=registry, domain="gender")
    masks = registry.get("selector", "lexicon").select(items, ctx)
    assert _chosen(items[0], masks[0]).split() == ["Women", "stupid", "scum"]  # "die" is an inclusive-level entry
    inclusive = SelectorContext(model=handle, data=ctx.data, registry=registry, domain="gender", options={"level": "inclusive"})
    assert _chosen(items[0], registry.get("selector", "lexicon").select(items, inclusive)[0]).split()[-1] == "die"


def test_unknown_selector_option_is_one_line(handle, registry):
    with pytest.raises(DebiasbenchError, match="unknown option 'levle'.*did you mean 'level'"):
        registry.get("selector", "lexicon").select(_items(handle), _ctx(handle, registry, levle="inclusive"))


def test_all_selects_every_token(handle, registry):
    items = _items(handle)
    masks = registry.get("selector", "all").select(items, _ctx(handle, registry))
    assert [sum(m) for m in masks] == [len(it.input_ids) for it in items]


def test_random_matches_budget_per_text_and_is_seeded(handle, registry, tmp_path: Path):
    lexicon = tmp_path / "words.txt"
    lexicon.write_text("terrible\nno good\n", encoding="utf-8")
    items = _items(handle)
    budget = registry.get("selector", "lexicon").select(items, _ctx(handle, registry, tmp_path, lexicon=str(lexicon)))
    random = registry.get("selector", "random")
    first = random.select(items, _ctx(handle, registry, tmp_path, lexicon=str(lexicon)))
    # as many per text as the budget picked where the unpicked tokens allow, never one of the picked ones
    assert all(sum(m) <= sum(b) for m, b in zip(first, budget)) and sum(map(sum, first)) > 0
    assert not any(x and y for m, b in zip(first, budget) for x, y in zip(m, b))
    assert random.select(items, _ctx(handle, registry, tmp_path, lexicon=str(lexicon))) == first
    other = SelectorContext(model=handle, data=DataLocator(tmp_path, download=False), registry=registry,
                            domain="gender", seed=1, options={"lexicon": str(lexicon)})
    assert random.select(items, other) != first
    with pytest.raises(DebiasbenchError, match="selected no token"):  # the budget took every token: nothing is left to draw
        random.select(items, _ctx(handle, registry, budget_from="all"))
    with pytest.raises(DebiasbenchError, match="cannot take its budget from itself"):
        random.select(items, _ctx(handle, registry, budget_from="random"))


def test_counterfactual_edits_swap_aligned_terms_keeping_case():
    text = "Women are worse than any woman could be."
    edits = counterfactual_edits(text, "gender")
    assert [apply_edits(text, e) for e in edits] == ["Men are worse than any man could be."]
    assert counterfactual_edits("The weather was cold.", "gender") == []
    race = [apply_edits("black people are lazy", e) for e in counterfactual_edits("black people are lazy", "race")]
    assert "white people are lazy" in race and len(race) == 5


def test_align_tokens_maps_tokens_after_the_swap(handle):
    text = "Women are bad and women lie."
    item = _items(handle, [(text, None)])[0]
    edits = counterfactual_edits(text, "gender")[0]
    cf = handle.tokenizer(apply_edits(text, edits), add_special_tokens=False, return_offsets_mapping=True)
    index = align_tokens(item, edits, cf["input_ids"], cf["offset_mapping"])
    for j, k in enumerate(index):
        s, e = item.offsets[j]
        inside = any(s < end and e > start for start, end, _ in edits)
        if inside:
            assert k == -1
        elif k >= 0:
            assert cf["input_ids"][k] == item.input_ids[j]
    aligned = [item.item.text[s:e] for (s, e), k in zip(item.offsets, index) if k >= 0]
    assert "".join(aligned).replace(" ", "").endswith("lie.")


def test_counterfactual_selects_only_after_the_group_term_and_is_batch_independent(handle, registry):
    texts = [("Those women are terrible people.", None), ("I think women should die.", None), ("All men are rude.", None)]
    items = _items(handle, texts)
    selector = registry.get("selector", "counterfactual")
    masks = selector.select(items, _ctx(handle, registry, top_k="0.5", batch_size="2"))
    for item, mask in zip(items, masks):
        first_term = min(s for s, _, _ in counterfactual_edits(item.item.text, "gender")[0])
        assert all(item.offsets[j][0] >= first_term for j, m in enumerate(mask) if m)
        assert 0 < sum(mask) <= -(-len(mask) // 2)
    alone = [selector.select([it], _ctx(handle, registry, top_k="0.5"))[0] for it in items]
    assert alone == masks


def test_counterfactual_needs_identity_terms(handle, registry):
    with pytest.raises(DebiasbenchError, match="'counterfactual' selected no token.*identity term"):
        registry.get("selector", "counterfactual").select(_items(handle, [TEXTS[2]]), _ctx(handle, registry))
    with pytest.raises(DebiasbenchError, match="top_k must be in"):
        registry.get("selector", "counterfactual").select(_items(handle), _ctx(handle, registry, top_k="1.5"))
