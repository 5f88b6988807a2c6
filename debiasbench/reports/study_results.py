"""What a study report holds: its cells, contrasts, claims and pooled claims (docs/statistics.md).

Plain records, filled by :func:`~debiasbench.reports.study_report.collect` and read by the renderers
(tables, plots, the answer), so that neither side imports the other's code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ArmRun", "PooledClaim", "StudyCell", "StudyClaim", "StudyContrast", "StudyResults"]


@dataclass
class StudyCell:
    """One arm x source x evaluated domain x measure, over its seeds."""

    arm: str
    method: str  # the method arm it belongs to
    control: str | None
    source: str
    domain: str
    measure: str
    seeds: tuple[int, ...]
    n: int  # test items per run
    before: float
    after: float
    delta: float
    delta_ci: tuple[float, float]
    d_delta: float
    d_delta_ci: tuple[float, float]
    p: float  # p of the change (delta and d_delta are one linear quantity): McNemar or crossed t
    per_seed_d_delta: tuple[float, ...]
    delta_p: float = float("nan")  # the same test as p (kept for the change tables)
    in_family: bool = False
    p_holm: float | None = None
    q_bh: float | None = None
    test: str = "t"
    crossed: bool = False
    past: float = 0.0
    past_p: float = float("nan")
    mde: float = float("nan")  # smallest |d_delta| detected with 80 % power at two-sided 0.05
    p_floor: float = 0.0  # the smallest p the cell's test could give (McNemar: 2 * 0.5**discordant)
    change: Any = field(default=None, repr=False, compare=False)  # the statistics.Change (pooled claims)
    survival: Any = None  # survival.Survival: the share of the change left after --relearn-steps (every seed relearned)


@dataclass
class StudyContrast:
    """A method's ``d_delta`` minus its control's (difference in differences), seeds paired."""

    method: str
    control: str
    source: str
    domain: str
    measure: str
    seeds: tuple[int, ...]
    method_d_delta: float
    control_d_delta: float
    effect: float
    effect_ci: tuple[float, float]
    p: float  # two-sided
    per_seed_effect: tuple[float, ...]
    in_family: bool = False
    p_holm: float | None = None
    q_bh: float | None = None
    p_better: float = float("nan")  # one-sided: the method moved closer than the control
    mde: float = float("nan")
    equivalent: bool = False  # TOST within the study's margin
    not_tested: str = ""  # why the contrast is shown but not tested (an unmatched control)
    contrast: Any = field(default=None, repr=False, compare=False)  # the statistics.Contrast (pooled claims)


@dataclass
class StudyClaim:
    """One tested claim of a method cell: it beats every control (or, without controls, it changed)."""

    method: str
    source: str
    domain: str
    measure: str
    family: str  # "same-domain" | "cross-domain"
    controls: tuple[str, ...]
    estimate: float  # the method's d_delta minus the strongest control's (or its own d_delta)
    interval: tuple[float, float]
    p: float  # intersection-union p (one-sided) or the change's two-sided p
    mde: float
    p_holm: float | None = None
    q_bh: float | None = None
    verdict: str = "inconclusive"  # closer | farther | equivalent | inconclusive
    not_tested: str = ""  # why no test (e.g. a control without results)


@dataclass
class PooledClaim:
    """The headline transfer claim of a method: its cross-domain cells (evaluated domain other than
    the source, every family measure) pooled, beyond each control; it holds when it holds against
    every control (intersection-union)."""

    method: str
    cells: int
    controls: tuple[str, ...]
    estimate: float  # mean distance difference beyond the strongest control (negative = the method ends closer)
    interval: tuple[float, float]
    p: float  # intersection-union one-sided p (or the two-sided p of the change without controls)
    mde: float
    per_control: dict[str, tuple[float, tuple[float, float], float]] = field(default_factory=dict)  # control -> estimate, CI, p
    p_holm: float | None = None
    verdict: str = "inconclusive"
    not_tested: str = ""


@dataclass
class ArmRun:
    """One finished run of an arm."""

    arm: str
    method: str
    control: str | None
    source: str
    seed: int
    run_id: str
    run: dict[str, Any]


@dataclass
class StudyResults:
    family: str
    cells: list[StudyCell] = field(default_factory=list)
    contrasts: list[StudyContrast] = field(default_factory=list)
    claims: list[StudyClaim] = field(default_factory=list)
    pooled: list[PooledClaim] = field(default_factory=list)
    matching: list[dict[str, Any]] = field(default_factory=list)  # per control run: matched or why not, the cost of both arms
    cost: str | None = None  # the cost measure (cost_measure: perplexity unless the study names another)
    costs: dict[str, tuple[float, float]] = field(default_factory=dict)  # run -> the cost measure before, after (the damage axis)
    damage: dict[str, str] = field(default_factory=dict)  # run -> its damage line (docs/damage.md); absent: undamaged
    families: dict[str, int] = field(default_factory=dict)  # family name -> members
    runs: list[ArmRun] = field(default_factory=list)
    measures: dict[str, tuple[float | None, str, str]] = field(default_factory=dict)  # measure -> ideal, better, aggregate
    trajectories: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # arms x source x seed not run yet
    notes: list[str] = field(default_factory=list)
