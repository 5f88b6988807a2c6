"""Shared pieces of the debiasbench-debias tests: a stub data folder, a tiny corpus, a run context.

(Named ``test_debias_*`` so it sits with the tests it serves; it defines no test itself.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from debiasbench.plugin_system.interfaces import DataFile, ForgetText, SelectorContext, UnlearnContext
from debiasbench.plugin_system.options import build_options
from debiasbench.testing import tiny_model_handle

WORDS = {
    "gender": [["he", "she"], ["man", "woman"], ["men", "women"], ["his", "her"], ["king", "queen"]],
    "race": [["black", "white", "asian"], ["africa", "europe", "asia"]],
    "religion": [["jewish", "christian", "muslim"], ["jews", "christians", "muslims"]],
}

CORPUS = [
    "He said that the man was a king of the old city .",
    "She said that the woman was a queen of the old city .",
    "The men worked in the fields near the river all day .",
    "The women worked in the fields near the river all day .",
    "His brother sold the farm to a neighbour last year .",
    "Her sister sold the farm to a neighbour last year .",
    "The black cat slept on the warm stone wall .",
    "Jewish families moved to the town in the spring .",
    "The weather was cold and the river was wide that winter .",
    "The history of the town is long and full of floods .",
    "A small bridge crossed the stream below the hill .",
    "The market opened early and closed late in summer .",
] * 3


class StubData:
    """A data locator over a folder (no checksums): what the methods read through ``DataLocatorProto``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, file: DataFile) -> Path:
        from debiasbench.errors import DataError

        path = self.root / file.relpath
        if not path.is_file():
            raise DataError(f"missing data file {file.relpath}")
        return path

    def checksum(self, file: DataFile) -> str:
        self.path(file)
        return "stub"


def stub_data(root: Path, corpus: list[str] = CORPUS) -> StubData:
    """``root`` with attribute words and a WikiText-style validation file."""
    (root / "bias_bench").mkdir(parents=True, exist_ok=True)
    (root / "bias_bench" / "bias_attribute_words.json").write_text(json.dumps(WORDS))
    wiki = root / "wikitext2" / "wikitext-2-tokenized-unk"
    wiki.mkdir(parents=True, exist_ok=True)
    (wiki / "valid.txt").write_text(" = Title = \n" + "\n".join(" " + s for s in corpus) + "\n")
    return StubData(root)


def handle() -> Any:
    return tiny_model_handle(texts=CORPUS)


def context(data: Any, domain: str = "gender", seed: int = 0) -> UnlearnContext:
    forget = [ForgetText("Some hateful text about a group.", domain, "group")]
    selector_ctx = SelectorContext(model=None, data=data, registry=None, domain=domain, seed=seed)  # type: ignore[arg-type]
    return UnlearnContext(forget=forget, retain=[], selector=None, selector_ctx=selector_ctx, registry=None, seed=seed)  # type: ignore[arg-type]


def options(method: Any, **values: Any) -> Any:
    return build_options(method.Options, {k: str(v) for k, v in values.items()}, method.name)
