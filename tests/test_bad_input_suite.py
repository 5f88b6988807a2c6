"""The bad-input suite (issue 11): every command, fed what a hostile or careless user would type.

Each case is the command line, the exit code it must give, and words its one-line message must
contain; every case also checks that no traceback is printed and that nothing new is written
(the results folder, the cache and the working folder stay as they were). All of them fail
before a model loads, so the suite takes seconds. The first-party plugins are the installed ones.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

pytest.importorskip("debiasbench_unlearn")
pytest.importorskip("debiasbench_metrics")
pytest.importorskip("debiasbench_hf")

from debiasbench.cli import app  # noqa: E402
from tests.damaged_results import DAMAGE, damaged  # noqa: E402

R = "{results}"  # the case's results folder (absent unless the case creates it)
RUN = ["run", "--method", "mlm-unlearn", "--domain", "gender", "--results-dir", R]
EVAL = ["eval", "--results-dir", R]

CASES: list[tuple[str, list[Any], int, str]] = [
    # ---- run: names
    ("unknown method", ["run", "--method", "mlm-unlern", "--domain", "gender", "--results-dir", R], 2, "did you mean 'mlm-unlearn'"),
    ("unknown model", [*RUN, "--model", "smollm2-135m-q"], 2, "smollm2-135m-q"),
    ("unknown metric", [*RUN, "--metrics", "crows-pair"], 2, "did you mean 'crows-pairs'"),
    ("unknown forget set", [*RUN, "--forget-set", "hatechek"], 2, "did you mean 'hatecheck'"),
    ("metric as forget set", [*RUN, "--forget-set", "crows-pairs"], 1, "not a forget set"),
    ("unknown domain", ["run", "--method", "mlm-unlearn", "--domain", "gendr", "--results-dir", R], 2, "did you mean 'gender'"),
    ("domain the forget set lacks", ["run", "--method", "mlm-unlearn", "--domain", "age", "--results-dir", R], 1, "has no texts for domain 'age'"),
    ("no domain", ["run", "--method", "mlm-unlearn", "--results-dir", R], 2, "Missing option '--domain'"),
    ("unknown preset", [*RUN, "--preset", "fast"], 2, "unknown preset 'fast'"),
    ("unknown eval domain", [*RUN, "--eval-domains", "martian"], 2, "martian"),
    ("empty metrics", [*RUN, "--metrics", ","], 1, "no metric to evaluate"),
    ("unknown selector", [*RUN, "-o", "selector=lexicn"], 2, "did you mean 'lexicon'"),
    ("selector options for a method without one", ["run", "--method", "token-ga", "--domain", "gender", "-s", "top_k=0.1",
                                                    "--results-dir", R], 1, "takes no span selector"),
    # ---- run: method options
    ("option typo", [*RUN, "-o", "learning_rat=1e-5"], 1, "did you mean 'learning_rate'"),
    ("option wrong type", [*RUN, "-o", "epochs=two"], 1, "epochs"),
    ("option not finite", [*RUN, "-o", "learning_rate=inf"], 1, "learning_rate"),
    ("option nan", [*RUN, "-o", "learning_rate=nan"], 1, "learning_rate"),
    ("option negative rate", [*RUN, "-o", "learning_rate=-1"], 1, "learning_rate must be positive"),
    ("option zero epochs", [*RUN, "-o", "epochs=0"], 1, "epochs must be 1 or more"),
    ("option zero batch", [*RUN, "-o", "batch_size=0"], 1, "batch_size must be 1 or more"),
    ("option max_length 1", [*RUN, "-o", "max_length=1"], 1, "max_length must be 2 or more"),
    ("option positive threshold", [*RUN, "-o", "forget_loss_threshold=3"], 1, "must be negative"),
    ("option ceiling below 1", [*RUN, "-o", "retain_ppl_ceiling=0.5"], 1, "must exceed 1"),
    ("option malformed pair", [*RUN, "-o", "learning_rate"], 1, "expected key=value"),
    ("option empty key", [*RUN, "-o", "=3"], 1, "expected key=value"),
    ("option bool typo", [*RUN, "-o", "lora=yess"], 1, "lora"),
    ("grad-diff negative alpha", ["run", "--method", "grad-diff", "--domain", "gender", "-o", "alpha=-1", "--results-dir", R], 1,
     "alpha must be 0 or more"),
    ("npo zero beta", ["run", "--method", "npo", "--domain", "gender", "-o", "beta=0", "--results-dir", R], 1, "beta must be positive"),
    ("benign-ga negative target", ["run", "--method", "benign-ga", "--domain", "gender", "-o", "target_ppl_increase=-0.1",
                                    "--results-dir", R], 1, "positive fraction"),
    ("benign-ga target, metric not evaluated", ["run", "--method", "benign-ga", "--domain", "gender", "-o", "target_ppl_increase=0.1",
                                                 "--metrics", "crows-pairs", "--results-dir", R], 1, "which this run does not evaluate"),
    ("--batch-size zero", [*RUN, "--batch-size", "0"], 1, "--batch-size must be a positive whole number or 'auto'"),
    ("--batch-size word", [*RUN, "--batch-size", "lots"], 1, "--batch-size must be a positive whole number or 'auto'"),
    ("metric batch_size not auto", [*RUN, "-M", "crows-pairs.batch_size=big"], 1, "must be int or one of auto"),
    ("pcgu partition size zero", ["run", "--method", "pcgu", "--domain", "gender", "-o", "k=0", "--results-dir", R], 1,
     "k (PCGU's partition size: blocks updated per step) must be 1 or more"),
    ("pair source without the domain", ["run", "--method", "biasunlearn", "--domain", "disability", "--forget-set", "hatecheck",
                                        "-o", "pairs=attribute-swap", "--results-dir", R], 1, "has no pairs for domain 'disability'"),
    ("rmu layer negative", ["run", "--method", "rmu", "--domain", "gender", "-o", "layer=-1", "--results-dir", R], 1, "layer must be 0 or more"),
    ("texts_like unknown selector", ["run", "--method", "token-ga", "--domain", "gender", "-o", "texts_like=nope", "--results-dir", R], 2,
     "unknown selector 'nope'"),
    # ---- run: selector options
    ("selector option typo", [*RUN, "-o", "selector=lexicon", "-s", "levl=inclusive"], 1, "level"),
    ("selector option bad choice", [*RUN, "-o", "selector=lexicon", "-s", "level=everything"], 1, "level"),
    ("random selector budget from itself", [*RUN, "-o", "selector=random", "-s", "budget_from=random"], 1, "cannot take its budget from itself"),
    ("random selector unknown budget", [*RUN, "-o", "selector=random", "-s", "budget_from=nothing"], 2, "unknown selector 'nothing'"),
    ("annotated takes no options", [*RUN, "-s", "top_k=0.1"], 1, "unknown option 'top_k' for selector 'annotated'"),
    # ---- run: metric options
    ("metric option for a metric not run", [*RUN, "--metrics", "crows-pairs", "-M", "stereoset.batch_size=8"], 1, "not among the metrics"),
    ("metric option unknown key", [*RUN, "--metrics", "stereoset", "-M", "stereoset.limit=3"], 1, "unknown option 'limit' for metric 'stereoset'"),
    ("metric option typo", [*RUN, "--metrics", "crows-pairs", "-M", "crows-pairs.scorng=sum"], 1, "scoring"),
    ("metric option no dot", [*RUN, "--metrics", "crows-pairs", "-M", "scoring=sum"], 1, "expected OWNER.KEY=VALUE"),
    ("fluency share out of range", [*RUN, "--metrics", "honest", "-M", "honest.fluency_min_vocabulary=1.5"], 1,
     "min_vocabulary is a share and must lie in [0, 1]"),
    ("fluency perplexity bound at 1", [*RUN, "--metrics", "bold", "-M", "bold.fluency_max_perplexity=1"], 1,
     "max_perplexity must be above 1"),
    ("metric option bad value", [*RUN, "--metrics", "perplexity", "-M", "perplexity.max_tokens=many"], 1, "max_tokens"),
    ("metric option too small", [*RUN, "--metrics", "perplexity", "-M", "perplexity.max_tokens=1"], 1, "max_tokens"),
    ("metric option removed (intervals are the core's)", [*RUN, "--metrics", "perplexity", "-M", "perplexity.bootstrap=0"], 1,
     "unknown option 'bootstrap' for metric 'perplexity'"),
    # ---- run: numbers and settings
    ("seed too large", [*RUN, "--seed", str(2**63)], 1, "2**63 - 1"),
    ("seed negative", [*RUN, "--seed", "-1"], 1, "--seed must be between"),
    ("heldout seed negative", [*RUN, "--heldout-seed", "-5"], 1, "--heldout-seed must be between"),
    ("dev fraction 0 with a trajectory", [*RUN, "--dev-fraction", "0", "--eval-every", "2"], 1, "needs dev items"),
    ("dev fraction 1", [*RUN, "--dev-fraction", "1"], 1, "--dev-fraction must be at least 0 and below 1"),
    ("dev fraction 2", [*RUN, "--dev-fraction", "2"], 1, "--dev-fraction"),
    ("threads zero", [*RUN, "--threads", "0"], 1, "--threads must be at least 1"),
    ("threads huge", [*RUN, "--threads", "100000"], 1, "more than 4x"),
    ("eval limit zero", [*RUN, "--eval-limit", "0"], 1, "--eval-limit must be 1 or more"),
    ("forget limit zero", [*RUN, "--forget-limit", "0"], 1, "--forget-limit must be 1 or more"),
    ("eval every zero", [*RUN, "--eval-every", "0"], 1, "--eval-every must be 1 or more"),
    ("seed not a number", [*RUN, "--seed", "abc"], 2, "seed"),
    ("threads not a number", [*RUN, "--threads", "many"], 2, "threads"),
    ("dtype unknown", [*RUN, "--dtype", "float64"], 1, "unknown dtype 'float64'"),
    ("device unknown", [*RUN, "--device", "tpu"], 1, "unknown device 'tpu'"),
    ("split on a set without splits", [*RUN, "--split", "train"], 1, "has no splits"),
    # ---- run: large models (issue 15)
    ("device map unknown", [*RUN, "--device-map", "balanced"], 1, "unknown --device-map 'balanced'"),
    ("device map with an explicit device", [*RUN, "--device-map", "auto", "--device", "cpu"], 1, "cannot be combined with --device cpu"),
    ("lora threshold negative", [*RUN, "--lora-threshold", "-1"], 1, "--lora-threshold is a number of parameters and must be 0 or more"),
    ("lora threshold nan", [*RUN, "--lora-threshold", "nan"], 1, "--lora-threshold"),
    ("full fine-tune against lora=true", [*RUN, "--full-finetune", "-o", "lora=true"], 1, "contradicts -o lora=true"),
    ("gradient checkpointing, method without the loop", ["run", "--method", "inlp", "--domain", "gender", "--gradient-checkpointing",
                                                          "--results-dir", R], 1, "cannot use gradient checkpointing"),
    ("dynahate bad split", ["run", "--method", "mlm-unlearn", "--domain", "gender", "--forget-set", "dynahate", "--split", "val",
                            "--results-dir", R], 1, "has splits train, dev, test"),
    ("unknown flag", [*RUN, "--learning-rate", "1e-5"], 2, "No such option"),
    # ---- run: experiment trackers (issue 27, docs/tracking.md)
    ("track unknown tracker", [*RUN, "--track", "mlfow"], 2, "did you mean 'mlflow'"),
    ("track mlflow malformed URI", [*RUN, "--track", "mlflow:ftp://host/x"], 1, "not an MLflow tracking URI"),
    ("track mlflow server unreachable", [*RUN, "--track", "mlflow:http://127.0.0.1:9"], 1, "did not answer within 3 s"),
    ("track wandb malformed project", [*RUN, "--track", "wandb:a/b/c"], 1, "a W&B project is NAME or ENTITY/NAME"),
    ("track tensorboard folder is a file", [*RUN, "--track", "tensorboard:{file}"], 1, "is a file, not a folder"),
    ("track given twice", [*RUN, "--track", "tensorboard:tb", "--track", "tensorboard:tb"], 1, "is given twice"),
    # ---- run: where it writes
    ("results dir is a file", ["run", "--method", "mlm-unlearn", "--domain", "gender", "--results-dir", "{file}"], 1, "is a file, not a folder"),
    ("results dir under a file", ["run", "--method", "mlm-unlearn", "--domain", "gender", "--results-dir", "{file}/results"], 1,
     "is not a writable folder"),
    ("runs table is a file", ["run", "--method", "mlm-unlearn", "--domain", "gender", "--results-dir", "{bad_results}"], 1,
     "is a file where the 'runs' table folder belongs"),
    ("save model not empty", [*RUN, "--save-model", "{full_folder}"], 1, "already exists and is not empty; choose a new folder, or add --overwrite"),
    ("save model is a file, even with --overwrite", [*RUN, "--save-model", "{file}", "--overwrite"], 1, "is not a writable folder"),
    ("overwrite without save model", [*RUN, "--overwrite"], 1, "--overwrite replaces the folder of --save-model"),
    ("save model under a file", [*RUN, "--save-model", "{file}/model"], 1, "cannot be written"),
    ("cache under a file", [*RUN, "--cache-dir", "{file}/cache"], 1, "cannot be written"),
    # ---- results directory as an object-store URI (docs/scale-storage.md); tests/test_results_store.py has the
    # cases that need a server (a bucket that does not exist)
    ("results URI unknown scheme", ["run", "--method", "mlm-unlearn", "--domain", "gender", "--results-dir", "nope://bucket/results"],
     1, "unknown scheme 'nope://'"),
    ("results URI without bucket", ["run", "--method", "mlm-unlearn", "--domain", "gender", "--results-dir", "s3:///results"], 1,
     "Missing bucket name"),
    ("results URI unknown option", ["eval", "--results-dir", "s3://bucket/results?bogus=1"], 1, "Unexpected query parameter"),
    ("results URI unreachable endpoint", ["run", "--method", "mlm-unlearn", "--domain", "gender", "--results-dir",
                                          "s3://bucket/results?endpoint_override=127.0.0.1:1&scheme=http"], 1,
     "cannot write to results dir s3://bucket/results (NETWORK_CONNECTION"),
    # ---- eval
    ("eval unknown metric", [*EVAL, "--metrics", "stereosett"], 2, "did you mean 'stereoset'"),
    ("eval unknown model", [*EVAL, "--model", "nope/nope/nope"], 2, "nope"),
    ("eval empty metrics", [*EVAL, "--metrics", ","], 1, "no metric to evaluate"),
    ("eval bad metric option", [*EVAL, "--metrics", "crows-pairs", "-M", "crows-pairs.batch_size=x"], 1, "batch_size"),
    ("eval unknown domain", [*EVAL, "--eval-domains", "gendr"], 2, "did you mean 'gender'"),
    ("eval unknown SEAT test", [*EVAL, "--metrics", "seat", "-M", "seat.tests=sent-weat6,sent-weat66"], 1, "did you mean 'sent-weat6'"),
    ("eval no SEAT test", [*EVAL, "--metrics", "seat", "-M", "seat.tests=,"], 1, "no SEAT test named"),
    ("eval SEAT samples zero", [*EVAL, "--metrics", "seat", "-M", "seat.samples=0"], 1, "samples must be a positive"),
    ("run unknown SEAT test", [*RUN, "--metrics", "seat", "-M", "seat.tests=religion1"], 1, "did you mean 'sent-religion1'"),
    ("eval winogender batch size", [*EVAL, "--metrics", "winogender", "-M", "winogender.batch_size=0"], 1, "batch_size"),
    ("eval seed negative", [*EVAL, "--heldout-seed", "-1"], 1, "--heldout-seed must be between"),
    ("eval results dir is a file", ["eval", "--results-dir", "{file}"], 1, "is a file"),
    ("eval dtype", [*EVAL, "--dtype", "int8"], 1, "unknown dtype"),
    ("eval threads", [*EVAL, "--threads", "-3"], 1, "--threads must be at least 1"),
    ("eval device map unknown", [*EVAL, "--device-map", "sequential"], 1, "unknown --device-map 'sequential'"),
    ("eval device map with a device", [*EVAL, "--device-map", "auto", "--device", "cuda:1"], 1, "cannot be combined with --device cuda:1"),
    ("eval lora threshold", [*EVAL, "--lora-threshold", "5"], 2, "No such option"),
    ("eval method flag", [*EVAL, "--method", "mlm-unlearn"], 2, "No such option"),
    # ---- compare
    ("compare, one cell under two protocols", ["compare", "{results_mixed}"], 1, "not pooling runs measured differently"),
    ("compare missing folder", ["compare", "{missing}"], 1, "does not exist"),
    ("compare empty folder", ["compare", "{empty}"], 1, "no readable metric rows"),
    ("compare a stray file", ["compare", "{file}"], 1, "is a file, not a results folder"),
    ("compare unknown format", ["compare", "{results_ok}", "-f", "xml"], 2, "--format"),
    ("compare output under a file", ["compare", "{results_ok}", "-f", "csv", "-O", "{file}/x.csv"], 1, "cannot write --output"),
    ("compare plot unknown suffix", ["compare", "{results_ok}", "--plot", "{tmp}/plot.xyz"], 1, "use a .png, .pdf or .svg"),
    ("compare unknown metric filter", ["compare", "{results_ok}", "-m", "nope"], 1, "nope"),
    ("compare unknown method filter", ["compare", "{results_ok}", "--method", "nope"], 1, "nope"),
    ("compare unknown domain", ["compare", "{results_ok}", "--domain", "martian"], 1, "matches no row"),
    ("compare strict on damage", ["compare", "{results_damaged}", "--strict"], 1, "--strict"),
    ("compare only damaged metrics", ["compare", "{results_zero}"], 1, "empty file"),
    ("compare unknown URI scheme", ["compare", "nope://bucket/results"], 1, "unknown scheme 'nope://'"),
    # ---- check
    ("check missing folder", ["check", "{missing}"], 1, "does not exist"),
    ("check damaged", ["check", "{results_damaged}"], 1, "damaged"),
    ("check unknown URI scheme", ["check", "nope://bucket/results"], 1, "unknown scheme 'nope://'"),
    # ---- sweep
    ("sweep missing file", ["sweep", "{missing}.toml"], 1, "does not exist"),
    ("sweep is a folder", ["sweep", "{tmp}"], 1, "is a folder"),
    ("sweep not utf-8", ["sweep", "{latin1}"], 1, "not UTF-8"),
    ("sweep not toml", ["sweep", "{nottoml}"], 1, "not valid TOML"),
    ("sweep unknown key", ["sweep", "{sweep:colour = 'red'}"], 1, "unknown key 'colour'"),
    ("sweep results URI unknown scheme", ["sweep", "{sweep:}", "--results-dir", "nope://bucket/results"], 1, "unknown scheme 'nope://'"),
    ("study results URI unknown scheme", ["study", "{study_controls:controls = ['benign-ga']}", "--results-dir", "nope://bucket/results"], 1,
     "unknown scheme 'nope://'"),
    ("sweep no method axis", ["sweep", "{sweep_text:[grid]\nseed = [0]\n}"], 1, "needs method"),
    ("sweep no domain axis", ["sweep", "{sweep_text:[grid]\nmethod = ['mlm-unlearn']\n}"], 1, "needs domain"),
    ("sweep empty axis", ["sweep", "{sweep_text:[grid]\nmethod = ['mlm-unlearn']\ndomain = []\n}"], 1, "empty list"),
    ("sweep unknown method", ["sweep", "{sweep_text:[grid]\nmethod = ['mlm-unlern']\ndomain = ['gender']\n}"], 2, "did you mean 'mlm-unlearn'"),
    ("sweep unknown domain", ["sweep", "{sweep_text:[grid]\nmethod = ['mlm-unlearn']\ndomain = ['gendr']\n}"], 2, "gender"),
    ("sweep axis at top level", ["sweep", "{sweep_text:seed = [0, 1]\n[grid]\nmethod = ['mlm-unlearn']\ndomain = ['gender']\n}"], 1,
     "is a list at the top level"),
    ("sweep shared key in grid", ["sweep", "{sweep_text:[grid]\nmethod = ['mlm-unlearn']\ndomain = ['gender']\ndevice = ['cpu']\n}"], 1,
     "shared setting"),
    ("sweep wrong type", ["sweep", "{sweep_text:eval_limit = 'ten'\n[grid]\nmethod = ['mlm-unlearn']\ndomain = ['gender']\n}"], 1,
     "must be an integer"),
    ("sweep non-finite number", ["sweep", "{sweep_text:dev_fraction = nan\n[grid]\nmethod = ['mlm-unlearn']\ndomain = ['gender']\n}"], 1,
     "finite number"),
    ("sweep options for a method not in the grid",
     ["sweep", "{sweep_text:[grid]\nmethod = ['mlm-unlearn']\ndomain = ['gender']\n[options.npo]\nbeta = 0.2\n}"], 1, "not a method of [grid]"),
    ("sweep option typo", ["sweep", "{sweep_text:[grid]\nmethod = ['mlm-unlearn']\ndomain = ['gender']\n[options.mlm-unlearn]\nepoch = 2\n}"], 1,
     "epochs"),
    ("sweep bad option value", ["sweep", "{sweep_text:[grid]\nmethod = ['mlm-unlearn']\ndomain = ['gender']\n[options.mlm-unlearn]\nepochs = 0\n}"],
     1, "epochs must be 1 or more"),
    ("sweep grid not a table", ["sweep", "{sweep_text:grid = 3\n}"], 1, "must be a table"),
    ("sweep device map unknown", ["sweep", "{sweep:device_map = 'everywhere'}"], 1, "unknown --device-map 'everywhere'"),
    ("sweep lora threshold negative", ["sweep", "{sweep:lora_threshold = -5}"], 1, "--lora-threshold"),
    # ---- sweep and study executors (docs/scale.md)
    ("sweep unknown executor", ["sweep", "{sweep:}", "--executor", "rey"], 2, "did you mean 'ray'"),
    ("sweep ray option on the local executor", ["sweep", "{sweep:}", "--address", "127.0.0.1:6379"], 1,
     "--address applies to --executor ray"),
    ("sweep negative retries", ["sweep", "{sweep:}", "--executor", "ray", "--retries", "-1"], 1, "--retries must be 0 or more"),
    ("sweep zero workers", ["sweep", "{sweep:}", "--executor", "ray", "--workers", "0"], 1, "--workers must be 1 or more"),
    ("sweep zero cpus per run", ["sweep", "{sweep:}", "--executor", "ray", "--cpus-per-run", "0"], 1, "--cpus-per-run must be positive"),
    ("sweep unreachable ray address", ["sweep", "{sweep:}", "--executor", "ray", "--address", "127.0.0.1:{closed_port}"], 1,
     "no Ray cluster answers at 127.0.0.1:"),
    ("sweep ray address not host:port", ["sweep", "{sweep:}", "--executor", "ray", "--address", "headnode"], 1, "is not host:port"),
    ("study gpus the ray cluster lacks", ["study", "{study_controls:controls = ['benign-ga']}", "--executor", "ray",
                                          "--workers", "1", "--gpus-per-run", "1"], 1, "--gpus-per-run 1 cannot be met"),
    ("sweep unknown slurm cluster", ["sweep", "{sweep:}", "--executor", "slurm", "--slurm-cluster", "locl"], 1, "is not one of"),
    ("sweep fractional gpu on slurm", ["sweep", "{sweep:}", "--executor", "slurm", "--gpus-per-run", "0.5"], 1, "whole number"),
    ("study slurm option on ray", ["study", "{study_controls:controls = ['benign-ga']}", "--executor", "ray", "--slurm-time", "60"],
     1, "--slurm-time applies to --executor slurm"),
    # ---- study
    ("study missing file", ["study", "{missing}.toml"], 1, "does not exist"),
    ("study without [study]", ["study", "{sweep_text:[grid]\nmethod = ['mlm-unlearn']\ndomain = ['gender']\n}"], 1, "needs a [study] table"),
    ("study empty family", ["study", "{study:[study.family]\nname = 'f'\nmeasures = []\n}"], 1, "is empty"),
    ("study family without name", ["study", "{study:[study.family]\nmeasures = ['crows-pairs.score']\n}"], 1, "needs a name"),
    ("study no family", ["study", "{study:}"], 1, "[study.family] is missing"),
    ("study unknown control", ["study", "{study:[study.family]\nname = 'f'\nmeasures = ['crows-pairs.score']\n}", ], 2, "random-tokenz"),
    ("study control of a method not in the grid",
     ["study", "{study_controls:controls = {{ random-tokens = ['npo'] }}}"], 1, "a control needs the run it controls"),
    ("study control that applies to nothing", ["study", "{study_token_ga}"], 1, "has no run to control"),
    ("study unknown study key", ["study", "{study_controls:controls = ['benign-ga']\ncolour = 'red'}"], 1, "unknown key 'colour' in [study]"),
    ("study unknown family key", ["study", "{study:[study.family]\nname = 'f'\nmeasures = ['crows-pairs.score']\ncolour = 1\n}"], 1,
     "unknown key 'colour' in [study.family]"),
    ("study few resamples", ["study", "{study_controls:controls = ['benign-ga']\nresamples = 10}"], 1, "resamples must be an integer of at least"),
    ("study unknown family domain", ["study", "{study:[study.family]\nname = 'f'\nmeasures = ['x']\ndomains = ['martian']\n}"], 2, "martian"),
    ("study only evaluations", ["study", "{sweep_text:[grid]\nmethod = ['none']\n[study]\ncontrols = []\n[study.family]\nname = 'f'\nmeasures = ['x']\n}"],
     1, "lists no method"),
    ("study report before runs", ["study", "{study_controls:controls = ['benign-ga']}", "--report-only"], 1, "no run of study"),
    # ---- list, plugins, spans, version
    ("list unknown kind", ["list", "method"], 2, "did you mean 'methods'"),
    ("list unknown name", ["list", "methods", "nppo"], 2, "did you mean 'npo'"),
    ("list name of another kind", ["list", "metrics", "npo"], 2, "unknown metric 'npo'"),
    ("spans unknown forget set", ["spans", "--forget-set", "nope", "--domain", "gender"], 2, "nope"),
    ("spans unknown domain", ["spans", "--domain", "gendr"], 2, "did you mean 'gender'"),
    ("spans unknown selector", ["spans", "--domain", "gender", "--selector", "lexicn"], 2, "did you mean 'lexicon'"),
    ("spans bad limit", ["spans", "--domain", "gender", "--limit", "-1"], 1, "--limit must be 0 or more"),
    ("unknown command", ["rnu"], 2, "No such command"),
]


# ---- issue 25: fail before the work, never be silent about damage

@dataclass(frozen=True)
class Pre:
    """A small study file for the preflight cases: ``@tmp@`` in any part becomes the case's sandbox
    (which holds ``afile``, a link loop ``loop`` and a dangling link ``dangling``)."""

    top: str = "eval_every = 2"
    extra: str = ""
    measures: str = "'crows-pairs.score'"
    family: str = ""
    grid: str = ""
    bom: bool = False

    def __str__(self) -> str:  # the test id shows what was changed
        return "study.toml"


def _pre_cases() -> list[tuple[str, list[Any], int, str]]:
    mistakes: list[tuple[str, Pre, str]] = [
        ("report_dir is a file", Pre(extra="report_dir = '@tmp@/afile'"), "is a file, not a folder"),
        ("report_dir a number", Pre(extra="report_dir = 3"), "report_dir must be a folder or URI as a string"),
        ("report_dir a list", Pre(extra="report_dir = ['a']"), "report_dir must be a folder or URI as a string"),
        ("report_dir empty", Pre(extra="report_dir = ''"), "report_dir must be a folder or URI as a string"),
        ("report_dir under a file", Pre(extra="report_dir = '@tmp@/afile/report'"), "cannot be written"),
        ("report_dir in a link loop", Pre(extra="report_dir = '@tmp@/loop/report'"), "is a symbolic-link loop"),
        ("report_dir under a dangling link", Pre(extra="report_dir = '@tmp@/dangling/report'"), "which does not exist"),
        ("report_dir unknown scheme", Pre(extra="report_dir = 'nope://bucket/report'"), "unknown scheme 'nope://'"),
        ("family measure typo", Pre(measures="'crows-pairs.scor'"), "did you mean 'crows-pairs.score'"),
        ("family measure no metric reports", Pre(measures="'bold.negative'"), "is reported by none of the grid's metrics"),
        ("family domain never evaluated", Pre(top="eval_every = 2\neval_domains = ['gender', 'race']", family="domains = ['religion']"),
         "domain 'religion' is never evaluated"),
        ("benign-ga without perplexity", Pre(top="metrics = ['crows-pairs']"), "add 'perplexity' to metrics"),
        ("tradeoff measure typo", Pre(extra="tradeoff_measure = 'perplexity.wikitext'"), "did you mean 'perplexity.wikitext2'"),
        ("tradeoff measure not a string", Pre(extra="tradeoff_measure = 3"), "tradeoff_measure must be a measure name"),
        ("metric option typo", Pre(top="eval_every = 2\n[metric_options.perplexity]\nmax_token = 4096"), "did you mean 'max_tokens'"),
        ("method option typo", Pre(grid="[options.mlm-unlearn]\nepoch = 2"), "epochs"),
        ("grid above the confirmation size", Pre(grid="seed = [" + ", ".join(map(str, range(600))) + "]"), "pass --yes"),
        ("byte-order mark then a typo", Pre(bom=True, extra="colour = 'red'"), "unknown key 'colour' in [study]"),
    ]
    cases: list[tuple[str, list[Any], int, str]] = []
    for name, pre, words in mistakes:
        cases.append((f"study preflight: {name}", ["study", pre], 1, words))
        cases.append((f"study --dry-run preflight: {name}", ["study", pre, "--dry-run"], 1, words))
    return cases


DAMAGE_CASES: list[tuple[str, list[Any], int, str]] = [
    (f"check damage: {kind}", ["check", "{damaged:" + kind + "}"], 1, words) for kind, (_, words) in sorted(DAMAGE.items())]

ISSUE_25_MORE: list[tuple[str, list[Any], int, str]] = [
    # compare names what it leaves out (exit 0: the rest is compared) and blames the real cause
    ("compare, a complete run's metrics gone", ["compare", "{damaged:metrics deleted}", "-f", "csv"], 0, "has a runs row but no metric rows"),
    ("compare, per-item files gone", ["compare", "{damaged:items deleted}", "-f", "csv"], 0, "has no per-item rows"),
    ("compare, after items stripped", ["compare", "{damaged:after items stripped}", "-f", "csv"], 0, "has before but no after item rows"),
    ("compare strict, per-item files gone", ["compare", "{damaged:items deleted}", "--strict"], 1, "--strict"),
    ("compare, a cut items file", ["compare", "{damaged:items truncated}"], 1, "is not a readable Parquet file"),
    ("compare, an empty items file", ["compare", "{damaged:items zero bytes}"], 1, "is empty (zero bytes)"),
    ("compare a run's file, its metrics cut", ["compare", "{damaged:metrics truncated}/runs/r0.parquet"], 1, "its file is damaged"),
    # paths resolved before the work
    ("run results dir a link loop", [*RUN[:-1], "{tmp}/loop"], 1, "is a symbolic-link loop"),
    ("run results dir under a link loop", [*RUN[:-1], "{tmp}/loop/results"], 1, "is a symbolic-link loop"),
    ("run results dir a dangling link", [*RUN[:-1], "{tmp}/dangling"], 1, "which does not exist (deleted or not mounted)"),
    ("run results dir under a dangling link", [*RUN[:-1], "{tmp}/dangling/results"], 1, "which does not exist"),
    ("run save model a dangling link", [*RUN, "--save-model", "{tmp}/dangling"], 1, "which does not exist"),
    ("run cache under a link loop", [*RUN, "--cache-dir", "{tmp}/loop/cache"], 1, "is a symbolic-link loop"),
    ("eval results dir a link loop", ["eval", "--results-dir", "{tmp}/loop"], 1, "is a symbolic-link loop"),
    ("eval results dir a dangling link", ["eval", "--results-dir", "{tmp}/dangling"], 1, "which does not exist"),
    ("sweep results dir a dangling link", ["sweep", "{sweep:}", "--results-dir", "{tmp}/dangling"], 1, "which does not exist"),
    ("study results dir a link loop", ["study", "{study_controls:controls = ['benign-ga']}", "--results-dir", "{tmp}/loop"], 1,
     "is a symbolic-link loop"),
    # facts on disk, before the model loads
    ("run data dir missing", [*RUN, "--data-dir", "{missing}"], 1, "does not exist or is not a folder"),
    ("eval data dir missing", [*EVAL, "--data-dir", "{missing}"], 1, "does not exist or is not a folder"),
    ("eval data dir a file", [*EVAL, "--data-dir", "{file}"], 1, "does not exist or is not a folder"),
    ("rmu layer beyond config.json", ["run", "--method", "rmu", "--domain", "gender", "--model", "{model_folder}", "-o", "layer=99",
                                      "--results-dir", R], 1, "has 2 decoder layers"),
    ("lora targets naming no module", ["run", "--method", "mlm-unlearn", "--domain", "gender", "--model", "{model_folder}", "-o",
                                       "lora=true", "-o", "lora_targets=q_proj", "--results-dir", R], 1, "'q_proj' names no module of the model"),
    ("run model weights cut short", [*RUN, "--model", "{cut_model}"], 1, "is truncated"),
    ("run model weights not safetensors", [*RUN, "--model", "{junk_model}"], 1, "is not a readable safetensors file"),
    ("self-debias with --save-model", ["run", "--method", "self-debias", "--domain", "gender", "--save-model", "{tmp}/saved",
                                       "--results-dir", R], 1, "self-debias changes decoding, not weights"),
    ("metric option without metric, its example", [*RUN, "-M", "bootstrap"], 1, "expected METRIC.KEY=VALUE, e.g. -M crows-pairs.scoring=sum"),
    ("method option malformed, its example", [*RUN, "-o", "epochs"], 1, "e.g. -o learning_rate=1e-5"),
    ("selector option malformed, its example", [*RUN, "-o", "selector=lexicon", "-s", "level"], 1, "e.g. -s top_k=0.2"),
    # executors that fail without side effects
    ("slurm cpus per run inf", ["sweep", "{sweep:}", "--executor", "slurm", "--cpus-per-run", "inf"], 1, "--cpus-per-run must be positive and finite"),
    ("slurm gpus per run inf", ["sweep", "{sweep:}", "--executor", "slurm", "--gpus-per-run", "inf"], 1, "--gpus-per-run must be 0 or more and finite"),
    ("ray cpus per run inf", ["sweep", "{sweep:}", "--executor", "ray", "--cpus-per-run", "inf"], 1, "--cpus-per-run must be positive and finite"),
    ("ray gpus per run nan", ["sweep", "{sweep:}", "--executor", "ray", "--gpus-per-run", "nan"], 1, "--gpus-per-run must be 0 or more and finite"),
    ("study slurm gpus per run inf", ["study", "{study_controls:controls = ['benign-ga']}", "--executor", "slurm", "--gpus-per-run", "inf"],
     1, "--gpus-per-run must be 0 or more and finite"),
    ("local ray, more gpus than the machine", ["sweep", "{sweep:}", "--executor", "ray", "--gpus-per-run", "5"], 1,
     "--gpus-per-run 5 cannot be met: this machine has"),
    # grids above the confirmation size, with no terminal to ask on
    ("sweep grid above the confirmation size", ["sweep", "{big_sweep}"], 1, "has 600 runs, above the 500 that need confirmation; pass --yes"),
    ("sweep --dry-run grid above the confirmation size", ["sweep", "{big_sweep}", "--dry-run"], 1, "pass --yes"),
    ("sweep byte-order mark then a typo", ["sweep", "{bom_sweep}"], 1, "unknown key 'colour'"),
]
ISSUE_25 = _pre_cases() + DAMAGE_CASES + ISSUE_25_MORE
"""The cases issue 25 added: study preflight, damage, paths, facts on disk, executors, grid size."""
CASES += ISSUE_25

SWEEP_HEAD = "results_dir = '{results}'\ncache_dir = '{cache}'\n"
STUDY_BASE = (SWEEP_HEAD + "[grid]\nmethod = ['mlm-unlearn']\ndomain = ['gender']\n[study]\ncontrols = ['random-tokenz']\n")
STUDY_CONTROLS = SWEEP_HEAD + "eval_every = 2\n[grid]\nmethod = ['mlm-unlearn']\ndomain = ['gender']\n[study]\n{extra}\n[study.family]\nname = 'f'\nmeasures = ['crows-pairs.score']\n"


def _snapshot(root: Path) -> set[str]:
    """Every path under ``root`` (links are listed, not followed: the sandbox holds a link loop)."""
    out: set[str] = set()
    for folder, dirs, files in os.walk(root):
        out.update(str(Path(folder, name).relative_to(root)) for name in [*dirs, *files])
    return out


PRE = (SWEEP_HEAD + "{top}\n[grid]\nmethod = ['mlm-unlearn']\ndomain = ['gender']\n{grid_axes}\n{grid}\n[study]\ncontrols = ['benign-ga']\n"
       "{extra}\n[study.family]\nname = 'f'\nmeasures = [{measures}]\n{family}\n")


def _links(tmp: Path) -> None:
    """The sandbox's file, link loop and dangling link."""
    (tmp / "afile").write_text("x")
    for name, target in (("loop", tmp / "loop"), ("dangling", tmp / "nowhere")):
        if not (tmp / name).is_symlink():
            (tmp / name).symlink_to(target)


