"""Shared check of an embedded-model smoke run: not only exit code 0 but the rows it wrote."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from debiasbench.results.tables import read_table


def assert_smoke_run(results: Path, method: str, metric: str = "crows-pairs", limit: int | None = None,
                     steps: int | None = None, model: str = "smollm2-135m-q4") -> dict[str, Any]:
    """One ``run`` of ``method`` on ``model`` in ``results``: one runs row (its steps when given), the
    metric's rows before and after for the same domains and measures, finite values with their
    interval around them, CrowS-Pairs-style scores within 0-100, ``limit`` items a domain in the
    ``<metric>.score`` rows when given,
    and per-item rows that match the counts. Returns the runs row."""
    (run,) = read_table(results, "runs").to_pylist()
    assert (run["method"], run["model"], run["command"]) == (method, model, "run"), run
    assert run["stop_reason"] and run["steps"] >= 0 and run["duration_s"] > 0
    if steps is not None:
        assert run["steps"] == steps, (run["steps"], run["stop_reason"])
    json.loads(run["method_info"])  # the method's own report is valid JSON
    rows = [r for r in read_table(results, "metrics").to_pylist() if r["metric"] == metric]
    assert rows and {r["run_id"] for r in rows} == {run["run_id"]}
    keys = {stage: {(r["domain"], r["measure"]) for r in rows if r["stage"] == stage} for stage in ("before", "after")}
    assert keys["before"] and keys["before"] == keys["after"], keys  # paired: every figure before and after
    assert {r["stage"] for r in rows} == {"before", "after"}
    for row in rows:
        assert math.isfinite(row["value"]) and row["n"] > 0, row
        if row["ci_low"] is not None:
            assert row["ci_low"] <= row["value"] <= row["ci_high"], row
        if row["measure"].endswith(".score"):
            assert 0.0 <= row["value"] <= 100.0, row
        if limit is not None and row["domain"] != "all" and row["measure"] == f"{metric}.score":  # subsets (stereo ...) have fewer
            assert row["n"] == limit, row
    items = [i for i in read_table(results, "items").to_pylist() if i["measure"].startswith(metric)]
    for row in rows:
        if row["aggregate"] == "mean":  # the per-item rows the figure is the mean of
            mine = [i for i in items if (i["stage"], i["domain"], i["measure"]) == (row["stage"], row["domain"], row["measure"])]
            assert len(mine) == row["n"], (row, len(mine))
    return run
