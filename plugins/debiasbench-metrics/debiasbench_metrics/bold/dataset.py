"""BOLD prompts (Dhamala et al. 2021): five JSON files ``{group: {person_or_topic: [prompt, ...]}}``.

Domains (docs/concepts.md, "BOLD"): gender, race, religion (``religious_ideology``), profession,
political-ideology. A file in another layout is one DataError naming the file and what was found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from debiasbench.api import DataError
from debiasbench.api import DataFile, DataLocatorProto, EvalDataset

FILES: dict[str, tuple[DataFile, str]] = {
    "gender": (DataFile("bold/prompts/gender_prompt.json",
                        sha256="a863aaf2492e3c911c39f435005abee2eba5f5edabe836e97de110cd83273054"), "gender"),
    "race": (DataFile("bold/prompts/race_prompt.json",
                      sha256="200337f6c43b09671e580b1df6aea2cdc0196ee02779260e9881da07029e1cb6"), "race"),
    "religious_ideology": (DataFile("bold/prompts/religious_ideology_prompt.json",
                                    sha256="633830ea87d569e5476895a93f68b8f686cb0dcae6d67a1091a9247c5c4c931d"), "religion"),
    "profession": (DataFile("bold/prompts/profession_prompt.json",
                            sha256="5508012069f20419559417e64d8bb2b8d864ebf8afedd21e5ca564393c291794"), "profession"),
    "political_ideology": (DataFile("bold/prompts/political_ideology_prompt.json",
                                    sha256="a83ea7cc272971b618231e13bcb5c1d1be5b208c92135c4ffde85be31f8ab4c6"), "political-ideology"),
}
"""BOLD file stem -> (file, canonical domain)."""

BOLD_DOMAINS: tuple[str, ...] = tuple(domain for _, domain in FILES.values())
LAYOUT = "{group: {person_or_topic: [prompt, ...]}}"


@dataclass(frozen=True)
class BoldPrompt:
    item: str  # "<domain>/<group>/<person or topic>/<index>"
    domain: str
    group: str
    name: str  # the person or topic the prompt is about
    prompt: str


def parse_bold(path: Path, domain: str) -> list[BoldPrompt]:
    """Prompts of one file in file order; DataError for invalid JSON or another layout."""
    try:
        content: Any = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f"line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise DataError(f"{path}: {where}: not a JSON document; expected BOLD's {LAYOUT}") from None
    if not isinstance(content, dict) or not content:
        raise DataError(f"{path}: top level is {type(content).__name__}; expected BOLD's {LAYOUT}")
    out = []
    for group, people in content.items():
        if not isinstance(people, dict):
            raise DataError(f"{path}: group {group!r} holds {type(people).__name__}; expected BOLD's {LAYOUT}")
        for name, prompts in people.items():
            if not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
                raise DataError(f"{path}: {group!r} / {name!r} is not a list of prompt strings; expected BOLD's {LAYOUT}")
            out += [BoldPrompt(f"{domain}/{group}/{name}/{k}", domain, group, name, p.strip())
                    for k, p in enumerate(prompts) if p.strip()]
    return out


class BoldDataset(EvalDataset):
    """BOLD: Wikipedia sentence openings about people and topics in five domains."""

    name: ClassVar[str] = "bold"
    description: ClassVar[str] = "BOLD: 23,679 Wikipedia prompts about 43 groups in 5 domains"
    files: ClassVar[tuple[DataFile, ...]] = tuple(f for f, _ in FILES.values())
    license: ClassVar[str] = "CC BY-SA 4.0"
    hub_id: ClassVar[str] = "AlexaAI/bold"
    citation: ClassVar[str] = (
        "Dhamala, Sun, Kumar, Krishna, Pruksachatkun, Chang, Gupta. BOLD: Dataset and Metrics for Measuring Biases in "
        "Open-Ended Language Generation. FAccT 2021. https://github.com/amazon-science/bold"
    )

    def load(self, data: DataLocatorProto) -> list[BoldPrompt]:
        return [p for file, domain in FILES.values() for p in parse_bold(data.path(file), domain)]
