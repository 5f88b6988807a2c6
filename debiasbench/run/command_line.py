"""The ``debiasbench run`` command line that reproduces a recorded configuration.

Read from the run schema (:mod:`debiasbench.run.config`), so a new setting appears here without
an edit: every setting that changes the figures (hashed) and differs from its default, with the
flag the CLI gives it. A saved model's card prints it under "Reproduce".
"""

from __future__ import annotations

from typing import Any

from debiasbench.run.config import RUN, schema
from debiasbench.runtime.paths import shell_quote


def run_command_line(config: dict[str, Any]) -> str:
    """``config`` (``RunConfig.to_json()``, as the runs table stores it) as one pasteable command."""
    words = ["debiasbench", "run"]
    for field in schema():
        setting = field.setting
        if RUN not in setting.commands or not setting.hashed:
            continue
        value = config.get(field.name, field.default)
        if value is None or value == field.default or value in ({}, []):
            continue
        flag = (setting.flags or (f"--{field.name.replace('_', '-')}",))[0]
        if setting.cli == "csv":
            words += [flag, ",".join(str(v) for v in value)]
        elif setting.cli == "pairs":
            for key, item in value.items():
                words += [flag, f"{key}={item}"]
        elif setting.cli == "owner-pairs":
            for owner, options in value.items():
                words += [w for key, item in options.items() for w in (flag, f"{owner}.{key}={item}")]
        elif isinstance(value, bool):  # a flag: present when true ("negated" settings are never hashed)
            words += [flag] if value else []
        else:
            words += [flag, str(value)]
    return " ".join(shell_quote(w) for w in words)
