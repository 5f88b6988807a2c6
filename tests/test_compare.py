"""``debiasbench compare`` on synthetic result tables whose numbers are known exactly."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from debiasbench.reports.compare import compare
from debiasbench.reports.compare_rows import Filters
from debiasbench.statistics.distance import distance
from debiasbench.cli import app
from debiasbench.errors import DebiasbenchError
from debiasbench.plugin_system.interfaces import MeasureSpec, Metric
from debiasbench.results.schemas import METRICS_SCHEMA, RUNS_SCHEMA
from debiasbench.results.tables import to_table
from debiasbench.runtime.atomic import write_table_atomic
from debiasbench.runtime.hashing import dumps

runner = CliRunner()

# measure -> (metric, ideal, better)
MEASURES = {
    "crows-pairs.score": ("crows-pairs", 50.0, "closer"),
    "crows-pairs.stereo": ("crows-pairs", 50.0, "closer"),
    "stereoset.icat": ("stereoset", 100.0, "higher"),
    "perplexity": ("perplexity", None, "lower"),
}


def write_run(results: Path, run_id: str, values: dict[tuple[str, str], tuple[float, float | None]], *, method: str = "mlm-unlearn",
              source: str = "gender", seed: int = 0, model: str = "tiny", protocol: dict[str, Any] | None = None,
              options: dict[str, Any] | None = None, runs_row: bool = True, config_hash: str | None = None,
              when: dt.datetime | None = None) -> None:
    """One run: ``values[(measure, domain)] = (before, after)``; ``after`` None for a plain evaluation."""
    rows = []
    for (measure, domain), (before, after) in values.items():
        metric, ideal, better = MEASURES[measure]
        for stage, value in (("before", before), ("after", after)):
            if value is None:
                continue
            rows.append({
                "run_id": run_id, "time": when or dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), "model": model, "method": method,
                "forget_set": "hatecheck" if method != "none" else "none", "source_domain": source, "domain": domain,
                "metric": metric, "measure": measure, "value": value, "n": 100, "ci_low": value - 1, "ci_high": value + 1,
                "stage": stage, "seed": seed, "protocol": dumps(protocol or {"scoring": "mean"}), "data_checksum": dumps({"f": "1"}),
                "ideal": ideal, "better": better, "headline": measure == "crows-pairs.score" or None, "plugin_version": "debiasbench-metrics 0.1.0", "preset": "quick",
                "method_options": dumps(options or {}), "config_hash": config_hash or f"hash-{run_id}",
            })
    write_table_atomic(to_table(rows, METRICS_SCHEMA), results / "metrics" / f"{run_id}.parquet")
    if runs_row:
        run = {"run_id": run_id, "method": method, "source_domain": source, "seed": seed, "config_hash": config_hash or f"hash-{run_id}"}
        write_table_atomic(to_table([run], RUNS_SCHEMA), results / "runs" / f"{run_id}.parquet")


class DeclaredCrows(Metric):
    """Declares its measures like the real plugin (headline first); compare never evaluates it."""

    name = "crows-pairs"
    measures = (MeasureSpec("crows-pairs.score", 50.0, "closer"), MeasureSpec("crows-pairs.stereo", 50.0, "closer"))

    def evaluate(self, model: Any, ctx: Any, options: Any) -> Any:
        raise AssertionError("compare reads tables; it never evaluates")


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry where only crows-pairs is installed: the other metrics' plugins are 'missing'."""
    import types

    import debiasbench.plugin_system.loader
    from debiasbench import hookimpl

    module = types.SimpleNamespace(register_metrics=hookimpl(lambda register: register(DeclaredCrows())))
    monkeypatch.setattr(debiasbench.plugin_system.loader, "_CACHED", debiasbench.plugin_system.loader.load_plugins(extra={"declared": module}, entry_points=[]))


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    folder = tmp_path / "results"
    # two seeds of the same configuration: after values 54 and 56 on gender, 57 and 59 on race
    write_run(folder, "s0", {("crows-pairs.score", "gender"): (60.0, 54.0), ("crows-pairs.score", "race"): (60.0, 57.0),
                             ("stereoset.icat", "gender"): (70.0, 72.0), ("perplexity", "all"): (20.0, 23.0),
                             ("crows-pairs.stereo", "gender"): (61.0, 55.0)}, seed=0)
    write_run(folder, "s1", {("crows-pairs.score", "gender"): (58.0, 56.0), ("crows-pairs.score", "race"): (60.0, 59.0),
                             ("stereoset.icat", "gender"): (70.0, 74.0), ("perplexity", "all"): (20.0, 21.0),
                             ("crows-pairs.stereo", "gender"): (61.0, 57.0)}, seed=1)
    # below the ideal: 48 -> 44 moves away from 50 although the value fell
    write_run(folder, "r0", {("crows-pairs.score", "gender"): (48.0, 44.0), ("crows-pairs.score", "race"): (52.0, 50.0)},
              source="race", method="token-ga")
    write_run(folder, "e0", {("crows-pairs.score", "gender"): (59.0, None), ("crows-pairs.score", "race"): (61.0, None)},
              method="none", source="none")
    return folder


