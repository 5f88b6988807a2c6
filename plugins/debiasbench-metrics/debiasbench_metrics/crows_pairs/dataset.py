"""The CrowS-Pairs data set (Nangia et al. 2020): 1,508 minimal sentence pairs, nine bias types.

Read with ``datasets``' CSV builder (through :func:`debiasbench.data.rows.load_rows`), every value kept
as written: no "NA"/"null" turned into missing values, so a sentence is always its text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from debiasbench.api import DataError, DataFile, DataLocatorProto, EvalDataset
from debiasbench.api.data import RowFile, load_rows

CROWS_FILE = DataFile(
    relpath="crows_pairs/crows_pairs_anonymized.csv",
    sha256="dfb36986ce0502abbaf7055b9176da3d08d48e07df1251991b5dfbcbceab9d0c",
    url="https://raw.githubusercontent.com/nyu-mll/crows-pairs/8aaac11c485473159ec9328a65253a5be9a479dc/data/crows_pairs_anonymized.csv",
)

BIAS_TYPE_TO_DOMAIN: dict[str, str] = {
    "race-color": "race",
    "gender": "gender",
    "religion": "religion",
    "sexual-orientation": "sexual-orientation",
    "age": "age",
    "nationality": "nationality",
    "disability": "disability",
    "physical-appearance": "physical-appearance",
    "socioeconomic": "socioeconomic",
}
"""``race-color`` -> race; the other eight keep their names (docs/concepts.md, "CrowS-Pairs")."""

CROWS_DOMAINS: tuple[str, ...] = (
    "gender", "race", "religion", "sexual-orientation", "age", "nationality", "disability",
    "physical-appearance", "socioeconomic",
)
"""Domain order of the result rows (the study's three first)."""

DIRECTIONS = ("stereo", "antistereo")
REQUIRED_COLUMNS = ("sent_more", "sent_less", "stereo_antistereo", "bias_type")


@dataclass(frozen=True)
class CrowsPair:
    """One pair; ``sent_more`` is the more stereotypical sentence in both directions."""

    pair_id: str  # the CSV's unnamed index column (row number when absent)
    sent_more: str
    sent_less: str
    direction: str  # stereo | antistereo
    bias_type: str  # as in the file, e.g. race-color
    domain: str  # canonical domain, e.g. race


def parse_crows_csv(path: Path) -> list[CrowsPair]:
    """Read a CrowS-Pairs CSV; DataError names the file, the line and what was expected."""
    expected = f"a CrowS-Pairs CSV with columns {', '.join(REQUIRED_COLUMNS)}"
    table = load_rows(path, "csv", expected=expected, keep_default_na=False, na_filter=False)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{path}: line 1: missing column(s) {', '.join(missing)}; expected {expected}")
    index_column = table.columns[0] if table.columns[0] not in REQUIRED_COLUMNS else None  # the unnamed first column
    pairs = [_pair(row, i, table, index_column) for i, row in enumerate(table.rows)]
    if not pairs:
        raise DataError(f"{path}: no pairs; expected 1,508 rows after the header")
    return pairs


def _pair(row: dict[str, object], index: int, table: RowFile, index_column: str | None) -> CrowsPair:
    def field(name: str) -> str:
        value = row.get(name)
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{table.where(index)}: empty or missing {name!r}; expected a non-empty value")
        return value

    direction = field("stereo_antistereo")
    if direction not in DIRECTIONS:
        raise DataError(f"{table.where(index)}: stereo_antistereo is {direction!r}; expected 'stereo' or 'antistereo'")
    bias_type = field("bias_type")
    if bias_type not in BIAS_TYPE_TO_DOMAIN:
        raise DataError(
            f"{table.where(index)}: bias_type {bias_type!r} is unknown; expected one of {', '.join(BIAS_TYPE_TO_DOMAIN)}"
        )
    pair_id = str(row.get(index_column, "")).strip() if index_column is not None else ""
    return CrowsPair(
        pair_id=pair_id or str(index), sent_more=field("sent_more"), sent_less=field("sent_less"),
        direction=direction, bias_type=bias_type, domain=BIAS_TYPE_TO_DOMAIN[bias_type],
    )


class CrowsPairsDataset(EvalDataset):
    """CrowS-Pairs, ``crows_pairs_anonymized.csv`` (nyu-mll/crows-pairs)."""

    name: ClassVar[str] = "crows-pairs"
    aliases: ClassVar[tuple[str, ...]] = ("crows",)
    description: ClassVar[str] = "CrowS-Pairs: 1,508 minimal pairs, stereotypical vs less stereotypical, nine bias types"
    files: ClassVar[tuple[DataFile, ...]] = (CROWS_FILE,)
    license: ClassVar[str] = "CC BY-SA 4.0 (the authors ask that it not be used to train models)"
    hub_id: ClassVar[str] = "nyu-mll/crows_pairs"
    notice: ClassVar[str] = (  # the authors' README (nyu-mll/crows-pairs @ 8aaac11c, the commit of the data file)
        "Data reliability: the CrowS-Pairs authors note that Blodgett et al. (2021) \"found significant issues with noise "
        "and reliability of the data in CrowS-Pairs. The problems are significant enough that CrowS-Pairs may not be a "
        "good indicator of the presence of social biases in LMs\"; they ask readers to refer to that paper for details "
        "(https://www.microsoft.com/en-us/research/uploads/prod/2021/06/The_Salmon_paper.pdf), and argue that the data "
        "\"should not be used to train a language model\" (their README, nyu-mll/crows-pairs)."
    )
    citation: ClassVar[str] = (
        "Nangia, Vania, Bhalerao, Bowman. CrowS-Pairs: A Challenge Dataset for Measuring Social Biases in "
        "Masked Language Models. EMNLP 2020. https://github.com/nyu-mll/crows-pairs"
    )

    def load(self, data: DataLocatorProto) -> list[CrowsPair]:
        return parse_crows_csv(data.path(CROWS_FILE))
