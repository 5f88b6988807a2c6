"""What ``study`` checks before its grid is expanded or its report read: the grid's size, and the
damage in the results folder (the same checks as ``debiasbench check``), named with what is skipped."""

from __future__ import annotations

from pathlib import Path

from debiasbench.cli.common import warn
from debiasbench.results.storage import ResultsLocation


def check_study_size(file: Path, yes: bool) -> None:
    """Count the study's runs from its axes (method points times one plus its controls) and ask above the limit."""
    from debiasbench.campaign.grid_size import confirm_size, grid_size
    from debiasbench.campaign.sweep_file import read_campaign_file

    data = read_campaign_file(Path(file), "study file")
    study = data.get("study") if isinstance(data.get("study"), dict) else {}
    controls = study.get("controls") or []
    confirm_size(grid_size(data) * (1 + (len(controls) if isinstance(controls, (list, dict)) else 1)), yes, f"study {file}")


def say_damage(results_dir: ResultsLocation) -> int:
    """Warn, one line each, about every damage ``check`` finds, saying that those runs are left out; the count."""
    from debiasbench.results.check import check_results
    from debiasbench.results.storage import open_store
    from debiasbench.runtime.paths import shell_quote

    store = open_store(results_dir)
    if not store.exists():
        return 0
    damage = check_results(store).damage
    for line in damage:
        warn(f"damage: {line}; left out of the report")
    if damage:
        warn(f"{len(damage)} damage finding(s) in {store}: runs named above count as not run or incomplete; "
             f"`debiasbench check {shell_quote(store)}` lists them")
    return len(damage)
