"""Studies: a sweep grid plus control arms and the family of claims it tests (docs/study.md, docs/statistics.md).

A study file is a sweep file (see :mod:`debiasbench.orchestration.sweep`) with one more table::

    [study]
    name = "transfer-hatecheck"
    controls = ["random-tokens", "benign-ga"]   # or a table: control = [the methods it controls]
    report_dir = "reports/transfer-hatecheck"  # default: RESULTS/report

    tradeoff_measure = "perplexity.wikitext2"   # x axis of the trade-off plot (default: a headline cost)

    [study.family]                              # the claims whose p-values are adjusted together
    name = "HateCheck transfer, CrowS-Pairs"
    measures = ["crows-pairs.score"]            # measures as the metric rows name them
    domains = ["gender", "race", "religion"]   # evaluated domains (default: every one evaluated)

Every grid point is a *method arm*. Each control named for a method derives one run per method
point (same model, forget set, source domain and seed) through the installed
:class:`~debiasbench.plugin_system.interfaces.Control` plugins; a control that ``needs_result`` is
derived once its controlled run has finished, from that run's records. Running is resumable like a
sweep: a point whose configuration hash is already in ``RESULTS/runs`` is not run again, and the
derived controls are derived again identically from the stored records.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from debiasbench.analysis.crossed import resamples_for_family
from debiasbench.orchestration.study_power import measure_spec
from debiasbench.domains import DOMAINS, check_domain
from debiasbench.errors import DebiasbenchError
from debiasbench.orchestration.config import RunConfig, method_selector
from debiasbench.orchestration.sweep import Sweep, SweepPoint, _read, _typed_point, done_hashes, sweep_from_data

if TYPE_CHECKING:  # pragma: no cover
    from debiasbench.orchestration.executors.base import Executor
    from debiasbench.plugin_system.interfaces import Control, ControlledResult
    from debiasbench.plugin_system.loader import LoadedPlugins
    from debiasbench.plugin_system.registry import Registry
    from debiasbench.results.storage import ResultsLocation

STUDY_KEYS = ("name", "controls", "report_dir", "family", "resamples", "tradeoff_measure", "equivalence_margin", "seed_level",
              "power")
FAMILY_KEYS = ("name", "measures", "domains")
POWER_KEYS = ("pooled", "cell", "cell_min_items")


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
    return f"{control} ({method})"


# --------------------------------------------------------------------------- parsing


def _bad(source: Path, message: str) -> DebiasbenchError:
    return DebiasbenchError(f"study file {source}: {message}")


def _strings(value: Any, key: str, source: Path) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _bad(source, f"{key} must be a list of names, e.g. {key} = [\"a\", \"b\"]")
    return list(dict.fromkeys(value))


def _family(table: Any, source: Path) -> Family:
    if not isinstance(table, dict):
        raise _bad(source, "[study.family] is missing: name the claims the study tests (name, measures)")
    unknown = sorted(set(table) - set(FAMILY_KEYS))
    if unknown:
        raise _bad(source, f"unknown key {unknown[0]!r} in [study.family]; allowed: {', '.join(FAMILY_KEYS)}")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _bad(source, "[study.family] needs a name = \"...\" (reported beside every adjusted p)")
    measures = _strings(table.get("measures", []), "[study.family] measures", source)
    if not measures:
        raise _bad(source, "[study.family] is empty: measures = [...] must name at least one measure")
    domains = None
    if "domains" in table:
        domains = tuple(check_domain(d) for d in _strings(table["domains"], "[study.family] domains", source))
        if not domains:
            raise _bad(source, "[study.family] domains is an empty list; leave it out to use every evaluated domain")
    return Family(name.strip(), tuple(measures), domains)


def _controls(value: Any, methods: list[str], registry: Registry, source: Path) -> dict[str, list[str]]:
    """control -> the method labels it controls (a list: each control controls every method)."""
    if value is None:
        return {}
    table = {name: list(methods) for name in _strings(value, "controls", source)} if not isinstance(value, dict) else {
        name: _strings(v, f"[study.controls] {name}", source) for name, v in value.items()}
    for name, controlled in table.items():
        registry.control(name)  # unknown control: one line with the close names
        for m in controlled:
            if m not in methods:
                raise _bad(source, f"control {name!r} controls {m!r}, which is not a method of the grid "
                                   f"({', '.join(methods)}); a control needs the run it controls")
    return table


def load_study(source: Path, results_dir: ResultsLocation | None = None, plugins: LoadedPlugins | None = None) -> Study:
    """Parse and check ``source``: grid (as a sweep), controls, family; derive the controls that need no result."""
    from debiasbench.plugin_system.loader import get_plugins
    from debiasbench.results.storage import join, results_location

    source = Path(source)
    data = _read(source, "study file")
    study_table = data.pop("study", None)
    if not isinstance(study_table, dict):
        raise _bad(source, "needs a [study] table (name, controls, [study.family]); a file without one is a sweep file")
    unknown = sorted(set(study_table) - set(STUDY_KEYS))
    if unknown:
        raise _bad(source, f"unknown key {unknown[0]!r} in [study]; allowed: {', '.join(STUDY_KEYS)}")
    plugins = plugins or get_plugins()
    sweep = sweep_from_data(data, source, results_dir, plugins)
    methods = [p.config for p in sweep.points if p.config.method]
    if not methods:
        raise _bad(source, "[grid] method lists no method; a study compares methods (\"none\" alone is an evaluation)")
    labels = list(dict.fromkeys(method_label(c) for c in methods))
    name = study_table.get("name", source.stem)
    if not isinstance(name, str) or not name:
        raise _bad(source, "[study] name must be a non-empty string")
    family = _family(study_table.get("family"), source)
    members = _family_members(family, sweep, labels)
    evaluated = {d for p in sweep.points for d in (p.config.eval_domains or [])}
    named_only = bool(evaluated and family.domains and not set(family.domains) <= evaluated)
    if members < 2 and not named_only:
        raise _bad(source, "[study.family] holds one claim (one method, source, domain and measure): a family of one adjusts "
                           "nothing; add measures or domains to it, or compare the run with `debiasbench compare`")
    needed = resamples_for_family(max(members, 1))
    resamples = study_table.get("resamples", needed)
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < needed:
        raise _bad(source, f"[study] resamples must be an integer of at least {needed} for a family of {members} claims "
                           f"(docs/statistics.md, 'Resamples'), got {resamples!r}; leave it out to use {needed}")
    margin = _margin(study_table.get("equivalence_margin"), family, plugins.registry, source)
    seed_level = study_table.get("seed_level")
    seeds = sorted({p.config.seed for p in sweep.points})
    if seed_level is not None and not isinstance(seed_level, bool):
        raise _bad(source, f"[study] seed_level must be true or false, got {seed_level!r}")
    if seed_level and len(seeds) < 2:
        raise _bad(source, f"[study] seed_level = true asks for intervals over seeds, but the grid has one seed ({seeds[0]}); "
                           "add seeds (seed = [0, 1, 2]) or set seed_level = false")
    report_dir = study_table.get("report_dir")
    if report_dir is not None and (not isinstance(report_dir, str) or not report_dir.strip()):
        raise _bad(source, f"[study] report_dir must be a folder or URI as a string, e.g. report_dir = \"reports/x\", got {report_dir!r}")
    study = Study(source=source, name=name, sweep=sweep, family=family,
                  controls=_controls(study_table.get("controls"), labels, plugins.registry, source),
                  report_dir=results_location(report_dir or join(sweep.points[0].config.results_dir, "report")),
                  resamples=resamples, tradeoff_measure=study_table.get("tradeoff_measure"), equivalence_margin=margin,
                  seed_level=seed_level, power=_power(study_table.get("power"), source))
    _arms(study, plugins.registry)
    return study


def _power(table: Any, source: Path) -> PowerTargets | None:
    import math

    if table is None:
        return None
    if not isinstance(table, dict):
        raise _bad(source, "[study.power] must be a table: pooled = 5.0, cell = 10.0, cell_min_items = 400")
    unknown = sorted(set(table) - set(POWER_KEYS))
    if unknown:
        raise _bad(source, f"unknown key {unknown[0]!r} in [study.power]; allowed: {', '.join(POWER_KEYS)}")
    for key in ("pooled", "cell"):
        v = table.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0):
            raise _bad(source, f"[study.power] {key} must be a positive MDE in the family measures' units, got {v!r}")
    n = table.get("cell_min_items", 0)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise _bad(source, f"[study.power] cell_min_items must be a whole number of items (0 or more), got {n!r}")
    return PowerTargets(table.get("pooled"), table.get("cell"), n)


def _family_members(family: Family, sweep: Sweep, labels: list[str]) -> int:
    """How many claims the family tests: methods x source domains x family domains x measures."""
    sources = {p.config.domain for p in sweep.points if p.config.method}
    evaluated = {d for p in sweep.points for d in (p.config.eval_domains or [])}
    domains = family.domains
    if domains is None:
        domains = tuple(evaluated) if evaluated else tuple(DOMAINS)
    elif evaluated:
        domains = tuple(d for d in domains if d in evaluated)  # one never evaluated: the preflight names it
    return len(labels) * max(len(sources), 1) * len(domains) * len(family.measures)


def _margin(value: Any, family: Family, registry: Registry, source: Path) -> float | None:
    """The equivalence margin: a positive number smaller than every family measure's range."""
    import math

    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise _bad(source, f"[study] equivalence_margin must be a positive number in the family measures' units "
                           f"(e.g. 2.0 points), got {value!r}")
    for measure in family.measures:
        spec = measure_spec(registry, measure)[1]
        bounds = getattr(spec, "range", None) if spec is not None else None
        if bounds is not None and value >= bounds[1] - bounds[0]:
            raise _bad(source, f"[study] equivalence_margin {value:g} is not smaller than the range of {measure} "
                               f"({bounds[0]:g} to {bounds[1]:g}): every change would be 'equivalent'")
    return float(value)