def _cell(comparison: Any, method: str, source: str, measure: str, domain: str) -> Any:
    for (key, column), cell in comparison.cells.items():
        if (key.method, key.source_domain, column.measure, column.domain) == (method, source, measure, domain):
            return cell
    raise AssertionError(f"no cell {method} {source} {measure} {domain}")


def test_distance_follows_the_rows_direction() -> None:
    assert distance(44.0, 50.0, "closer") == 6.0
    assert distance(72.0, 100.0, "higher") == 28.0
    assert distance(23.0, None, "lower") == 23.0
    assert distance(-1.5, None, "higher") == 1.5


def test_seeds_aggregate_as_mean_sd_and_count(results: Path) -> None:
    comparison = compare(results, Filters(all_measures=True))
    cell = _cell(comparison, "mlm-unlearn", "gender", "crows-pairs.score", "gender")
    assert cell.value.mean == 55.0 and cell.value.n == 2 and cell.value.sd == pytest.approx(math.sqrt(2))
    assert cell.change.mean == pytest.approx(-4.0)  # (54-60 + 56-58) / 2: each run against its own before
    assert cell.distance_change.mean == pytest.approx(-4.0)
    assert cell.seeds == (0, 1) and (cell.ci_low, cell.ci_high) == (54.0, 56.0)
    icat = _cell(comparison, "mlm-unlearn", "gender", "stereoset.icat", "gender")
    assert icat.change.mean == 3.0 and icat.distance_change.mean == -3.0  # higher is better: closer to 100
    ppl = _cell(comparison, "mlm-unlearn", "gender", "perplexity", "all")
    assert ppl.distance_change.mean == 2.0  # lower is better: perplexity rose


def test_distance_change_uses_the_ideal_not_the_sign(results: Path) -> None:
    comparison = compare(results)
    cell = _cell(comparison, "token-ga", "race", "crows-pairs.score", "gender")
    assert cell.change.mean == -4.0 and cell.distance_change.mean == 4.0  # 48 -> 44 is further from 50
    assert _cell(comparison, "token-ga", "race", "crows-pairs.score", "race").distance_change.mean == -2.0


def test_plain_evaluations_are_baseline_rows(results: Path) -> None:
    comparison = compare(results)
    baseline = _cell(comparison, "none", "none", "crows-pairs.score", "gender")
    assert baseline.value.mean == 59.0 and baseline.change is None
    assert comparison.rows[0].is_baseline


def test_default_selection_is_headline_measures(results: Path) -> None:
    default = compare(results).measure_names()
    assert "crows-pairs.score" in default and "crows-pairs.stereo" not in default  # the rows flag the score headline
    assert {"stereoset.icat", "perplexity"} <= set(default)  # rows without a flag (archived): every measure they wrote
    assert "crows-pairs.stereo" in compare(results, Filters(all_measures=True)).measure_names()
    assert compare(results, Filters(metrics=["crows-pairs.stereo"])).measure_names() == ["crows-pairs.stereo"]