def _pre(pre: Pre, tmp: Path) -> str:
    axes, grid = (pre.grid, "") if pre.grid.startswith("seed") else ("", pre.grid)
    text = PRE.format(results=tmp / "results", cache=tmp / "cache", top=pre.top, grid_axes=axes, grid=grid, extra=pre.extra,
                      measures=pre.measures, family=pre.family).replace("@tmp@", str(tmp))
    path = tmp / "study.toml"
    path.write_bytes(("\ufeff" if pre.bom else "").encode() + text.encode())
    return str(path)


def _model_folder(tmp: Path, name: str, cut: int = 0, junk: bool = False) -> str:
    """A Hugging Face layout folder that needs no loading to judge: config.json and one tiny safetensors file."""
    import json
    import struct

    folder = tmp / name
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 2, "num_hidden_layers": 2}))
    header = json.dumps({"h.0.attn.c_attn.weight": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    data = b"not safetensors at all" if junk else struct.pack("<Q", len(header)) + header + bytes(16)
    (folder / "model.safetensors").write_bytes(data[:len(data) - cut])
    return str(folder)


def _materialise(arg: Any, tmp: Path) -> str:
    """Replace the case's placeholders with paths in its sandbox (creating the fixtures they name)."""
    results, cache = tmp / "results", tmp / "cache"
    _links(tmp)
    if isinstance(arg, Pre):
        return _pre(arg, tmp)
    if arg.startswith("{damaged:"):
        kind, _, rest = arg[9:].partition("}")
        return str(damaged(tmp / "damaged", kind)) + rest
    if arg == "{model_folder}":
        return _model_folder(tmp, "model")
    if arg == "{cut_model}":
        return _model_folder(tmp, "cut-model", cut=6)
    if arg == "{junk_model}":
        return _model_folder(tmp, "junk-model", junk=True)
    if arg == "{big_sweep}":
        path = tmp / "sweep.toml"
        path.write_text(SWEEP_HEAD.format(results=results, cache=cache) + "[grid]\nmethod = ['mlm-unlearn']\ndomain = ['gender']\n"
                        "seed = [" + ", ".join(map(str, range(600))) + "]\n")
        return str(path)
    if arg == "{bom_sweep}":
        path = tmp / "sweep.toml"
        path.write_bytes(b"\xef\xbb\xbf" + (SWEEP_HEAD.format(results=results, cache=cache) + "colour = 'red'\n[grid]\n"
                                                  "method = ['mlm-unlearn']\ndomain = ['gender']\n").encode())
        return str(path)
    simple = {"{results}": str(results), "{tmp}": str(tmp), "{missing}": str(tmp / "missing")}
    if arg.startswith("{sweep:"):
        path = tmp / "sweep.toml"
        path.write_text(SWEEP_HEAD.format(results=results, cache=cache) + arg[7:-1] + "\n[grid]\nmethod = ['mlm-unlearn']\ndomain = ['gender']\n")
        return str(path)
    if arg.startswith("{sweep_text:"):
        path = tmp / "sweep.toml"
        path.write_text(SWEEP_HEAD.format(results=results, cache=cache) + arg[12:-1])
        return str(path)
    if arg.startswith("{study:"):
        path = tmp / "study.toml"  # a study whose control is misspelt: the family is checked first
        path.write_text(STUDY_BASE.format(results=results, cache=cache) + arg[7:-1])
        return str(path)
    if arg.startswith("{study_controls:"):
        path = tmp / "study.toml"
        path.write_text(STUDY_CONTROLS.format(results=results, cache=cache, extra=arg[16:-1].replace("{{", "{").replace("}}", "}")))
        return str(path)
    if arg == "{study_token_ga}":
        path = tmp / "study.toml"
        text = STUDY_CONTROLS.format(results=results, cache=cache, extra="controls = ['random-tokens']")
        path.write_text(text.replace("method = ['mlm-unlearn']", "method = ['token-ga']"))
        return str(path)
    for key, value in simple.items():
        arg = arg.replace(key, value)
    if "{closed_port}" in arg:  # a loopback port nothing listens on
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        arg = arg.replace("{closed_port}", str(port))
    if "{file}" in arg:
        arg = arg.replace("{file}", str(tmp / "afile"))
    if "{bad_results}" in arg:
        (tmp / "bad").mkdir(exist_ok=True)
        (tmp / "bad" / "runs").write_text("not a folder")
        arg = arg.replace("{bad_results}", str(tmp / "bad"))
    if "{full_folder}" in arg:
        (tmp / "full").mkdir(exist_ok=True)
        (tmp / "full" / "x").write_text("x")
        arg = arg.replace("{full_folder}", str(tmp / "full"))
    if "{plain_corpus}" in arg:
        (tmp / "corpus.txt").write_text("The river was wide and the valley was green in every season of the year .\n" * 20)
        arg = arg.replace("{plain_corpus}", str(tmp / "corpus.txt"))
    if "{empty}" in arg:
        (tmp / "empty").mkdir(exist_ok=True)
        arg = arg.replace("{empty}", str(tmp / "empty"))
    if "{latin1}" in arg:
        (tmp / "latin1.toml").write_bytes("name = 'caf\xe9'\n".encode("latin-1"))
        arg = arg.replace("{latin1}", str(tmp / "latin1.toml"))
    if "{nottoml}" in arg:
        (tmp / "bad.toml").write_text("[grid\nmethod = \n")
        arg = arg.replace("{nottoml}", str(tmp / "bad.toml"))
    for name in ("results_ok", "results_damaged", "results_zero", "results_mixed"):
        if "{" + name + "}" in arg:
            arg = arg.replace("{" + name + "}", str(_results_fixture(tmp, name)))
    return arg


def _results_fixture(tmp: Path, kind: str) -> Path:
    from tests.test_compare import write_run

    folder = tmp / kind
    if kind == "results_zero":
        (folder / "metrics").mkdir(parents=True)
        (folder / "metrics" / "r.parquet").write_bytes(b"")
        return folder
    if kind == "results_mixed":  # one cell, two seeds, two scorings
        write_run(folder, "r0", {("crows-pairs.score", "gender"): (60.0, 55.0)}, protocol={"scoring": "mean"})
        write_run(folder, "r1", {("crows-pairs.score", "gender"): (60.0, 55.0)}, protocol={"scoring": "sum"}, seed=1)
        return folder
    write_run(folder, "r0", {("crows-pairs.score", "gender"): (60.0, 55.0)})
    if kind == "results_damaged":
        (folder / "metrics" / "broken.parquet").write_bytes(b"PAR1 not really")
    return folder


if shutil.which("sbatch") is None:  # not a Slurm login node: --executor slurm (cluster slurm) cannot submit
    CASES.append(("sweep slurm without sbatch", ["sweep", "{sweep:}", "--executor", "slurm"], 1, "sbatch is not on PATH"))

if os.environ.get("DEBIASBENCH_DATA"):  # cases whose plan-time check reads the data folder's word lists or corpus
    CASES += [
        ("cda, a domain without attribute words", ["run", "--method", "cda", "--domain", "disability", "--results-dir", R], 1,
         "has no attribute words"),
        ("inlp, a corpus that never names the groups", ["run", "--method", "inlp", "--domain", "gender", "-o", "corpus={plain_corpus}",
                                                         "--results-dir", R], 1, "has no sentence with a gender attribute word"),
        ("grad-diff, a forget set without retain text", ["run", "--method", "grad-diff", "--forget-set", "toxigen", "--domain",
                                                          "gender-identity", "--results-dir", R], 1, "needs retain text"),
        ("biasunlearn stereoset pairs leak", ["run", "--method", "biasunlearn", "--domain", "gender", "-o", "pairs=stereoset",
                                              "--results-dir", R], 1, "pairs=stereoset would leak"),
        ("pcgu all crows-pairs leak", ["run", "--method", "pcgu", "--domain", "gender", "-o", "pairs=crows-pairs", "-o", "pair_split=all",
                                       "--results-dir", R], 1, "pair_split=all would train on the 'crows-pairs' items"),
        ("sentence-debias, a domain without attribute words", ["run", "--method", "sentence-debias", "--domain", "sexual-orientation",
                                                                "--results-dir", R], 1, "has no attribute words"),
    ]


@pytest.mark.parametrize(("name", "args", "code", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(name: str, args: list[str], code: int, words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEBIASBENCH_CACHE", str(tmp_path / "cache"))
    argv = [_materialise(a, tmp_path) for a in args]
    before = _snapshot(tmp_path)
    result = CliRunner().invoke(app, argv)
    output = result.output
    assert result.exit_code == code, f"{name}: exit {result.exit_code}, expected {code}\n{output}"
    assert words in output, f"{name}: {words!r} not in\n{output}"
    assert "Traceback" not in output and not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), output
    error_lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(error_lines) <= 1, f"{name}: more than one error line\n{output}"
    assert _snapshot(tmp_path) == before, f"{name}: wrote {sorted(_snapshot(tmp_path) - before)}"


@pytest.mark.parametrize(("executor", "package"), [("ray", "ray"), ("slurm", "submitit")])
def test_executor_engine_not_installed(executor: str, package: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing engine names the extra to install, in one line, before anything runs."""
    import sys

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, package, None)  # import fails as if not installed
    argv = ["sweep", _materialise("{sweep:}", tmp_path), "--executor", executor]
    before = _snapshot(tmp_path)
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 1 and f"pip install 'debiasbench[{executor}]'" in result.output, result.output
    assert "Traceback" not in result.output and _snapshot(tmp_path) == before


def test_the_suite_is_large_and_covers_every_command() -> None:
    assert len(CASES) >= 100
    assert len(ISSUE_25) >= 60
    commands = {args[0] for _, args, _, _ in CASES}
    assert {"run", "eval", "compare", "check", "sweep", "study", "list", "spans"} <= commands


if os.environ.get("DEBIASBENCH_BAD_INPUT_REPORT"):  # pragma: no cover - prints the closing note's counts
    print(len(CASES), {c: sum(1 for _, a, _, _ in CASES if a[0] == c) for c in dict.fromkeys(a[0] for _, a, _, _ in CASES)})
    print("issue 25:", len(ISSUE_25), {c: sum(1 for _, a, _, _ in ISSUE_25 if a[0] == c) for c in dict.fromkeys(a[0] for _, a, _, _ in ISSUE_25)})
