"""Forget sets of debiasbench-unlearn: DynaHate on a small CSV in the release's exact layout,
HateCheck and ToxiGen on the shared data (skipped without DEBIASBENCH_DATA), focus-word spans,
ToxiGen statement splitting, and the one-line errors for filters that leave nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("debiasbench_unlearn")

from debiasbench_unlearn import hatecheck  # noqa: E402
from debiasbench_unlearn.dynahate import CSV, DynaHate, target_domains  # noqa: E402
from debiasbench_unlearn.hatecheck import HateCheck  # noqa: E402
from debiasbench_unlearn.text_spans import focus_spans  # noqa: E402
from debiasbench_unlearn.toxigen import ToxiGen, statements  # noqa: E402

from debiasbench.errors import DataError  # noqa: E402
from debiasbench.plugin_system.interfaces import DataFile  # noqa: E402
from debiasbench.data.locator import DataLocator  # noqa: E402

DYNAHATE_ROWS = [
    '"","acl.id","X1","text","label","type","target","level","split","round.base","annotator","round","acl.id.matched"',
    '"1","acl1",1,"dalits are lowlives","hate","notgiven","notgiven","original","train",1,"GNZuCtwed3","1",NA',
    '"2","acl2",2,"women are too stupid to vote","hate","derogation","wom","original","train",2,"GNZuCtwed3","2a","acl3"',
    '"3","acl3",3,"women are too smart to fool","nothate","none","none","perturbation","train",2,"GNZuCtwed3","2b","acl2"',
    '"4","acl4",4,"black women, always so loud","hate","derogation","bla.wom","original","dev",3,"x7","3a",NA',
    '"5","acl5",5,"Muslims should ""go home""","hate","threatening","mus","original","test",3,"x7","3a",NA',
    '"6","acl6",6,"they are all vermin","hate","dehumanization","notargetrecorded","original","train",4,"x7","4a",NA',
    '"7","acl7",7,"lovely weather today","nothate","none","none","original","train",4,"x7","4a",NA',
]


@pytest.fixture()
def dynahate_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataLocator:
    """A synthetic DynaHate file; the release's git blob id is swapped for the synthetic file's, so
    the check still runs (the real file is checked against 0e7730bf...)."""
    import dataclasses

    import debiasbench_unlearn.dynahate as dynahate_module
    from debiasbench.runtime.hashing import git_blob_sha1

    path = tmp_path / "data" / CSV.relpath
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(DYNAHATE_ROWS) + "\n", encoding="utf-8")
    monkeypatch.setattr(dynahate_module, "CSV", dataclasses.replace(CSV, git_blob=git_blob_sha1(path)))
    return DataLocator(tmp_path / "data", tmp_path / "cache", download=False)


def test_dynahate_forget_texts_by_domain_and_split(dynahate_data: DataLocator):
    dataset = DynaHate()
    gender = dataset.load_forget(dynahate_data, "gender")
    assert [t.text for t in gender] == ["women are too stupid to vote", "black women, always so loud"]
    assert all(t.domain == "gender" and t.spans is None and t.source == "dynahate" for t in gender)
    assert [t.group for t in gender] == ["wom", "bla.wom"]
    assert [t.text for t in dataset.load_forget(dynahate_data, "gender", "train")] == ["women are too stupid to vote"]
    assert [t.text for t in dataset.load_forget(dynahate_data, "race")] == ["black women, always so loud"]
    assert [t.text for t in dataset.load_forget(dynahate_data, "religion", "test")] == ['Muslims should "go home"']


def test_dynahate_retain_is_matched_non_hateful_perturbations(dynahate_data: DataLocator):
    assert DynaHate().load_retain(dynahate_data, "gender") == ["women are too smart to fool"]


def test_dynahate_empty_filter_names_the_filter(dynahate_data: DataLocator):
    with pytest.raises(DataError, match="target maps to 'religion'"):
        DynaHate().load_forget(dynahate_data, "religion", "dev")
    with pytest.raises(DataError, match="splits train, dev, test"):
        DynaHate().load_forget(dynahate_data, "gender", "validation")
    with pytest.raises(DataError, match="no texts for domain 'profession'"):
        DynaHate().load_forget(dynahate_data, "profession")


def test_dynahate_target_codes():
    assert target_domains("wom") == {"gender"}
    assert target_domains("bla.wom") == {"race", "gender"}
    assert target_domains("blawom") == {"race", "gender"}
    assert target_domains("non.white") == {"race"}
    assert target_domains("jew, mus") == {"religion"}
    assert target_domains("gay.man") == {"sexual-orientation"}
    for skipped in ("notgiven", "none", "notargetrecorded", "other", "nazi"):
        assert target_domains(skipped) == set()