def test_headline_comes_from_the_rows_not_the_installed_plugins(results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import debiasbench.plugin_system.loader

    monkeypatch.setattr(debiasbench.plugin_system.loader, "_CACHED", debiasbench.plugin_system.loader.load_plugins(entry_points=[]))
    assert "crows-pairs.stereo" not in compare(results).measure_names()  # no plugin installed at all: same table


def test_filters(results: Path) -> None:
    comparison = compare(results, Filters(methods=["token-ga"], domains=["race"]))
    assert {(k.method, c.domain) for k, c in comparison.cells} == {("token-ga", "race")}
    with pytest.raises(DebiasbenchError, match="did you mean 'token-ga'"):
        compare(results, Filters(methods=["token-gaa"]))
    with pytest.raises(DebiasbenchError, match="--source-domain 'relig' matches no row"):
        compare(results, Filters(source_domains=["relig"]))


def test_runs_of_one_cell_under_different_protocols_are_not_pooled_unless_asked(tmp_path: Path) -> None:
    values = {("crows-pairs.score", "gender"): (60.0, 55.0)}
    write_run(tmp_path, "a", values, protocol={"scoring": "mean", "limit": 40})
    write_run(tmp_path, "b", values, protocol={"scoring": "sum", "limit": 40}, seed=1)
    with pytest.raises(DebiasbenchError, match=r"not pooling runs measured differently: mlm-unlearn .*crows-pairs.score / gender: "
                                               r"its 2 runs differ in protocol \(scoring: mean \| sum\).*--pool-protocols"):
        compare(tmp_path)
    pooled, consistency = compare(tmp_path, pool_protocols=True).warnings
    assert pooled.startswith("pooled although measured differently") and "scoring: mean | sum" in pooled
    assert "crows-pairs.score" in consistency and "protocol" in consistency and "limit" not in consistency


def test_protocols_differing_across_cells_warn_without_refusing(tmp_path: Path) -> None:
    values = {("crows-pairs.score", "gender"): (60.0, 55.0)}
    write_run(tmp_path, "a", values, protocol={"scoring": "mean"})
    write_run(tmp_path, "b", values, protocol={"scoring": "sum"}, method="token-ga")
    (warning,) = compare(tmp_path).warnings
    assert "crows-pairs.score" in warning and "scoring: mean | sum" in warning


def test_batch_size_is_not_a_protocol_difference(tmp_path: Path) -> None:
    values = {("crows-pairs.score", "gender"): (60.0, 55.0)}
    write_run(tmp_path, "a", values, protocol={"scoring": "mean", "options": {"batch_size": 64}})
    write_run(tmp_path, "b", values, protocol={"scoring": "mean", "options": {"batch_size": "auto"}}, seed=1)
    assert compare(tmp_path).warnings == []


def test_runs_differing_only_in_seed_do_not_warn(tmp_path: Path) -> None:
    values = {("crows-pairs.score", "gender"): (60.0, 55.0)}
    write_run(tmp_path, "a", values, protocol={"scoring": "mean", "seed": 0})
    write_run(tmp_path, "b", values, protocol={"scoring": "mean", "seed": 1}, seed=1)
    assert compare(tmp_path).warnings == []


def test_incomplete_runs_are_left_out(tmp_path: Path) -> None:
    values = {("crows-pairs.score", "gender"): (60.0, 55.0)}
    write_run(tmp_path, "done", values)
    write_run(tmp_path, "killed", {("crows-pairs.score", "gender"): (60.0, 10.0)}, runs_row=False)
    comparison = compare(tmp_path)
    assert _cell(comparison, "mlm-unlearn", "gender", "crows-pairs.score", "gender").value.n == 1
    assert any("killed" in w for w in comparison.warnings)


def test_empty_or_missing_results_dir_is_one_line(tmp_path: Path) -> None:
    for folder in (tmp_path / "missing", tmp_path):
        result = runner.invoke(app, ["compare", str(folder)])
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1 and "error:" in result.stderr and "Traceback" not in result.output


def test_every_format_parses(results: Path, tmp_path: Path) -> None:
    outputs = {}
    for fmt in ("table", "markdown", "csv", "json", "latex"):
        target = tmp_path / f"out.{fmt}"
        result = runner.invoke(app, ["compare", str(results), "--format", fmt, "--output", str(target)])
        assert result.exit_code == 0, result.output
        outputs[fmt] = target.read_text()
    payload = json.loads(outputs["json"])
    record = next(c for c in payload["cells"] if (c["method"], c["source_domain"], c["domain"], c["measure"])
                  == ("mlm-unlearn", "gender", "gender", "crows-pairs.score"))
    assert record["value"] == 55.0 and record["runs"] == 2 and record["distance_change"] == -4.0
    rows = list(csv.DictReader(io.StringIO(outputs["csv"])))
    assert {r["measure"] for r in rows} == {"crows-pairs.score", "stereoset.icat", "perplexity"}
    assert len(rows) == len(payload["cells"])
    assert "| method | source | runs | gender | race |" in outputs["markdown"] and "### perplexity" in outputs["markdown"]
    assert outputs["latex"].count("\\begin{tabular}") == 3 and outputs["latex"].count("\\end{tabular}") == 3
    assert "mlm-unlearn" in outputs["table"] and "55.00 ± 1.41" in outputs["table"]


def test_stdout_formats_and_warnings_go_to_stderr(tmp_path: Path) -> None:
    values = {("crows-pairs.score", "gender"): (60.0, 55.0)}
    write_run(tmp_path, "a", values)
    write_run(tmp_path, "b", values, seed=1, protocol={"scoring": "sum"})
    refused = runner.invoke(app, ["compare", str(tmp_path), "--format", "json"])
    assert refused.exit_code == 1 and refused.stdout == "" and "not pooling runs measured differently" in refused.stderr
    result = runner.invoke(app, ["compare", str(tmp_path), "--format", "json", "--pool-protocols"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["cells"][0]["runs"] == 2  # stdout is pure JSON
    assert result.stderr.count("warning:") == 2 and "pooled although measured differently" in result.stderr


def test_unknown_format_is_rejected(results: Path) -> None:
    result = runner.invoke(app, ["compare", str(results), "--format", "markdwn"])
    assert result.exit_code == 2 and "did you mean 'markdown'" in result.stderr


def test_plot_writes_a_png(results: Path, tmp_path: Path) -> None:
    target = tmp_path / "fig" / "transfer.png"
    result = runner.invoke(app, ["compare", str(results), "--plot", str(target), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]


def test_plot_needs_unlearning_runs(results: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["compare", str(results), "--method", "none", "--plot", str(tmp_path / "x.png")])
    assert result.exit_code == 1 and "needs unlearning runs" in result.stderr


def test_compare_one_run_file(results: Path) -> None:
    one = next((results / "metrics").glob("r0*.parquet"))
    result = runner.invoke(app, ["compare", str(one), "-f", "csv"])
    assert result.exit_code == 0, result.output
    assert "token-ga" in result.stdout and "mlm-unlearn" not in result.stdout  # that run alone
    stray = results.parent / "notes.txt"
    stray.write_text("x")
    bad = runner.invoke(app, ["compare", str(stray)])
    assert bad.exit_code == 1 and "is a file, not a results folder" in bad.stderr


def test_output_under_a_file_is_one_line(results: Path, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    result = runner.invoke(app, ["compare", str(results), "-f", "csv", "-O", str(tmp_path / "afile" / "x.csv")])
    assert result.exit_code == 1 and "cannot write --output" in result.stderr and "Traceback" not in result.output


def test_repeats_of_one_configuration_and_seed_are_one_run_not_three_seeds(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    for i, after in enumerate((50.0, 52.0, 58.0)):  # the same configuration and seed three times
        write_run(folder, f"d{i}", {("crows-pairs.score", "gender"): (60.0, after)}, config_hash="same",
                  when=dt.datetime(2024, 1, 1 + i, tzinfo=dt.timezone.utc))
    comparison = compare(folder)
    cell = _cell(comparison, "mlm-unlearn", "gender", "crows-pairs.score", "gender")
    assert cell.value.n == 1 and cell.value.mean == 58.0  # the newest
    (warning,) = [w for w in comparison.warnings if "repeat" in w]
    assert "2 run(s)" in warning and "d0" in warning and "d1" in warning


def test_damaged_files_are_named_and_strict_fails(results: Path) -> None:
    (results / "metrics" / "zero.parquet").write_bytes(b"")
    (results / "metrics" / "trunc.parquet").write_bytes((next((results / "metrics").glob("s0*.parquet"))).read_bytes()[:200])
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"foo": [1, 2]}), results / "metrics" / "foreign.parquet")
    result = runner.invoke(app, ["compare", str(results), "-f", "csv"])
    assert result.exit_code == 0 and "Traceback" not in result.output
    for name, reason in (("zero", "empty file"), ("trunc", "not a readable Parquet"), ("foreign", "foreign schema")):
        assert f"{name}.parquet: {reason}" in result.stderr
    assert "read 4 runs; 3 problem(s) above" in result.stderr
    strict = runner.invoke(app, ["compare", str(results), "--strict"])
    assert strict.exit_code == 1 and "--strict: 3 results file problem(s)" in strict.stderr


def test_check_finds_damage_orphans_and_repeats(results: Path) -> None:
    clean = runner.invoke(app, ["check", str(results)])
    assert clean.exit_code == 0 and "4 complete runs" in clean.stdout and "0 damaged" in clean.stdout
    write_run(results, "orphan", {("crows-pairs.score", "gender"): (60.0, 55.0)}, runs_row=False)
    write_run(results, "again", {("crows-pairs.score", "gender"): (60.0, 55.0)}, config_hash="hash-s0")
    findings = runner.invoke(app, ["check", str(results)])  # issue 25: orphans and repeats are damage (exit 1)
    assert findings.exit_code == 1 and "have metrics but no runs row" in findings.stderr and "ran 2 times" in findings.stderr
    (results / "runs" / "s1.parquet").write_bytes(b"PAR1 broken")
    damaged = runner.invoke(app, ["check", str(results)])
    assert damaged.exit_code == 1 and "damage: runs:" in damaged.stderr and "s1.parquet" in damaged.stderr
    assert "Traceback" not in damaged.output
