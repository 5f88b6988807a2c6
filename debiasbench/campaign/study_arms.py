"""The arms of a study: control runs derived from the method points they control, now or, for a
control that needs a result, once that run is done (resumable: derived again identically from the
stored records), and which arms are done (docs/study.md).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from debiasbench.campaign.study_model import Arm, Study, control_label, method_label, study_error
from debiasbench.campaign.sweep import done_hashes
from debiasbench.campaign.sweep_file import SweepPoint, typed_point
from debiasbench.errors import DebiasbenchError
from debiasbench.run.config import method_selector

if TYPE_CHECKING:  # pragma: no cover
    from debiasbench.plugin_system.interfaces import Control, ControlledResult
    from debiasbench.plugin_system.registry import Registry
    from debiasbench.results.storage import ResultsLocation

__all__ = ["add_arms", "controlled_point", "controlled_result", "derive_point", "mark_arms", "resolve_pending", "runs_by_hash"]


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
        point.config = typed_point(config, registry)
    except DebiasbenchError as exc:
        raise type(exc)(f"control {control.name!r} of point {controlled.index} ({controlled.label()}): {exc}") from None
    return point


def add_arms(study: Study, registry: Registry) -> None:
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
            raise study_error(study.source, f"control {name!r} has no run to control: "
                                     + "; ".join(s for s in study.skipped if s.startswith(f"control {name} ")))


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
    """Mark each arm (and its point) done when its configuration hash is among the finished runs."""
    hashes = done_hashes(study.results_dir)
    for arm in study.arms:
        arm.done = arm.point is not None and arm.point.config_hash in hashes
        if arm.point is not None:
            arm.point.done = arm.done
