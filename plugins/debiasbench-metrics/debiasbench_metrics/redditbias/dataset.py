"""The RedditBias test pairs (Barikeri et al. 2021; docs/concepts.md, "RedditBias"): row i of a targeted group's
``*_biased_test_reduced.csv`` and row i of its dominant group's file are the same sentence with the
group terms swapped. The dominant-group file repeats the target sentence in its ``comments``
column, which is checked row by row, so a misaligned pair is an error naming the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from debiasbench.api import DataError
from debiasbench.api import DataFile, DataLocatorProto, EvalDataset
from debiasbench.api.data import RowFile, load_rows


@dataclass(frozen=True)
class PairFiles:
    """One targeted group, its dominant group and the folder of both test files."""

    dim: str
    target: str
    dominant: str
    domain: str
    target_sha256: str
    dominant_sha256: str

    def file(self, group: str) -> DataFile:
        sha = self.target_sha256 if group == self.target else self.dominant_sha256
        return DataFile(f"redditbias/{self.dim}/reddit_comments_{self.dim}_{group}_biased_test_reduced.csv", sha256=sha)


PAIR_FILES: tuple[PairFiles, ...] = (
    PairFiles("gender", "female", "male", "gender",
              "6f879a2bd92adeb61a8865c273f4724a989a0046ff74a59b8731af53a18303e6",
              "bfb0478c5176bf02f8841a89df6fe40768ad7078d29c738a8aab5770b1149c2f"),
    PairFiles("race", "black", "white", "race",
              "08d26f74e4ef42be999bafb5770f63fc239cb767611eb93aa713ad8eb93875a0",
              "59e10d5fb1e86d4fde3a1adda0d0f37802634d0e6ca01571249d8a9b03579b73"),
    PairFiles("religion1", "jews", "christians", "religion",
              "4d615949b94cf3babdc9164e08132b885dfd93e6c128e0a5a582934d22b3ad36",
              "34048b5a874effd27e7665f14dd715cfff5d0f2fbd38f4691a18375c32e36b71"),
    PairFiles("religion2", "muslims", "christians", "religion",
              "0a924d4ca7069f7db9e937440e7d8f15e43563f5c83bd1506680d252abfa33f6",
              "11e14986e88976ae6da2416d62554e02c95ee29b59805877c786a70f26d05aaf"),
    PairFiles("orientation", "lgbtq", "straight", "sexual-orientation",
              "2664ac0a26b65bde99c12db737f729823bf6e4fcd1c7bd22eb8da9e8960556d5",
              "e0f8ab4da75576104d0c32bb1b73629021c291ad4027815a4fefe964edd78bf1"),
)
"""docs/concepts.md, "RedditBias": the five targeted groups; jews and muslims both map to religion."""

REDDITBIAS_DOMAINS: tuple[str, ...] = tuple(dict.fromkeys(p.domain for p in PAIR_FILES))


@dataclass(frozen=True)
class RedditBiasPair:
    """One test pair, both sentences lower-cased (the dominant-group file already is)."""

    item: str  # "<target group>-<row index>", stable across runs
    domain: str
    group: str  # the targeted group
    target: str
    counter: str


def _read(path: Path, columns: tuple[str, ...]) -> RowFile:
    expected = f"a RedditBias test CSV with columns {', '.join(columns)}"
    table = load_rows(path, "csv", expected=expected, keep_default_na=False, na_filter=False)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(f"{path}: line 1: missing column(s) {', '.join(missing)}; expected {expected}")
    return table


def parse_pairs(files: PairFiles, target_path: Path, dominant_path: Path) -> list[RedditBiasPair]:
    """Pairs of one group; DataError names the file and line of a missing, empty or misaligned row."""
    target = _read(target_path, ("comments_processed",))
    dominant = _read(dominant_path, ("comments", "comments_processed"))
    if len(target.rows) != len(dominant.rows):
        raise DataError(
            f"{dominant_path}: {len(dominant.rows)} rows, but {target_path.name} has {len(target.rows)}; "
            "expected the same sentences row by row"
        )
    pairs = []
    for i, (t_row, d_row) in enumerate(zip(target.rows, dominant.rows)):
        sentence = str(t_row["comments_processed"]).strip().lower()
        counter = str(d_row["comments_processed"]).strip().lower()
        if not sentence:
            raise DataError(f"{target.where(i)}: empty comments_processed; expected a sentence")
        if not counter:
            raise DataError(f"{dominant.where(i)}: empty comments_processed; expected the swapped sentence")
        if str(d_row["comments"]).strip().lower() != sentence:
            raise DataError(f"{dominant.where(i)}: comments is not row {i + 1} of {target_path.name}; expected aligned rows")
        pairs.append(RedditBiasPair(item=f"{files.target}-{i}", domain=files.domain, group=files.target,
                                    target=sentence, counter=counter))
    return pairs


class RedditBiasTestDataset(EvalDataset):
    """RedditBias test sentences about five targeted groups, each with its group-swapped counterpart."""

    name: ClassVar[str] = "redditbias-test"
    description: ClassVar[str] = "RedditBias test pairs: 1,216 biased Reddit sentences and their group-swapped versions"
    files: ClassVar[tuple[DataFile, ...]] = tuple(
        dict.fromkeys(f for p in PAIR_FILES for f in (p.file(p.target), p.file(p.dominant)))
    )
    license: ClassVar[str] = "MIT"
    citation: ClassVar[str] = (
        "Barikeri, Lauscher, Vulić, Glavaš. RedditBias: A Real-World Resource for Bias Evaluation and Debiasing of "
        "Conversational Language Models. ACL 2021. https://github.com/umanlp/RedditBias"
    )

    def load(self, data: DataLocatorProto) -> list[RedditBiasPair]:
        pairs = []
        for files in PAIR_FILES:
            pairs += parse_pairs(files, data.path(files.file(files.target)), data.path(files.file(files.dominant)))
        return pairs