# --------------------------------------------------------------------------- arms


def controlled_point(point: SweepPoint, registry: Registry) -> Any:
    """What a control sees of a method point."""
    from debiasbench.plugin_system.interfaces import ControlledPoint

    c = point.config
    method = registry.method(c.method)  # type: ignore[arg-type]
    selector = method_selector(method, dict(c.method_options), registry)
    return ControlledPoint(method=c.method, method_options=dict(c.method_options), selector=selector,  # type: ignore[arg-type]
                           selector_options=dict(c.selector_options), domain=c.domain or "", seed=c.seed)


def derive_point(control: Control, controlled: SweepPoint, result: ControlledResult | None, registry: Registry,
                 index: int) -> SweepPoint:
    """The control's run of ``controlled``: its method and options replaced, everything else kept."""
    arm = control.derive(controlled_point(controlled, registry), result)
    config = dataclasses.replace(controlled.config, method=arm.method, method_options=dict(arm.method_options),
                                 selector_options=dict(arm.selector_options))
    point = SweepPoint(index=index, config=config)
    try:
        point.config = _typed_point(config, registry)
    except DebiasbenchError as exc:
        raise type(exc)(f"control {control.name!r} of point {controlled.index} ({controlled.label()}): {exc}") from None
    return point


def _arms(study: Study, registry: Registry) -> None:
    """Method arms from the grid; control arms derived now, or left pending until their run is done."""
    index = len(study.sweep.points)
    for point in study.sweep.points:
        if not point.config.method:
            continue
        label = method_label(point.config)
        study.arms.append(Arm(label, label, None, point))
        for name, controlled in study.controls.items():
            if label not in controlled:
                continue
            control = registry.control(name)
            reason = control.applies(controlled_point(point, registry))
            if reason is not None:
                note = f"control {name} does not apply to {label}: {reason}"
                if note not in study.skipped:
                    study.skipped.append(note)
                continue
            derived = None
            if not control.needs_result:
                index += 1
                derived = derive_point(control, point, None, registry, index)
            study.arms.append(Arm(control_label(name, label), label, name, derived, controls=point))
    for name, controlled in study.controls.items():
        if not any(a.control == name for a in study.arms):
            raise _bad(study.source, f"control {name!r} has no run to control: "
                                     + "; ".join(s for s in study.skipped if s.startswith(f"control {name} ")))


