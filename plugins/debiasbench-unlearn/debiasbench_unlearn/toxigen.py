"""ToxiGen prompts (Hartvigsen et al. 2022) as a forget set: the implicit-hate statements the
ToxiGen generator was prompted with, per target group; the neutral prompts are retain text."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from debiasbench.api import DataError, DataFile, DataLocatorProto, ForgetSet, ForgetText, PresetValues
from debiasbench_unlearn.forget_presets import FORGET_SET_PRESETS
from debiasbench_unlearn.tables import check_split, groups_of, unique

REPOSITORY = "https://raw.githubusercontent.com/microsoft/TOXIGEN/01517e814639e0334c920a3c502036c8158aac87/prompts"
SEPARATOR = "\\n-"
"""Statements in a prompt line are separated by the two characters backslash and ``n`` (not a
newline) followed by the dash that starts the next statement."""

GROUP_DOMAINS: dict[str, str] = {
    "women": "gender",
    "black": "race", "asian": "race", "latino": "race", "native_american": "race",
    "jewish": "religion", "muslim": "religion",
    "lgbtq": "sexual-orientation", "bisexual": "sexual-orientation",
    "trans": "gender-identity",
    "mental_disability": "disability", "physical_disability": "disability",
    "immigrant": "nationality", "mexican": "nationality", "chinese": "nationality", "middle_east": "nationality",
}
"""File group -> canonical domain (docs/concepts.md, "Forget sets")."""

SHA256: dict[str, str] = {
    "hate_asian": "0504967034122b691c16dbef10db3acb16492808ecc66d8cd2b2ae87454fd655",
    "hate_bisexual": "09a5b6995d0cd0ba940ae9f9d67e8db1451352dcf99ee273315efc34915fc1e3",
    "hate_black": "29ef85c5610d77a3a4bb050826ffb6e124ee48e11f5b63d34b29d616ef2ee1c3",
    "hate_chinese": "7f99029bad4f71caff707787d6799d1d654fee140f22418691d1244e81ed2b21",
    "hate_immigrant": "bebb38d8786f498ca2153f965cdfba14e0490d5216781091106e5ac8ebbe0574",
    "hate_jewish": "f5bdf83ef8fd32435241cc5fcfc337c0a57bcf64eb7fb4aa3c8fe15eb86f1fd2",
    "hate_latino": "60988864d728cc7b1644a72419181efc1d82b2342f636a5e76f34805e4a88537",
    "hate_lgbtq": "7fb7da0d4ad1a485824111ab60f6030f01dd92dbc9342c76534c78faec061a16",
    "hate_mental_disability": "5a71f51bf998c5111b5dd6d0b7d7edbaa445f27defbc1fdb798dd920974ad3e2",
    "hate_mexican": "2fad743ced369e4a280165b7ea909f8cb30921840cbe5f9f454243cf9e4dcfd5",
    "hate_middle_east": "29ffcca6defd3e4f2edd2237417c7617a3c7380de8f9c6cf13d8c087fa595223",
    "hate_muslim": "aaa18a9bf72928f71cf3d0d8d4dfa298faeb015a8580f5c7e21ef7afaae3241a",
    "hate_native_american": "01c2077f1007268ca11588d08f909ed9c01178148205ae417618d276227b9bbc",
    "hate_physical_disability": "8cada46239a52a741faf47677d1ffbfa06dc31d3e480a03935a5aec89ea02dee",
    "hate_trans": "6188dfd52082e552230a1332e2bf83a23e8410c5f353d32dca79f259c8daf8b8",
    "hate_women": "eecdf3006847c267b9399045ce2fe002f884fe5b682dbef450f3477d7bb24497",
    "neutral_asian": "a5f0c58ae51dc8771d1779009ffc3017c5071c529b01f260600fa96c164ceb44",
    "neutral_bisexual": "8a3391bb9a178295f619c3e92ba9bc177225c392d90ac9f4ab5702c4140d6e51",
    "neutral_black": "8e1da39bf32818c14156f4de32ef6a35f701e1737540dafb02bdf8eb03206a6b",
    "neutral_chinese": "aad50dde2f68d75804e44b939a700b8e37ef93a152cae1a045f8881f89c7e982",
    "neutral_immigrant": "1807799ed9e45c428792da879f83d874e3f589c63b6fd746716fafe2b117c3d4",
    "neutral_jewish": "c804dc98c4a7d90105a9848a66cde4eb05db9a63a8d2668387e46bba90c28380",
    "neutral_latino": "7fad9d0003e54e5f18c1dafb7e21b2295dae5bb7290e9c649eadb7a450b80957",
    "neutral_lgbtq": "7cefb606353cfff8c9ee4af9b2044f039e698dc8117b7c9414dd02dedca51ba9",
    "neutral_mental_disability": "8f513551d7c86c3fd6df5d0a4bb8fd831c45c24d917d69ab3a61f1a984edf3d0",
    "neutral_mexican": "e16aaa8a4606b3bf08139b9c91067cb63d620dd5a3a94e63b8ebc3f4198b1597",
    "neutral_middle_east": "a4f23dfbe5bd0dec6a2018b2fe1ca9805d2a7ca76791da5300c72e6bcdabcdf9",
    "neutral_muslim": "d378bc96f388cef1be42954246b67955dfe3d42cfcbf2ffc2924856c2fb933cd",
    "neutral_native_american": "8affc8490fb2fac8ad72041cce775fc9442ebea95a64a7a2274825e1231ef265",
    "neutral_physical_disability": "30ae4d6774054136a635cd9097dd4fe530ec2f407932f775e8093afa795cff8e",
    "neutral_women": "dfad74fee637cd35415fc9b3a0b8d27d799e5613da5d9be0fdf93774fe813208",
}


def prompt_file(kind: str, group: str) -> DataFile:
    """``toxigen/prompts/<kind>_<group>_1k.txt`` (kind: hate or neutral)."""
    stem = f"{kind}_{group}"
    return DataFile(f"toxigen/prompts/{stem}_1k.txt", sha256=SHA256[stem], url=f"{REPOSITORY}/{stem}_1k.txt")


def statements(path: Path) -> list[str]:
    """The distinct statements of a prompt file, without their leading ``- ``."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        for part in line.split(SEPARATOR):
            text = part.strip()
            out.append(text[1:].strip() if text.startswith("-") else text)
    return unique(out)


