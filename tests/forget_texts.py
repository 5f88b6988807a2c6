"""Forget and retain texts shared by the unlearning tests: twelve hateful sentences with one marked
harmful word each, and three neutral sentences about the same groups."""

from __future__ import annotations

from debiasbench.plugin_system.interfaces import ForgetText


def forget_texts() -> list[ForgetText]:
    out = []
    for group in ("women", "girls", "ladies"):
        for adjective in ("awful", "nasty", "vile", "evil"):
            text = f"The {group} are {adjective} people."
            start = text.index(adjective)
            out.append(ForgetText(text, "gender", group, ((start, start + len(adjective)),), "test"))
    return out


FORGET = forget_texts()
RETAIN = ["The women went to the park.", "Girls play football.", "Ladies and gentlemen, welcome."]
