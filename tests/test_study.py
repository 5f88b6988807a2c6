"""``debiasbench study``: parsing and bad input, arms and controls, resume, and the report's
statistics against direct calls of the statistics module, on the tiny in-process plugins."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from debiasbench.results.items import load_items
from debiasbench.statistics.paired import aligned, figure, side, weights_seed
from debiasbench.statistics.change import change, contrast
from debiasbench.statistics.pairing import shared_weights
from debiasbench.statistics.verdicts import beats_all
from debiasbench.reports.study_report import collect
from debiasbench.cli import app
from debiasbench.campaign.study import plan_study, run_study
from debiasbench.campaign.study_arms import resolve_pending
from debiasbench.campaign.study_file import load_study
from debiasbench.plugin_system.loader import get_plugins
from debiasbench.results.tables import read_table
from tests import tiny_plugins, tiny_study_plugins

runner = CliRunner()


@pytest.fixture(autouse=True)
def only_tiny_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    import debiasbench.plugin_system.loader

    loaded = debiasbench.plugin_system.loader.load_plugins(extra={"tiny": tiny_plugins, "tiny-study": tiny_study_plugins},
                                                           entry_points=[])
    monkeypatch.setattr(debiasbench.plugin_system.loader, "_CACHED", loaded)


STUDY = """
model = "tiny"
forget_set = "tiny-hate-2"
metrics = ["item-logprob", "text-logprob"]
device = "cpu"
cache_dir = "{cache}"
results_dir = "{results}"
eval_every = 1

[grid]
method = ["tiny-ga"]
domain = ["gender", "race"]
seed = [0, 1]

[options.tiny-ga]
learning_rate = 0.05
max_steps = 2

[study]
name = "tiny-transfer"
controls = ["tiny-half-lr", "tiny-matched"]

