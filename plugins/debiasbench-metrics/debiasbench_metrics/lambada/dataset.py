"""LAMBADA (Paperno et al. 2016), OpenAI's detokenised test set: 5,153 passages, one ``{"text": ...}`` per line.

The file GPT-2 was evaluated on and lm-evaluation-harness's ``lambada_openai`` reads
(``openaipublic.blob.core.windows.net/gpt-2/data/lambada_test.jsonl``; EleutherAI/lambada_openai's
``lambada_test_en.jsonl`` is byte-identical). Read with ``datasets``' JSON builder; a missing file, a line
that is not JSON or a passage without text or without a space (no context to predict from) is one DataError
line naming the file and the line.

Each passage splits at its last space (lm-eval's ``text.split(' ')[:-1]`` / ``' ' + text.split(' ')[-1]``):
``context`` = the text before it, ``target`` = ``" " + last word``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from debiasbench.api import DataError, DataFile, DataLocatorProto, EvalDataset
from debiasbench.api.data import load_rows

LAMBADA_FILE = DataFile(
    relpath="lambada/lambada_test.jsonl",
    sha256="4aa8d02cd17c719165fc8a7887fddd641f43fcafa4b1c806ca8abc31fabdb226",
    url="https://openaipublic.blob.core.windows.net/gpt-2/data/lambada_test.jsonl",
)


@dataclass(frozen=True)
class LambadaPassage:
    """One passage; ``item`` is its 0-based line index among the file's passages (stable under the checksum)."""

    item: str
    context: str
    target: str  # " " + the last word


def split_passage(text: str) -> tuple[str, str]:
    """(context, target): the passage up to its last space, and that space with the last word."""
    cut = text.rfind(" ")
    return text[:cut], text[cut:]


def parse_lambada(path: Path) -> list[LambadaPassage]:
    """Every passage of a LAMBADA JSON-lines file, in file order."""
    expected = 'LAMBADA JSON lines, one {"text": passage} per line (OpenAI lambada_test.jsonl)'
    table = load_rows(path, "json", expected=expected)
    if table.rows and "text" not in table.columns:
        raise DataError(f"{path}: line 1: no 'text' field; expected {expected}")
    passages = []
    for index, row in enumerate(table.rows):
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{table.where(index)}: empty or missing 'text'; expected {expected}")
        context, target = split_passage(text) if " " in text else ("", "")
        if not context.strip() or not target.strip():
            raise DataError(f"{table.where(index)}: the passage has no space between a context and its last word; "
                            f"expected {expected}")
        passages.append(LambadaPassage(item=str(index), context=context, target=target))
    if not passages:
        raise DataError(f"{path}: no passages; expected {expected}")
    return passages


class LambadaDataset(EvalDataset):
    """LAMBADA, OpenAI's ``lambada_test.jsonl``."""

    name: ClassVar[str] = "lambada"
    aliases: ClassVar[tuple[str, ...]] = ("lambada-openai",)
    description: ClassVar[str] = "LAMBADA (OpenAI version): 5,153 passages whose last word needs the whole passage"
    files: ClassVar[tuple[DataFile, ...]] = (LAMBADA_FILE,)
    license: ClassVar[str] = "CC BY 4.0"
    hub_id: ClassVar[str] = "EleutherAI/lambada_openai"  # the same detokenised test set
    citation: ClassVar[str] = (
        "Paperno, Kruszewski, Lazaridou, Pham, Bernardi, Pezzelle, Baroni, Boleda, Fernández. The LAMBADA dataset: "
        "Word prediction requiring a broad discourse context. ACL 2016. https://zenodo.org/record/2630551; "
        "OpenAI's detokenised test file: https://openaipublic.blob.core.windows.net/gpt-2/data/lambada_test.jsonl"
    )

    def load(self, data: DataLocatorProto) -> list[LambadaPassage]:
        return parse_lambada(data.path(LAMBADA_FILE))