def test_dynahate_missing_file_is_one_actionable_line(tmp_path: Path):
    locator = DataLocator(tmp_path, tmp_path / "cache", download=False)
    with pytest.raises(DataError, match="missing data file dynahate/"):
        DynaHate().load_forget(locator, "gender")


def test_focus_spans():
    def words(text: str, focus: str | None, template: str | None = None) -> list[str] | None:
        spans = focus_spans(text, focus, template)
        return None if spans is None else [text[s:e] for s, e in spans]

    assert words("I hate women.", "hate") == ["hate"]
    assert words("Women should all be killed.", "kill") == ["killed"]
    assert words("I want to end every gay person's life.", "end ... life") == ["end", "life"]
    assert words("Only women are that violent and cruel.", "violent, cruel") == ["violent", "cruel"]
    assert words("Somebody should just st4b those women.", "stab") == ["st4b"]
    assert words("Typical bitchbehaviour.", "[SLUR_S]", "Typical [SLUR_S]behaviour.") == ["bitch"]
    assert words("You are nothing but a b i t c h.", "[SLUR_S_space_add]",
                 "You are nothing but a [SLUR_S_space_add].") == ["b i t c h"]
    assert words("Gay people belong in a zoo.", "-") is None
    assert words("Gay people belong in a zoo.", None) is None


def test_hatecheck_empty_filter_names_the_filter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    header = "functionality,case_id,test_case,label_gold,target_ident,direction,focus_words,focus_lemma,ref_case_id,ref_templ_id,templ_id,case_templ"
    path = tmp_path / hatecheck.CASES.relpath
    path.parent.mkdir(parents=True)
    path.write_text(header + "\nx,1,I love women. ,non-hateful,women,general,,,,,1,I love [IDENTITY_P].\n", encoding="utf-8")
    monkeypatch.setattr(hatecheck, "CASES", DataFile(hatecheck.CASES.relpath))
    locator = DataLocator(tmp_path, tmp_path / "cache", download=False)
    with pytest.raises(DataError, match="label_gold == 'hateful'"):
        HateCheck().load_forget(locator, "gender")
    assert HateCheck().load_retain(locator, "gender") == ["I love women."]
    with pytest.raises(DataError, match="has no splits"):
        HateCheck().load_forget(locator, "gender", "train")


def test_toxigen_statements_split_on_backslash_n(tmp_path: Path):
    path = tmp_path / "prompts.txt"
    path.write_text("- a is b\\n- c is d\\n-\n- c is d\\n- e\\n-\n", encoding="utf-8")
    assert statements(path) == ["a is b", "c is d", "e"]


# --------------------------------------------------------------------------- real data


def test_hatecheck_on_shared_data(data_dir: Path):
    locator = DataLocator(data_dir, download=False)
    dataset = HateCheck()
    assert set(dataset.domains()) == {"gender", "race", "religion", "sexual-orientation", "gender-identity", "disability", "nationality"}
    forget = dataset.load_forget(locator, "gender")
    assert len(forget) == 373  # every hateful case about women (README: 373)
    assert sum(t.spans is not None for t in forget) == 347  # 26 implicit cases have focus word "-"
    first = next(t for t in forget if t.text == "I hate women.")
    assert [first.text[s:e] for s, e in first.spans] == ["hate"]
    assert len(dataset.load_forget(locator, "race")) == 357
    retain = dataset.load_retain(locator, "gender")
    # 136 non-hateful cases about women, less 26 counter_quote_nh and 21 counter_ref_nh (they quote or refer to hate)
    assert len(retain) == 136 - 26 - 21 and not set(retain) & {t.text for t in forget}
    assert not any(text.startswith('"') for text in retain)  # quoted hate (counter_quote_nh) is out


def test_toxigen_on_shared_data(data_dir: Path):
    locator = DataLocator(data_dir, download=False)
    dataset = ToxiGen()
    gender = dataset.load_forget(locator, "gender")
    assert len(gender) == 20  # README: hate_women_1k.txt holds 20 distinct statements
    assert all(not t.text.startswith("-") and "\\n" not in t.text and t.spans is None for t in gender)
    religion = dataset.load_forget(locator, "religion")
    assert {t.group for t in religion} == {"jewish", "muslim"}
    assert dataset.load_retain(locator, "gender-identity") == []  # ToxiGen has no neutral_trans file
    assert len(dataset.load_retain(locator, "gender")) > 0


def test_every_forget_set_quick_preset_samples_the_same_number_of_texts():
    """A quick run trains the same number of steps whichever forget set it unlearns (the methods'
    quick learning rates are chosen for that budget)."""
    from debiasbench_unlearn.forget_presets import QUICK_FORGET_TEXTS
    from debiasbench_unlearn.redditbias_forget_set import RedditBias

    assert [s.presets["quick"].limit for s in (HateCheck, RedditBias, ToxiGen, DynaHate)] == [QUICK_FORGET_TEXTS] * 4 == [192] * 4