[study.family]
name = "tiny family"
measures = ["item-logprob"]
"""


def _write(tmp_path: Path, text: str = STUDY) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(text.format(cache=tmp_path / "cache", results=tmp_path / "results"))
    return path


def test_arms_and_pending_controls(tmp_path: Path) -> None:
    study = load_study(_write(tmp_path))
    labels = [a.label for a in study.arms]
    method = "tiny-ga learning_rate=0.05 max_steps=2"
    assert labels.count(method) == 4  # 2 domains x 2 seeds
    assert labels.count(f"tiny-half-lr ({method})") == 4 and labels.count(f"tiny-matched ({method})") == 4
    half = [a for a in study.arms if a.control == "tiny-half-lr"]
    assert all(a.point.config.method_options["learning_rate"] == 0.025 for a in half)
    assert all(a.point.config.seed == a.controls.config.seed and a.point.config.domain == a.controls.config.domain for a in half)
    assert all(a.point is None for a in study.arms if a.control == "tiny-matched")  # derived after its run
    assert study.report_dir == tmp_path / "results" / "report"


@pytest.mark.parametrize(("change", "message"), [
    (("[study.family]\nname = \"tiny family\"\nmeasures = [\"item-logprob\"]\n", "[study.family]\nname = \"f\"\nmeasures = []\n"),
     "is empty"),
    (("controls = [\"tiny-half-lr\", \"tiny-matched\"]", "controls = [\"tiny-nothing\"]"), "unknown control 'tiny-nothing'"),
    (("controls = [\"tiny-half-lr\", \"tiny-matched\"]", "controls = {{ tiny-half-lr = [\"npo\"] }}"), "a control needs the run it controls"),
    (("learning_rate = 0.05\n", ""), "control 'tiny-half-lr' has no run to control"),
    (("name = \"tiny-transfer\"", "name = \"t\"\ncolour = \"red\""), "unknown key 'colour' in [study]"),
    ((STUDY[STUDY.index("[study]"):], ""), "needs a [study] table"),
    (("method = [\"tiny-ga\"]", "method = [\"tiny-gaa\"]"), "tiny-ga"),
    (("domain = [\"gender\", \"race\"]", "domain = [\"gender\", \"martian\"]"), "martian"),
    (("name = \"tiny-transfer\"", "name = \"t\"\nequivalence_margin = -1.0"), "equivalence_margin must be a positive number"),
    (("name = \"tiny-transfer\"", "name = \"t\"\nequivalence_margin = \"2\""), "equivalence_margin must be a positive number"),
    (("name = \"tiny-transfer\"", "name = \"t\"\nresamples = 1500"), "resamples must be an integer of at least"),
    (("name = \"tiny-transfer\"", "name = \"t\"\nseed_level = \"yes\""), "seed_level must be true or false"),
])
def test_bad_study_files_fail_in_one_line_and_write_nothing(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = STUDY.replace(*change)
    assert text != STUDY
    path = _write(tmp_path, text)
    result = runner.invoke(app, ["study", str(path)])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(("changes", "message"), [
    ([("seed = [0, 1]", "seed = [0]"), ("name = \"tiny-transfer\"", "name = \"t\"\nseed_level = true")],
     "seed_level = true asks for intervals over seeds, but the grid has one seed"),
    ([("domain = [\"gender\", \"race\"]", "domain = [\"gender\"]"), ("measures = [\"item-logprob\"]", "measures = [\"item-logprob\"]\ndomains = [\"gender\"]")],
     "holds one claim"),
])
def test_study_statistics_settings_that_cannot_work_fail_in_one_line(tmp_path: Path, changes: list, message: str) -> None:
    text = STUDY
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    result = runner.invoke(app, ["study", str(_write(tmp_path, text)), "--dry-run"])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "results").exists()


def test_resamples_default_to_what_the_family_needs(tmp_path: Path) -> None:
    from debiasbench.statistics.crossed import resamples_for_family

    study = load_study(_write(tmp_path))
    from debiasbench.domains import DOMAINS

    assert study.resamples == resamples_for_family(1 * 2 * len(DOMAINS) * 1)  # method x sources x every domain x measure


def test_not_utf8_and_folder_study_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"name = \"\xff\xfe\"\n")
    result = runner.invoke(app, ["study", str(bad)])
    assert result.exit_code != 0 and "not UTF-8" in result.output
    result = runner.invoke(app, ["study", str(tmp_path)])
    assert result.exit_code != 0 and "is a folder" in result.output


def test_study_runs_resumes_and_reports(tmp_path: Path) -> None:
    path = _write(tmp_path)
    result = runner.invoke(app, ["study", str(path), "-q"])
    assert result.exit_code == 0, result.output
    runs = read_table(tmp_path / "results", "runs").to_pylist()
    assert len(runs) == 12  # 4 method runs, 4 of each control
    matched = [r for r in runs if json.loads(r["config"])["method_options"].get("learning_rate") == 0.005]
    assert len(matched) == 4 and all(r["steps"] == 2 for r in matched)  # as many steps as the run it controls
    report = tmp_path / "results" / "report"
    for name in ("report.md", "report.html", "cells.csv", "study.json", "heatmap.png", "contrasts.png", "seeds.png", "tradeoff.png"):
        assert (report / name).is_file(), name
    text = (report / "report.md").read_text()
    assert "tiny family" in text and "Beyond the controls" in text and "p_holm" in text and "## The answer" in text
    # a rerun runs nothing: every run, including the result-matched controls, is recognised
    again = runner.invoke(app, ["study", str(path), "-q"])
    assert again.exit_code == 0 and "ran 0" in again.output
    assert len(read_table(tmp_path / "results", "runs")) == 12
    # a cut runs file: --report-only names what it leaves out and why, not "not run yet" in silence (issue 25)
    first = sorted((tmp_path / "results" / "runs").glob("*.parquet"))[0]
    first.write_bytes(first.read_bytes()[:100])
    cut = runner.invoke(app, ["study", str(path), "--report-only"])
    assert f"{first.name}: not a readable Parquet file" in cut.output and "left out of the report" in cut.output, cut.output
    assert "Traceback" not in cut.output


def test_report_statistics_equal_direct_calls(tmp_path: Path) -> None:
    path = _write(tmp_path)
    study = load_study(path)
    plan_study(study)
    run_study(study, get_plugins().registry)
    resolve_pending(study, get_plugins().registry)
    results = collect(study)
    items = load_items(tmp_path / "results", {r.run_id for r in results.runs}, "test")
    by = {(r.arm, r.source, r.seed): r.run_id for r in results.runs}
    method = "tiny-ga learning_rate=0.05 max_steps=2"
    control = f"tiny-half-lr ({method})"

    def pair(run_id: str) -> tuple:
        rows = items[(run_id, "item-logprob", "race")]
        b, a = aligned(side(rows["before"]), side(rows["after"]), "x")
        return figure(b, "mean"), figure(a, "mean")

    cell = next(c for c in results.cells if (c.arm, c.source, c.domain) == (method, "gender", "race"))
    pairs = [pair(by[(method, "gender", s)]) for s in (0, 1)]
    controls = {name: [pair(by[(f"{name} ({method})", "gender", s)])[1] for s in (0, 1)] for name in ("tiny-half-lr", "tiny-matched")}
    figures = [pairs[0][0], *[a for _, a in pairs]]
    w = shared_weights(figures, study.resamples, weights_seed("item-logprob", "race"), min_resamples=study.resamples)
    direct = change(pairs[0][0], [a for _, a in pairs], None, "higher", weights=w, min_resamples=study.resamples)
    assert cell.d_delta == pytest.approx(direct.d_delta.value) and cell.d_delta_ci == pytest.approx(direct.d_delta_ci)
    assert cell.p == pytest.approx(direct.p) and cell.seeds == (0, 1) and cell.mde == pytest.approx(direct.d_delta.mde())
    # every arm shares the one item resample of the measure x domain
    did = {name: contrast(pairs[0][0], [a for _, a in pairs], afters, None, "higher", weights=w, min_resamples=study.resamples)
           for name, afters in controls.items()}
    mine = {c.control: c for c in results.contrasts if (c.source, c.domain, c.measure) == ("gender", "race", "item-logprob")}
    for name, d in did.items():
        assert mine[name].effect == pytest.approx(d.effect.value) and mine[name].effect_ci == pytest.approx(d.effect_ci)
    # the claim: the method beats both controls (intersection-union), in the cross-domain family
    claim = next(k for k in results.claims if (k.source, k.domain, k.measure) == ("gender", "race", "item-logprob"))
    assert claim.family == "cross-domain" and claim.p == pytest.approx(beats_all(list(did.values())))
    assert {k.family for k in results.claims} == {"same-domain", "cross-domain"}
    assert len(results.claims) == 2 * 2  # one method x 2 sources x 2 domains
    assert results.families == {"same-domain": 2, "cross-domain": 2}
    assert all(k.p_holm is not None and k.p_holm >= k.p for k in results.claims)
    assert all(k.verdict in ("closer", "farther", "inconclusive") for k in results.claims)


def test_the_pooled_claim_pools_the_cross_domain_contrasts(tmp_path: Path) -> None:
    """One pooled claim per method: every cross-domain family cell's contrast, weighted by its test
    items, blocked by source, beyond each control; its p is the intersection-union of the two."""
    from debiasbench.statistics.change import pooled_beyond

    study = load_study(_write(tmp_path))
    plan_study(study)
    run_study(study, get_plugins().registry)
    results = collect(study)
    [claim] = results.pooled
    cross = [c for c in results.cells if c.control is None and c.in_family and c.domain != c.source]
    assert claim.cells == len(cross) and set(claim.controls) == {"tiny-half-lr", "tiny-matched"}
    n = {(c.source, c.domain, c.measure): c.n for c in cross}
    for control, (value, interval, p) in claim.per_control.items():
        mine = [c for c in results.contrasts if c.control == control and (c.source, c.domain, c.measure) in n]
        direct = pooled_beyond([c.contrast for c in mine], [n[(c.source, c.domain, c.measure)] for c in mine],
                               blocks=[c.source for c in mine])
        assert value == pytest.approx(direct.value) and interval == pytest.approx(direct.interval()) and p == pytest.approx(direct.p_below(0.0))
    assert claim.p == pytest.approx(max(p for _, _, p in claim.per_control.values()))
    assert claim.estimate == pytest.approx(max(v for v, _, _ in claim.per_control.values()))  # the strongest control
    assert claim.p_holm == pytest.approx(claim.p)  # one method: a family of one pooled claim


def test_an_unmatched_control_is_shown_with_its_reason_and_not_tested(tmp_path: Path) -> None:
    path = _write(tmp_path, STUDY.replace('controls = ["tiny-half-lr", "tiny-matched"]', 'controls = ["tiny-half-lr", "tiny-unmatched"]'))
    result = runner.invoke(app, ["study", str(path), "-q"])
    assert result.exit_code == 0, result.output
    study = load_study(path)
    results = collect(study)
    refused = [c for c in results.contrasts if c.control == "tiny-unmatched"]
    assert refused and all("its dose differs" in c.not_tested and math.isnan(c.p) for c in refused)
    assert all(c.not_tested == "" for c in results.contrasts if c.control == "tiny-half-lr")
    assert all(k.not_tested.startswith("not tested: tiny-unmatched") for k in results.claims)
    assert results.pooled[0].not_tested.startswith("not tested: unmatched controls")
    assert {m["control"] for m in results.matching if not m["matched"]} == {"tiny-unmatched"}
    text = (tmp_path / "results" / "report" / "report.md").read_text()
    assert "Controls: matched or refused" in text and "its dose differs from the method's" in text


def test_mixed_protocols_are_refused(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = _write(tmp_path)
    assert runner.invoke(app, ["study", str(path), "-q"]).exit_code == 0
    metrics = tmp_path / "results" / "metrics"
    first = sorted(metrics.glob("*.parquet"))[0]
    table = pq.read_table(first)
    column = table.column("protocol").to_pylist()
    table = table.set_column(table.schema.get_field_index("protocol"), "protocol", [[c.replace("6", "7") for c in column]])
    pq.write_table(table, first)
    result = runner.invoke(app, ["study", str(path), "--report-only"])
    assert result.exit_code != 0 and "different protocols mixed in one report" in result.output


def test_report_before_any_run_says_run_first(tmp_path: Path) -> None:
    result = runner.invoke(app, ["study", str(_write(tmp_path)), "--report-only"])
    assert result.exit_code != 0 and "no run of study 'tiny-transfer'" in result.output


@pytest.mark.parametrize(("measure", "words"), [("probe-logprob", "is reported by none of the grid's metrics"),
                                               ("text-logprob", "is not a per-item measure")])
def test_family_measure_must_be_a_per_item_measure(tmp_path: Path, measure: str, words: str) -> None:
    """The study's preflight refuses it before any run (issue 25), in the real command as in --dry-run."""
    path = _write(tmp_path, STUDY.replace('measures = ["item-logprob"]', f'measures = ["{measure}"]'))
    for extra in (["--dry-run"], ["-q"]):
        result = runner.invoke(app, ["study", str(path), *extra])
        assert result.exit_code == 1 and words in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "results").exists()  # nothing ran