# --------------------------------------------------------------------------- resume


def runs_by_hash(results_dir: ResultsLocation) -> dict[str, dict[str, Any]]:
    """config hash -> the latest complete run row with that hash (a folder or an object-store URI)."""
    from debiasbench.results.storage import open_store
    from debiasbench.results.tables import read_table

    store = open_store(results_dir)
    if not store.exists():
        return {}
    out: dict[str, dict[str, Any]] = {}
    for row in sorted(read_table(store, "runs").to_pylist(), key=lambda r: r["time"]):
        if row["config_hash"]:
            out[row["config_hash"]] = row
    return out


def controlled_result(results_dir: ResultsLocation, run: dict[str, Any]) -> Any:
    """The records a result-matched control is derived from."""
    from debiasbench.plugin_system.interfaces import ControlledResult
    from debiasbench.results.tables import read_table

    run_id = run["run_id"]
    trajectory = [r for r in read_table(results_dir, "trajectories").to_pylist() if r["run_id"] == run_id]
    metrics = [r for r in read_table(results_dir, "metrics").to_pylist() if r["run_id"] == run_id]
    return ControlledResult(run_id=run_id, run=run, trajectory=sorted(trajectory, key=lambda r: r["step"]), metrics=metrics)


def resolve_pending(study: Study, registry: Registry) -> int:
    """Derive the result-matched controls whose controlled run is done; returns how many are still pending."""
    done = runs_by_hash(study.results_dir)
    index = len(study.sweep.points) + sum(1 for a in study.arms if a.point is not None and a.control)
    pending = 0
    for arm in study.arms:
        if arm.point is not None or arm.controls is None:
            continue
        run = done.get(arm.controls.config_hash)
        if run is None:
            pending += 1
            continue
        index += 1
        result = controlled_result(study.results_dir, run)
        arm.point = derive_point(registry.control(arm.control), arm.controls, result, registry, index)  # type: ignore[arg-type]
    return pending


