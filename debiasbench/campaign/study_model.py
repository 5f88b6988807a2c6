"""The parsed study as data: its family of claims, power targets, arms and the :class:`Study` itself.

Kept apart from the parsing (:mod:`.study_file`), the deriving of control arms (:mod:`.study_arms`)
and the running (:mod:`.study`), which all read these records (docs/study.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from debiasbench.campaign.sweep_file import Sweep, SweepPoint
from debiasbench.errors import DebiasbenchError
from debiasbench.run.config import RunConfig

if TYPE_CHECKING:  # pragma: no cover
    from debiasbench.results.storage import ResultsLocation

__all__ = ["Arm", "Family", "PowerTargets", "Study", "control_label", "method_label", "study_error"]


@dataclass(frozen=True)
class PowerTargets:
    """``[study.power]``: the MDEs (80 % power, two-sided 0.05, vs a control) the design must reach
    before it runs; the preflight refuses a grid whose item counts cannot (docs/study.md)."""

    pooled: float | None = None  # the pooled cross-domain contrast
    cell: float | None = None  # every family cell with at least ``cell_min_items`` test items
    cell_min_items: int = 0


@dataclass(frozen=True)
class Family:
    """The claims tested together: every (method, source, evaluated domain, measure) change in
    distance to the ideal, and every difference from a control, over these measures and domains."""

    name: str
    measures: tuple[str, ...]
    domains: tuple[str, ...] | None  # None: every evaluated domain


@dataclass
class Arm:
    """One run of the study: a method point, or a control of one."""

    label: str  # the method label, or "<control> (<method label>)"
    method_label: str  # the method arm this belongs to
    control: str | None  # the control's name; None for a method arm
    point: SweepPoint | None  # None while a result-matched control waits for its controlled run
    controls: SweepPoint | None = None  # the controlled method point (controls only)
    done: bool = False

    @property
    def config(self) -> RunConfig | None:
        return self.point.config if self.point else None


@dataclass
class Study:
    """The parsed study: its grid, controls, family and where it writes."""

    source: Path
    name: str
    sweep: Sweep
    controls: dict[str, list[str]]  # control -> the method labels it controls
    family: Family
    report_dir: ResultsLocation  # a folder, or a URI: the report is then uploaded there
    resamples: int = 1000
    tradeoff_measure: str | None = None  # the trade-off plot's x axis (default: a headline cost such as perplexity)
    equivalence_margin: float | None = None  # in the family measures' units: "equivalent" needs TOST within +-margin
    seed_level: bool | None = None  # True: intervals cover seed-to-seed variation (needs 2+ seeds); False: conditional on the seeds
    power: PowerTargets | None = None  # MDE targets checked before any run
    arms: list[Arm] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "control X does not apply to Y: why"

    @property
    def results_dir(self) -> ResultsLocation:
        return self.sweep.points[0].config.results_dir


def method_label(config: RunConfig) -> str:
    """The method with the options that tell its grid points apart (``npo beta=0.2``)."""
    options = " ".join(f"{k}={v}" for k, v in sorted(config.method_options.items()))
    return f"{config.method} {options}".strip() if config.method else "none"


def control_label(control: str, method: str) -> str:
    """The label of a control arm: ``<control> (<method label>)``."""
    return f"{control} ({method})"


def study_error(source: Path, message: str) -> DebiasbenchError:
    """The one-line error of a bad study file, naming the file."""
    return DebiasbenchError(f"study file {source}: {message}")
