"""The redditbias forget set (docs/concepts.md, "RedditBias as a forget set"): test sentences removed, phrases located as spans or
the row dropped and counted, retain rows, the run-record report; the spans command on it; and
the counts that page gives, on the real files (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("debiasbench_unlearn")

from typer.testing import CliRunner  # noqa: E402

from debiasbench.run import models  # noqa: E402
from debiasbench.cli import app  # noqa: E402
from debiasbench.data.locator import DataLocator  # noqa: E402
from debiasbench.errors import DataError  # noqa: E402
from debiasbench.testing import tiny_model_handle  # noqa: E402
from debiasbench_unlearn import redditbias_forget_set  # noqa: E402
from debiasbench_unlearn.redditbias_forget_set import GroupFiles, RedditBias, flag  # noqa: E402

ANNOTATED = [
    "attribute_in_window,comment,phrase,bias_sent,bias_phrase,",
    "TRUE,black people are lazy and loud,people are lazy,1,1,",  # forget, span found
    "TRUE,  Black people are criminals ,people are criminals,1,1,",  # a test sentence (stripped, lower-cased): removed
    "TRUE,black people cook well,black people cook,0,0,",  # retain
    "TRUE,black folks are thieves,are robbers,1,1,",  # phrase not in the comment: dropped, counted
    "TRUE,black people vote,people vote,1,0,",  # biased sentence, unbiased phrase: neither
    "TRUE,black people sing,black people sing,1 - context needed,0,",  # a note, not a 0: not retain
    "TRUE,black people walk,,,,",  # unannotated
    "TRUE,black people are lazy and loud,lazy and loud,1,1,",  # the same comment again, another phrase: kept
]
TEST = [
    "attribute_in_window,comment,comments_processed,bias_sent,bias_phrase,Unnamed: 5,perplexity",
    "True,black people are criminals,black people are criminals,1,1,,10.5",
]


@pytest.fixture()
def race_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataLocator:
    files = GroupFiles("black", "race", "", "")
    monkeypatch.setattr(redditbias_forget_set, "GROUPS", (files,))
    for data_file, lines in ((files.annotated, ANNOTATED), (files.test, TEST)):
        path = tmp_path / "data" / data_file.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return DataLocator(tmp_path / "data", tmp_path / "cache", download=False)


def test_flags_read_numbers_not_notes():
    assert [flag(v) for v in ("1", "0", "1.0", "", "2", "1 - context needed", "biased?")] == [1, 0, 1, None, None, None, None]


def test_forget_texts_spans_retain_and_report(race_data: DataLocator):
    dataset = RedditBias()
    forget = dataset.load_forget(race_data, "race")
    assert [t.text for t in forget] == ["black people are lazy and loud"] * 2
    assert [t.text[s:e] for t in forget for s, e in t.spans] == ["people are lazy", "lazy and loud"]
    assert all(t.domain == "race" and t.group == "black" and t.source == "redditbias" for t in forget)
    assert dataset.load_retain(race_data, "race") == ["black people cook well"]
    report = dataset.load_report(race_data, "race")["groups"]["black"]
    assert report == {"annotated_rows": 8, "test_sentences": 1, "removed_test_rows": 1, "empty_comment_rows": 0,
                      "dropped_phrase_not_found": 1, "forget_texts": 2, "retain_texts": 1}


def test_errors_name_the_domain_the_split_and_the_file(race_data: DataLocator, tmp_path: Path):
    with pytest.raises(DataError, match="no texts for domain 'disability'"):
        RedditBias().load_forget(race_data, "disability")
    with pytest.raises(DataError, match="has no splits"):
        RedditBias().load_forget(race_data, "race", "train")
    (tmp_path / "data" / redditbias_forget_set.GROUPS[0].test.relpath).write_text("text,label\nx,1\n", encoding="utf-8")
    with pytest.raises(DataError, match="biased_test_reduced.csv lacks the column"):
        RedditBias().load_forget(race_data, "race")


def test_registered_and_its_spans_reach_the_annotated_selector(race_data: DataLocator, monkeypatch: pytest.MonkeyPatch):
    from debiasbench.plugin_system.loader import get_registry

    assert get_registry().get("dataset", "redditbias").domains() == ("gender", "race", "religion", "sexual-orientation")
    handle = tiny_model_handle(texts=["black people are lazy and loud"])
    monkeypatch.setattr(models, "load_model", lambda spec, settings, registry: handle)
    result = CliRunner().invoke(app, ["spans", "--forget-set", "redditbias", "--domain", "race", "--limit", "0",
                                      "--data-dir", str(race_data.data_dir)])
    assert result.exit_code == 0, result.output
    assert "annotated on redditbias / race: 2 texts, 2 with a selection" in result.output
    assert "[[people are lazy]]" in result.output.replace("\n", " ")


@pytest.mark.slow
def test_spec_counts_on_the_release(data_dir: Path):
    dataset, data = RedditBias(), DataLocator(data_dir, download=False)
    removed, forget = {}, {}
    for domain in dataset.domains():
        for group, counts in dataset.load_report(data, domain)["groups"].items():
            removed[group], forget[group] = counts["removed_test_rows"], counts["forget_texts"]
            assert counts["dropped_phrase_not_found"] == 0
    assert removed == {"female": 253, "black": 254, "jews": 252, "muslims": 236, "lgbtq": 235}
    assert forget == {"female": 1775, "black": 1019, "jews": 948, "muslims": 964, "lgbtq": 965}
    race = dataset.load_forget(data, "race")
    assert len(race) == 1019 and all(t.spans and t.text[t.spans[0][0]:t.spans[0][1]] for t in race)
