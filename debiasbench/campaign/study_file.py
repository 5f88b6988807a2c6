"""The study file: its ``[study]`` table read and checked into a :class:`~.study_model.Study` (docs/study.md).

A study is a sweep grid plus control arms and the family of claims it tests (docs/statistics.md).

A study file is a sweep file (see :mod:`debiasbench.campaign.sweep`) with one more table::

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

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from debiasbench.campaign.study_arms import add_arms
from debiasbench.campaign.study_model import Family, PowerTargets, Study, method_label, study_error
from debiasbench.campaign.study_power import measure_spec
from debiasbench.campaign.sweep_file import Sweep, read_campaign_file, sweep_from_data
from debiasbench.domains import DOMAINS, check_domain
from debiasbench.statistics.crossed import resamples_for_family

if TYPE_CHECKING:  # pragma: no cover
    from debiasbench.plugin_system.loader import LoadedPlugins
    from debiasbench.plugin_system.registry import Registry
    from debiasbench.results.storage import ResultsLocation

__all__ = ["FAMILY_KEYS", "POWER_KEYS", "STUDY_KEYS", "load_study"]

STUDY_KEYS = ("name", "controls", "report_dir", "family", "resamples", "tradeoff_measure", "equivalence_margin", "seed_level",
              "power")
FAMILY_KEYS = ("name", "measures", "domains")
POWER_KEYS = ("pooled", "cell", "cell_min_items")


def _strings(value: Any, key: str, source: Path) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise study_error(source, f"{key} must be a list of names, e.g. {key} = [\"a\", \"b\"]")
    return list(dict.fromkeys(value))


def _family(table: Any, source: Path) -> Family:
    if not isinstance(table, dict):
        raise study_error(source, "[study.family] is missing: name the claims the study tests (name, measures)")
    unknown = sorted(set(table) - set(FAMILY_KEYS))
    if unknown:
        raise study_error(source, f"unknown key {unknown[0]!r} in [study.family]; allowed: {', '.join(FAMILY_KEYS)}")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise study_error(source, "[study.family] needs a name = \"...\" (reported beside every adjusted p)")
    measures = _strings(table.get("measures", []), "[study.family] measures", source)
    if not measures:
        raise study_error(source, "[study.family] is empty: measures = [...] must name at least one measure")
    domains = None
    if "domains" in table:
        domains = tuple(check_domain(d) for d in _strings(table["domains"], "[study.family] domains", source))
        if not domains:
            raise study_error(source, "[study.family] domains is an empty list; leave it out to use every evaluated domain")
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
                raise study_error(source, f"control {name!r} controls {m!r}, which is not a method of the grid "
                                   f"({', '.join(methods)}); a control needs the run it controls")
    return table


def load_study(source: Path, results_dir: ResultsLocation | None = None, plugins: LoadedPlugins | None = None,
               track: Sequence[str] = ()) -> Study:
    """Parse and check ``source``: grid (as a sweep), controls, family; derive the controls that need no
    result. ``track``: the command line's ``--track`` values, added to the file's ``track``."""
    from debiasbench.plugin_system.loader import get_plugins
    from debiasbench.results.storage import join, results_location

    source = Path(source)
    data = read_campaign_file(source, "study file")
    study_table = data.pop("study", None)
    if not isinstance(study_table, dict):
        raise study_error(source, "needs a [study] table (name, controls, [study.family]); a file without one is a sweep file")
    unknown = sorted(set(study_table) - set(STUDY_KEYS))
    if unknown:
        raise study_error(source, f"unknown key {unknown[0]!r} in [study]; allowed: {', '.join(STUDY_KEYS)}")
    plugins = plugins or get_plugins()
    sweep = sweep_from_data(data, source, results_dir, plugins, track)
    methods = [p.config for p in sweep.points if p.config.method]
    if not methods:
        raise study_error(source, "[grid] method lists no method; a study compares methods (\"none\" alone is an evaluation)")
    labels = list(dict.fromkeys(method_label(c) for c in methods))
    name = study_table.get("name", source.stem)
    if not isinstance(name, str) or not name:
        raise study_error(source, "[study] name must be a non-empty string")
    family = _family(study_table.get("family"), source)
    members = _family_members(family, sweep, labels)
    evaluated = {d for p in sweep.points for d in (p.config.eval_domains or [])}
    named_only = bool(evaluated and family.domains and not set(family.domains) <= evaluated)
    if members < 2 and not named_only:
        raise study_error(source, "[study.family] holds one claim (one method, source, domain and measure): a family of one adjusts "
                           "nothing; add measures or domains to it, or compare the run with `debiasbench compare`")
    needed = resamples_for_family(max(members, 1))
    resamples = study_table.get("resamples", needed)
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < needed:
        raise study_error(source, f"[study] resamples must be an integer of at least {needed} for a family of {members} claims "
                           f"(docs/statistics.md, 'Resamples'), got {resamples!r}; leave it out to use {needed}")
    margin = _margin(study_table.get("equivalence_margin"), family, plugins.registry, source)
    seed_level = study_table.get("seed_level")
    seeds = sorted({p.config.seed for p in sweep.points})
    if seed_level is not None and not isinstance(seed_level, bool):
        raise study_error(source, f"[study] seed_level must be true or false, got {seed_level!r}")
    if seed_level and len(seeds) < 2:
        raise study_error(source, f"[study] seed_level = true asks for intervals over seeds, but the grid has one seed ({seeds[0]}); "
                           "add seeds (seed = [0, 1, 2]) or set seed_level = false")
    report_dir = study_table.get("report_dir")
    if report_dir is not None and (not isinstance(report_dir, str) or not report_dir.strip()):
        raise study_error(source, f"[study] report_dir must be a folder or URI as a string, e.g. report_dir = \"reports/x\", got {report_dir!r}")
    study = Study(source=source, name=name, sweep=sweep, family=family,
                  controls=_controls(study_table.get("controls"), labels, plugins.registry, source),
                  report_dir=results_location(report_dir or join(sweep.points[0].config.results_dir, "report")),
                  resamples=resamples, tradeoff_measure=study_table.get("tradeoff_measure"), equivalence_margin=margin,
                  seed_level=seed_level, power=_power(study_table.get("power"), source))
    add_arms(study, plugins.registry)
    return study


def _power(table: Any, source: Path) -> PowerTargets | None:
    import math

    if table is None:
        return None
    if not isinstance(table, dict):
        raise study_error(source, "[study.power] must be a table: pooled = 5.0, cell = 10.0, cell_min_items = 400")
    unknown = sorted(set(table) - set(POWER_KEYS))
    if unknown:
        raise study_error(source, f"unknown key {unknown[0]!r} in [study.power]; allowed: {', '.join(POWER_KEYS)}")
    for key in ("pooled", "cell"):
        v = table.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0):
            raise study_error(source, f"[study.power] {key} must be a positive MDE in the family measures' units, got {v!r}")
    n = table.get("cell_min_items", 0)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise study_error(source, f"[study.power] cell_min_items must be a whole number of items (0 or more), got {n!r}")
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
        raise study_error(source, f"[study] equivalence_margin must be a positive number in the family measures' units "
                           f"(e.g. 2.0 points), got {value!r}")
    for measure in family.measures:
        spec = measure_spec(registry, measure)[1]
        bounds = getattr(spec, "range", None) if spec is not None else None
        if bounds is not None and value >= bounds[1] - bounds[0]:
            raise study_error(source, f"[study] equivalence_margin {value:g} is not smaller than the range of {measure} "
                               f"({bounds[0]:g} to {bounds[1]:g}): every change would be 'equivalent'")
    return float(value)
