"""Controls: a study's control arm, a run derived from each run it controls."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from debiasbench.plugin_system.interfaces.common import Named
from debiasbench.plugin_system.interfaces.methods import RunFacts


@dataclass(frozen=True)
class ControlledPoint:
    """A study's run that a control is derived from (before it runs)."""

    method: str
    method_options: Mapping[str, Any]  # the options the study gave it (not the defaults)
    selector: str | None  # its resolved span selector; None for methods that take none
    selector_options: Mapping[str, Any]
    domain: str
    seed: int


@dataclass(frozen=True)
class ControlledResult:
    """What the controlled run recorded, for controls that are matched to its outcome."""

    run_id: str
    run: Mapping[str, Any]  # its runs row (steps, stop_reason, config ...)
    trajectory: Sequence[Mapping[str, Any]]  # its trajectory rows (``--eval-every``)
    metrics: Sequence[Mapping[str, Any]]  # its metric rows, before and after


@dataclass(frozen=True)
class ControlArm:
    """The control run, as what replaces the controlled run's method and options (same model,
    forget set, source domain, seed and evaluation)."""

    method: str
    method_options: Mapping[str, Any]
    selector_options: Mapping[str, Any] = field(default_factory=dict)


class Control(Named, ABC):
    """A control arm of a study (docs/statistics.md, "The controls"): a run derived from each run it controls, so a
    method's effect can be compared with what the same amount of generic change does.

    ``needs_result``: the control is derived from the controlled run's records (e.g. stopped at
    its perplexity increase), so the study runs it after that run."""

    needs_result: ClassVar[bool] = False

    def applies(self, point: ControlledPoint) -> str | None:
        """None when this control can be derived from ``point``; else why not (shown in the study)."""
        return None

    def check_run(self, facts: RunFacts) -> str | None:
        """None when a controlled run with these settings gives this control what it needs; else
        what the study file must change. The study's preflight asks this of every controlled run
        before any run starts, so a study never runs for hours to fail at its controls."""
        return None

    @abstractmethod
    def derive(self, point: ControlledPoint, result: ControlledResult | None) -> ControlArm:
        """The control run of ``point`` (``result`` is given when ``needs_result``)."""

    def matched(self, controlled: ControlledResult, control: ControlledResult) -> str | None:
        """None when the finished control run matches the run it controls as the control promises
        (e.g. the same perplexity increase within a tolerance); else why not, in one line. The
        study report shows an unmatched control's contrast with this reason and does not test it."""
        return None