class ToxiGen(ForgetSet):
    """ToxiGen prompt statements: 5 to 113 distinct statements per group, no annotated spans
    (use the ``lexicon`` or ``counterfactual`` selector)."""

    name: ClassVar[str] = "toxigen"
    presets: ClassVar[Mapping[str, PresetValues]] = FORGET_SET_PRESETS
    description: ClassVar[str] = "ToxiGen prompt statements, 16 groups (no spans: use selector lexicon or counterfactual)"
    files: ClassVar[tuple[DataFile, ...]] = tuple(prompt_file(k, g) for k in ("hate", "neutral") for g in GROUP_DOMAINS
                                                  if f"{k}_{g}" in SHA256)
    license: ClassVar[str] = "MIT"
    citation: ClassVar[str] = "Hartvigsen et al. 2022, ToxiGen: A Large-Scale Machine-Generated Dataset for Adversarial and Implicit Hate Speech Detection (ACL)"

    def domains(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(GROUP_DOMAINS.values()))

    def _statements(self, data: DataLocatorProto, domain: str, kind: str) -> list[tuple[str, str]]:
        groups = sorted(groups_of(domain, GROUP_DOMAINS, self.name, self.domains()))
        found = {}
        for group in (g for g in groups if f"{kind}_{g}" in SHA256):  # there is no neutral_trans file
            for text in statements(data.path(prompt_file(kind, group))):
                found.setdefault(text, group)
        return list(found.items())

    def load_forget(self, data: DataLocatorProto, domain: str, split: str | None = None) -> list[ForgetText]:
        check_split(split, self.name)
        found = self._statements(data, domain, "hate")
        if not found:
            raise DataError(f"toxigen, domain {domain!r}: its hate prompt files hold no statements")
        return [ForgetText(text=t, domain=domain, group=g, spans=None, source=self.name) for t, g in found]

    def load_retain(self, data: DataLocatorProto, domain: str) -> list[str]:
        """Neutral statements; empty for gender-identity (ToxiGen has no neutral_trans file)."""
        return [t for t, _ in self._statements(data, domain, "neutral")]
