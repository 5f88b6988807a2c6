"""HONEST templates (Nozza et al. 2021, 2022): English binary-gender and queer / non-queer templates.

A template ``"the woman should work as a [M]."`` becomes the prompt ``"the woman should work as a"``
(docs/concepts.md, "HONEST": ``template_masked`` without the trailing ``" [M]."``). Groups: the binary file's
``female`` / ``male`` (domain gender); the queer file's ``queer*`` / ``nonqueer*`` categories as
``queer`` / ``nonqueer`` (domain sexual-orientation), the sub-category kept per item.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from debiasbench.api import DataError
from debiasbench.api import DataFile, DataLocatorProto, EvalDataset
from debiasbench.api.data import RowFile, load_rows

MASK = " [M]."
SETS: dict[str, tuple[DataFile, str]] = {
    "binary": (DataFile("honest/binary/en_template.tsv",
                        sha256="31cc5a89729638975eaf0de3457ed87c6c7da67ef9058119f53d931f8e26727c"), "gender"),
    "queer_nonqueer": (DataFile("honest/queer_nonqueer/en_template.tsv",
                                sha256="29fb950897942d26b99d1485a18739c8a22ceb9326a548fd14b17bc335191100"), "sexual-orientation"),
}
"""Template set -> (file, domain): binary -> gender, queer_nonqueer -> sexual-orientation."""

GROUPS: dict[str, tuple[str, str]] = {"gender": ("female", "male"), "sexual-orientation": ("queer", "nonqueer")}
"""Each domain's pair of groups, in the order of the gap (first minus second)."""


@dataclass(frozen=True)
class HonestTemplate:
    item: str  # "<set>-<row index>"
    domain: str
    group: str  # female | male | queer | nonqueer
    category: str  # as in the file (queer_gender, nonqueer_orientation, ...)
    identity: str
    template: str
    prompt: str


def _group(category: str, domain: str, where: str) -> str:
    if domain == "gender" and category in ("female", "male"):
        return category
    if domain == "sexual-orientation":
        for group in ("queer", "nonqueer"):
            if category == group or category.startswith(group + "_"):
                return group
    raise DataError(f"{where}: category {category!r} is not one of the {domain} groups {', '.join(GROUPS[domain])}")


def parse_templates(path: Path, name: str, domain: str) -> list[HonestTemplate]:
    """Templates of one file; a template without ``[M]`` (or not ending in ``" [M]."``) names its line."""
    expected = "an HONEST template TSV with columns template_masked, identity, category"
    table: RowFile = load_rows(path, "csv", expected=expected, sep="\t", quoting=3, keep_default_na=False, na_filter=False)
    missing = [c for c in ("template_masked", "identity", "category") if c not in table.columns]
    if missing:
        raise DataError(f"{path}: line 1: missing column(s) {', '.join(missing)}; expected {expected}")
    out = []
    for i, row in enumerate(table.rows):
        template = str(row["template_masked"]).strip()
        if "[M]" not in template:
            raise DataError(f"{table.where(i)}: template {template!r} has no [M]; expected a masked template")
        if not template.endswith(MASK):
            raise DataError(f"{table.where(i)}: template {template!r} does not end in ' [M].'; expected the mask at the end")
        category = str(row["category"]).strip()
        out.append(HonestTemplate(
            item=f"{name}-{i}", domain=domain, group=_group(category, domain, table.where(i)), category=category,
            identity=str(row["identity"]), template=template, prompt=template[: -len(MASK)],
        ))
    if not out:
        raise DataError(f"{path}: no templates; expected {expected}")
    return out


class HonestDataset(EvalDataset):
    """HONEST's English templates: 810 binary-gender and 705 queer / non-queer."""

    name: ClassVar[str] = "honest"
    description: ClassVar[str] = "HONEST templates: 810 binary-gender, 705 queer/non-queer (English)"
    files: ClassVar[tuple[DataFile, ...]] = tuple(f for f, _ in SETS.values())
    license: ClassVar[str] = "MIT"
    hub_id: ClassVar[str] = "MilaNLProc/honest"
    citation: ClassVar[str] = (
        "Nozza, Bianchi, Hovy. HONEST: Measuring Hurtful Sentence Completion in Language Models. NAACL 2021; "
        "Nozza, Bianchi, Lauscher, Hovy. Measuring Harmful Sentence Completion in Language Models for LGBTQIA+ "
        "Individuals. LT-EDI 2022. https://github.com/MilaNLProc/honest"
    )

    def load(self, data: DataLocatorProto) -> list[HonestTemplate]:
        return [t for name, (file, domain) in SETS.items() for t in parse_templates(data.path(file), name, domain)]
