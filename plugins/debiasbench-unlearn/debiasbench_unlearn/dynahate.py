"""The Dynamically Generated Hate Speech Dataset v0.2.3 (Vidgen et al. 2021): the seed study's
forget set. Its file is not in the shared data folder; it is located like any other file
(data dir, cache, then the source URL) and has no pinned checksum."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar

from debiasbench.api import DataError, DataFile, DataLocatorProto, ForgetSet, ForgetText, PresetValues
from debiasbench_unlearn.forget_presets import FORGET_SET_PRESETS
from debiasbench_unlearn.tables import apply_filters, groups_of, read_csv, unique

CSV = DataFile(
    "dynahate/Dynamically Generated Hate Dataset v0.2.3.csv",
    git_blob="0e7730bfddf201bd5784c2f9ae9b0de7a9fcae54",  # the source publishes no sha256; its git blob id is checked
    url="https://raw.githubusercontent.com/bvidgen/Dynamically-Generated-Hate-Speech-Dataset/dcc7603e13172221a964eaf3f93d9d5460dc4e08/"
        "Dynamically%20Generated%20Hate%20Dataset%20v0.2.3.csv",
)

CODE_DOMAINS: dict[str, tuple[str, ...]] = {
    "wom": ("gender",),
    "blawom": ("race", "gender"), "asiwom": ("race", "gender"), "indigwom": ("race", "gender"),
    "muswom": ("religion", "gender"), "gaywom": ("sexual-orientation", "gender"),
    "bla": ("race",), "blaman": ("race",), "african": ("race",), "asi": ("race",), "east": ("race",),
    "south": ("race",), "arab": ("race",), "indig": ("race",), "mixed": ("race",), "mixed.race": ("race",),
    "non-white": ("race",), "non.white": ("race",), "ethnic minority": ("race",), "ethnic.minority": ("race",),
    "trav": ("race",), "hispanic": ("race",),
    "jew": ("religion",), "mus": ("religion",),
    "gay": ("sexual-orientation",), "gayman": ("sexual-orientation",), "bis": ("sexual-orientation",),
    "lgbtq": ("sexual-orientation",),
    "trans": ("gender-identity",), "gendermin": ("gender-identity",),
    "dis": ("disability",),
    "immig": ("nationality",), "asylum": ("nationality",), "ref": ("nationality",), "for": ("nationality",),
    "chinese": ("nationality",), "pak": ("nationality",), "pol": ("nationality",), "russian": ("nationality",),
    "eastern european": ("nationality",), "eastern.europe": ("nationality",), "eastern.european": ("nationality",),
    "old": ("age",), "old.people": ("age",),
    "working": ("socioeconomic",), "working.class": ("socioeconomic",),
}
"""Target code -> canonical domains (docs/concepts.md, "Forget sets"; codes from the data set's README).

Intersectional codes map to every domain they name (``blawom`` is race and gender). Codes
without a domain (``none``, ``notgiven``, ``notargetrecorded``, ``other``, ``nazi``,
``hitler``) map to nothing, so those rows are skipped."""

SPLITS = ("train", "dev", "test")
COLUMNS = ("acl.id", "text", "label", "target", "split", "acl.id.matched")


def target_domains(target: str) -> set[str]:
    """Domains of a ``target`` value. Values may combine codes (``bla.wom``, ``bla, wom``); a
    whole chunk is looked up first (``non.white``), then its dot-separated parts."""
    domains: set[str] = set()
    for chunk in re.split(r"[,;/|+]", target.lower()):
        chunk = chunk.strip()
        if chunk in CODE_DOMAINS:
            domains.update(CODE_DOMAINS[chunk])
            continue
        for part in chunk.split("."):
            domains.update(CODE_DOMAINS.get(part.strip(), ()))
    return domains


class DynaHate(ForgetSet):
    """Hateful entries (``label == hate``) whose ``target`` maps to the domain; retain text is
    the non-hateful perturbations matched (``acl.id.matched``) to those entries."""

    name: ClassVar[str] = "dynahate"
    presets: ClassVar[Mapping[str, PresetValues]] = FORGET_SET_PRESETS
    aliases: ClassVar[tuple[str, ...]] = ("dynamically-generated-hate",)
    description: ClassVar[str] = "Dynamically Generated Hate Speech Dataset v0.2.3 (the seed study's forget set; --split train|dev|test)"
    splits: ClassVar[tuple[str, ...]] = SPLITS
    files: ClassVar[tuple[DataFile, ...]] = (CSV,)
    license: ClassVar[str] = "CC BY 4.0"
    citation: ClassVar[str] = "Vidgen et al. 2021, Learning from the Worst: Dynamically Generated Datasets to Improve Online Hate Detection (ACL)"

    def domains(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d for ds in CODE_DOMAINS.values() for d in ds))

    def _hate_rows(self, data: DataLocatorProto, domain: str, split: str | None) -> list[dict[str, str]]:
        if domain not in self.domains():
            groups_of(domain, {}, self.name, self.domains())  # raises the one-line DataError
        if split is not None and split not in SPLITS:
            raise DataError(f"forget set 'dynahate' has splits {', '.join(SPLITS)}; got --split {split}")
        rows = read_csv(data.path(CSV), COLUMNS)
        filters = [("label == 'hate'", lambda r: r["label"] == "hate")]
        if split is not None:
            filters.append((f"split == {split!r}", lambda r: r["split"] == split))
        filters.append((f"target maps to {domain!r}", lambda r: domain in target_domains(r["target"])))
        return apply_filters(rows, filters, f"dynahate, domain {domain!r}")

    def load_forget(self, data: DataLocatorProto, domain: str, split: str | None = None) -> list[ForgetText]:
        out: dict[str, ForgetText] = {}
        for row in self._hate_rows(data, domain, split):
            text = row["text"].strip()
            if text and text not in out:
                out[text] = ForgetText(text=text, domain=domain, group=row["target"], spans=None, source=self.name)
        return list(out.values())

    def load_retain(self, data: DataLocatorProto, domain: str) -> list[str]:
        hate = self._hate_rows(data, domain, None)
        hate_ids = {r["acl.id"] for r in hate}
        matched = {r["acl.id.matched"] for r in hate}
        rows = read_csv(data.path(CSV), COLUMNS)
        return unique([r["text"].strip() for r in rows if r["label"] == "nothate"
                       and (r["acl.id.matched"] in hate_ids or r["acl.id"] in matched)])
