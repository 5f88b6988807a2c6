"""HateCheck (Röttger et al. 2021) as a forget set: the only one with annotated harmful spans
(``focus_words``), so it is the default forget set offline and works with the ``annotated``
selector."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from debiasbench.api import DataFile, DataLocatorProto, ForgetSet, ForgetText, PresetValues
from debiasbench_unlearn.forget_presets import FORGET_SET_PRESETS
from debiasbench_unlearn.tables import (
    apply_filters,
    check_split,
    groups_of,
    read_csv,
    unique,
)
from debiasbench_unlearn.text_spans import focus_spans

CASES = DataFile(
    "hatecheck/test_suite_cases.csv",
    sha256="ecf0dc1e93fccc90b6f880e632b19e635c0f0a68b3157915a9e20b6938f121cf",
    url="https://raw.githubusercontent.com/paul-rottger/hatecheck-data/d84302298ceeb34f4b0dde2d8a1f4932c2caa612/test_suite_cases.csv",
)

GROUP_DOMAINS: dict[str, str] = {
    "women": "gender",
    "black people": "race",
    "Muslims": "religion",
    "gay people": "sexual-orientation",
    "trans people": "gender-identity",
    "disabled people": "disability",
    "immigrants": "nationality",
}
"""``target_ident`` -> canonical domain (docs/concepts.md, "Forget sets")."""

COLUMNS = ("functionality", "test_case", "label_gold", "target_ident", "focus_words", "case_templ")


QUOTING_HATE = ("counter_quote_nh", "counter_ref_nh")
"""HateCheck functionalities whose non-hateful cases quote or refer to a hateful case."""


class HateCheck(ForgetSet):
    """HateCheck test cases: hateful cases are forget texts, their ``focus_words`` the spans;
    non-hateful cases about the same groups are the retain text."""

    name: ClassVar[str] = "hatecheck"
    default: ClassVar[bool] = True
    presets: ClassVar[Mapping[str, PresetValues]] = FORGET_SET_PRESETS
    description: ClassVar[str] = "HateCheck functional tests (3,728 cases, 7 groups) with annotated focus words; works offline"
    files: ClassVar[tuple[DataFile, ...]] = (CASES,)
    license: ClassVar[str] = "CC BY 4.0"
    hub_id: ClassVar[str] = "Paul/hatecheck"
    citation: ClassVar[str] = "Röttger et al. 2021, HateCheck: Functional Tests for Hate Speech Detection Models (ACL)"

    def domains(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(GROUP_DOMAINS.values()))

    def _rows(self, data: DataLocatorProto, domain: str, label: str) -> list[dict[str, str]]:
        groups = groups_of(domain, GROUP_DOMAINS, self.name, self.domains())
        rows = read_csv(data.path(CASES), COLUMNS)
        return apply_filters(rows, [
            (f"label_gold == {label!r}", lambda r: r["label_gold"] == label),
            (f"target_ident in {sorted(groups)}", lambda r: r["target_ident"] in groups),
        ], f"hatecheck, domain {domain!r}")

    def load_forget(self, data: DataLocatorProto, domain: str, split: str | None = None) -> list[ForgetText]:
        check_split(split, self.name)
        out: dict[str, ForgetText] = {}
        for row in self._rows(data, domain, "hateful"):
            text = row["test_case"].strip()
            if text and text not in out:
                spans = focus_spans(text, row["focus_words"] or None, row["case_templ"])
                out[text] = ForgetText(text=text, domain=domain, group=row["target_ident"], spans=spans, source=self.name)
        return list(out.values())

    def load_retain(self, data: DataLocatorProto, domain: str) -> list[str]:
        """Non-hateful cases about the domain's groups, less those that quote or refer to a hateful
        case (``counter_quote_nh``, ``counter_ref_nh``): they repeat the hate they counter, so they
        are not neutral text (docs/statistics.md, "The controls", benign-ga)."""
        rows = self._rows(data, domain, "non-hateful")
        return unique([row["test_case"].strip() for row in rows if row["functionality"] not in QUOTING_HATE])