def mark_arms(study: Study) -> None:
    hashes = done_hashes(study.results_dir)
    for arm in study.arms:
        arm.done = arm.point is not None and arm.point.config_hash in hashes
        if arm.point is not None:
            arm.point.done = arm.done


def _plan(points: list[SweepPoint]) -> list[Any]:
    from debiasbench.orchestration.run import plan_run
    from debiasbench.plugin_system.loader import get_plugins

    plugins = get_plugins()
    plans = []
    for point in points:
        try:
            plans.append(plan_run(point.config, plugins))
        except DebiasbenchError as exc:
            raise type(exc)(f"study point {point.index} ({point.label()}): {exc}") from None
        point.config = plans[-1].config
    return plans


def plan_study(study: Study) -> list[Any]:
    """Plan every point that can be planned now (names, options, domains, results folder); the plans
    feed the preflight (:mod:`debiasbench.orchestration.study_preflight`)."""
    plans = _plan([a.point for a in study.arms if a.point is not None])
    for point in study.sweep.points:  # "none" evaluations of the grid
        if not point.config.method:
            plans += _plan([point])
    return plans


@dataclass
class StudyProgress:
    ran: list[str] = field(default_factory=list)
    failed: list[tuple[SweepPoint, str]] = field(default_factory=list)
    interrupted: bool = False
    retried: int = 0
    baselines_computed: int = 0
    baselines_recomputed: int = 0


def run_study(study: Study, registry: Registry, *, log: Callable[[str], None] | None = None,
              run_log: Callable[[str], None] | None = None, executor: Executor | None = None,
              retries: int = 2) -> StudyProgress:
    """Run what is not done: the grid and the controls derivable now, then the result-matched
    controls of the runs that finished. Failures are reported and the study goes on.

    The two phases hold under a parallel ``executor`` too: every run of the first phase has
    finished (its runs row written) before a result-matched control is derived from it."""
    from debiasbench.orchestration.sweep import run_sweep

    progress = StudyProgress()
    warmed: set[str] = set()  # baselines warmed in phase 0 are not warmed again in phase 1
    for phase in range(2):
        if phase == 1:
            resolve_pending(study, registry)
        mark_arms(study)
        points = [p for p in study.sweep.points if not p.config.method]  # plain evaluations of the grid
        points += [a.point for a in study.arms if a.point is not None]
        done, todo = done_hashes(study.results_dir), []
        for p in points:
            if p.config_hash not in done:
                done.add(p.config_hash)  # a point listed twice runs once
                todo.append(p)
        if not todo:
            continue
        plans = _plan(todo)
        report = run_sweep(Sweep(source=study.source, points=todo), plans, log=log, run_log=run_log, executor=executor,
                           retries=retries, warmed=warmed)
        progress.ran += report.ran
        progress.failed += report.failed
        progress.retried += report.retried
        progress.baselines_computed += report.baselines_computed
        progress.baselines_recomputed += report.baselines_recomputed
        if report.interrupted:
            progress.interrupted = True
            break
    mark_arms(study)
    return progress


def describe(study: Study) -> dict[str, Any]:
    """The study as JSON-able data (written beside the report)."""
    return {"name": study.name, "source": str(study.source), "family": dataclasses.asdict(study.family),
            "controls": study.controls, "skipped": study.skipped,
            "arms": [{"label": a.label, "method": a.method_label, "control": a.control,
                      "config_hash": a.point.config_hash if a.point else None,
                      "domain": (a.point or a.controls).config.domain if (a.point or a.controls) else None,  # type: ignore[union-attr]
                      "seed": (a.point or a.controls).config.seed if (a.point or a.controls) else None}  # type: ignore[union-attr]
                     for a in study.arms]}


def dumps(study: Study) -> str:
    return json.dumps(describe(study), indent=2, sort_keys=True, default=str)
