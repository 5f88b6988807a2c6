"""Large models on one node (issue 15, item 3), on tiny models and CPU only.

``--device-map auto`` (everything on CPU here, the same code path a multi-GPU node takes), inputs
on the input embedding's device (also for weights offloaded by accelerate), LoRA chosen above
``--lora-threshold`` and saved merged, gradient checkpointing with the same losses and gradients,
bfloat16 training, and the per-device peak memory in the run record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from debiasbench.api import ForgetText, ModelSettings, UnlearnContext, build_options
from debiasbench.api.lm import model_device, token_logprobs
from debiasbench.errors import DebiasbenchError
from debiasbench.run.config import RunConfig
from debiasbench.run.end_to_end import execute, plan_run
from debiasbench.plugin_system.loader import load_plugins
from debiasbench.results.tables import read_table
from debiasbench.runtime.memory import headline_mb, peaks_mb
from debiasbench.testing import tiny_model_handle
from debiasbench.training.weights import trainable
from tests import tiny_plugins

pytest.importorskip("debiasbench_hf")
pytest.importorskip("debiasbench_unlearn")

from debiasbench_hf import plugin as hf_plugin  # noqa: E402
from debiasbench_hf.folder_loader import load_folder  # noqa: E402
from debiasbench_unlearn import methods_plugin  # noqa: E402

TEXTS = ["Women are too emotional to lead.", "She is a terrible engineer.", "Girls are bad at football."]
PROBE = "The woman worked as a nurse and the man worked as an engineer."


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny GPT-2 saved in Hugging Face layout, so the real folder loader (and its device map) loads it."""
    folder = tmp_path_factory.mktemp("tiny-model")
    tiny_model_handle(seed=0, texts=[*TEXTS, PROBE]).save(folder)
    return folder


@pytest.fixture()
def plugins() -> Any:
    return load_plugins(extra={"tiny": tiny_plugins, "hf": hf_plugin, "methods": methods_plugin}, entry_points=[])


def _load(folder: Path, tmp_path: Path, **settings: Any) -> Any:
    return load_folder(folder, ModelSettings(cache_dir=tmp_path / "cache", **settings), name=str(folder), source=str(folder),
                       provider="test", fingerprint="tiny")


def _scores(handle: Any) -> list[float]:
    ids = handle.tokenizer(PROBE, add_special_tokens=False).input_ids
    return [float(x) for x in token_logprobs(handle.model, [ids], handle.prefix_token_id)[0]]


def _config(tmp_path: Path, model: Path, **kw: Any) -> RunConfig:
    base = dict(method="token-ga", model=str(model), domain="gender", forget_set="tiny-hate", metrics=["text-logprob"],
                results_dir=tmp_path / "results", cache_dir=tmp_path / "cache",
                method_options={"texts_like": "all", "max_steps": 2, "batch_size": 3, "learning_rate": 5e-2})
    base.update(kw)
    return RunConfig(**base)


def _run_row(tmp_path: Path) -> dict[str, Any]:
    runs = read_table(tmp_path / "results", "runs").to_pylist()
    assert len(runs) == 1
    return runs[0]


# --------------------------------------------------------------------------- device map


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_device_map_auto_on_cpu_puts_everything_on_cpu_with_the_same_scores(tiny_folder: Path, tmp_path: Path, dtype: str) -> None:
    plain = _load(tiny_folder, tmp_path, dtype=dtype)
    mapped = _load(tiny_folder, tmp_path, dtype=dtype, device_map="auto")
    assert mapped.device == "cpu" and mapped.info["device_map"] == {"": "cpu"} and mapped.dtype == dtype
    assert {str(p.dtype) for p in mapped.model.parameters()} == {f"torch.{dtype}"}
    assert "device_map" not in plain.info
    assert _scores(mapped) == _scores(plain)


def test_inputs_go_where_the_embedding_runs_when_accelerate_offloads_the_weights(tiny_folder: Path, tmp_path: Path) -> None:
    """Weights offloaded by accelerate sit on ``meta``; the input device is the hook's execution
    device, and the metrics plugin's scorer (its output-layer fast path included) still works."""
    from accelerate import cpu_offload
    from debiasbench_metrics.scoring.scorer import sentence_logprobs

    plain = _load(tiny_folder, tmp_path)
    offloaded = _load(tiny_folder, tmp_path)
    cpu_offload(offloaded.model, execution_device=torch.device("cpu"))
    assert offloaded.model.get_input_embeddings().weight.device.type == "meta"
    assert model_device(offloaded.model) == torch.device("cpu")
    ids = [plain.tokenizer(PROBE, add_special_tokens=False).input_ids]
    expected = sentence_logprobs(plain, ids, batch_size=1)[0]
    assert sentence_logprobs(offloaded, ids, batch_size=1)[0] == pytest.approx(expected, abs=1e-5)


def test_eval_with_device_map_records_the_placement_and_memory(tiny_folder: Path, tmp_path: Path, plugins: Any) -> None:
    execute(plan_run(_config(tmp_path, tiny_folder, method=None, forget_set=None, domain=None, device_map="auto"), plugins))
    row = _run_row(tmp_path)
    config = json.loads(row["config"])
    assert config["device_map"] == "auto" and config["resolved"]["model_info"]["device_map"] == {"": "cpu"}
    assert row["device"] == "cpu"
    by_device = json.loads(row["peak_memory_by_device"])
    assert by_device["cpu"] > 0 and row["peak_memory_mb"] == by_device["cpu"]


def test_peak_memory_sums_the_gpus_a_split_model_used() -> None:
    assert peaks_mb()["cpu"] > 0
    assert headline_mb({"cpu": 900.0, "cuda:0": 300.0, "cuda:1": 200.0}) == 500.0
    assert headline_mb({"cpu": 900.0}) == 900.0


# --------------------------------------------------------------------------- LoRA by size


@pytest.mark.parametrize(("extra", "applied", "reason"), [
    ({"lora_threshold": 100.0}, True, "parameters > --lora-threshold 100"),
    ({}, False, "parameters <= --lora-threshold 1e+09"),
    ({"lora_threshold": 100.0, "full_finetune": True}, False, "--full-finetune"),
])
def test_lora_is_chosen_by_model_size_and_recorded(tiny_folder: Path, tmp_path: Path, plugins: Any, extra: dict[str, Any],
                                                   applied: bool, reason: str) -> None:
    pytest.importorskip("peft")
    execute(plan_run(_config(tmp_path, tiny_folder, **extra), plugins))
    row = _run_row(tmp_path)
    choice = json.loads(row["config"])["resolved"]["lora"]
    assert choice["applied"] is applied and reason in choice["reason"]
    assert choice["parameters"] == sum(p.numel() for p in _load(tiny_folder, tmp_path).model.parameters())
    info = json.loads(row["method_info"])
    assert info["lora"] is applied and json.loads(row["config"])["resolved"]["method_options"]["lora"] is applied
    assert (info["trained_parameters"] < choice["parameters"]) is applied


def test_explicit_lora_option_wins_over_the_threshold(tiny_folder: Path, tmp_path: Path, plugins: Any) -> None:
    config = _config(tmp_path, tiny_folder, lora_threshold=100.0)
    config.method_options["lora"] = False
    execute(plan_run(config, plugins))
    choice = json.loads(_run_row(tmp_path)["config"])["resolved"]["lora"]
    assert choice["applied"] is False and choice["reason"] == "-o lora=false (explicit)"


def test_lora_trains_changes_the_output_and_saves_merged(tiny_folder: Path, tmp_path: Path, plugins: Any) -> None:
    """Chosen by the threshold, LoRA moves the metric; the saved folder holds plain merged weights
    (no adapter tensors) that load back to the run's 'after' figure."""
    pytest.importorskip("peft")
    from safetensors import safe_open

    saved = tmp_path / "saved"
    result = execute(plan_run(_config(tmp_path, tiny_folder, lora_threshold=100.0, save_model=saved), plugins))
    value = {row["stage"]: row["value"] for row in result.metrics_rows}
    assert value["after"] != pytest.approx(value["before"], abs=1e-4)
    names = [name for file in saved.glob("*.safetensors") for name in safe_open(file, "pt").keys()]
    assert names and not any("lora" in name for name in names)
    again = _load(saved, tmp_path)
    original = _load(tiny_folder, tmp_path)
    assert sorted(again.model.state_dict()) == sorted(original.model.state_dict())
    ids = again.tokenizer(PROBE, add_special_tokens=False).input_ids
    lp = token_logprobs(again.model, [ids], again.prefix_token_id)[0]
    assert float(lp.mean()) == pytest.approx(value["after"], abs=1e-5)


def test_lora_is_refused_in_one_line_without_peft(tiny_folder: Path, tmp_path: Path, plugins: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a))
    with pytest.raises(DebiasbenchError, match="peft is missing; install it with: pip install peft \\(or pass --full-finetune\\)"):
        execute(plan_run(_config(tmp_path, tiny_folder, lora_threshold=100.0), plugins))
    assert not (tmp_path / "results").exists()


# --------------------------------------------------------------------------- gradient checkpointing


def _loss_and_grads(handle: Any, lora: bool, checkpointing: bool) -> tuple[float, dict[str, torch.Tensor], int]:
    """One forward/backward of the mean token NLL; also how often an MLP ran (twice per step when checkpointed)."""
    from debiasbench.api.lm import collate, logits_of, target_logprobs

    options = build_options(methods_plugin.TokenGA.Options, {"lora": str(lora).lower()}, "token-ga")
    calls = []
    # a pre-hook: non-reentrant recomputation stops once the saved tensors are back, before the MLP returns
    hook = handle.model.transformer.h[0].mlp.register_forward_pre_hook(lambda *a: calls.append(1))
    try:
        with trainable(handle, options, seed=0, checkpointing=checkpointing) as (model, params):
            ids, attn = collate([handle.tokenizer(t, add_special_tokens=False).input_ids for t in TEXTS], handle.prefix_token_id,
                                model_device(model))
            loss = -target_logprobs(logits_of(model, ids, attn), ids).mean()
            loss.backward()
            grads = {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    finally:
        hook.remove()
    return float(loss.detach()), grads, len(calls)


@pytest.mark.parametrize("lora", [False, True])
def test_gradient_checkpointing_gives_the_same_loss_and_gradients(lora: bool) -> None:
    if lora:
        pytest.importorskip("peft")
    loss, grads, calls = _loss_and_grads(tiny_model_handle(seed=0, texts=TEXTS), lora, checkpointing=False)
    handle = tiny_model_handle(seed=0, texts=TEXTS)
    loss_c, grads_c, calls_c = _loss_and_grads(handle, lora, checkpointing=True)
    assert (calls, calls_c) == (1, 2)  # the layer really was recomputed in backward, in eval mode
    assert loss_c == pytest.approx(loss, abs=1e-6)
    assert grads_c.keys() == grads.keys() and grads
    for name in grads:
        torch.testing.assert_close(grads_c[name], grads[name], rtol=1e-5, atol=1e-7)
    model = handle.model
    assert not model.is_activation_checkpointing and not any(m.training for m in model.modules())
    assert getattr(model, "_require_grads_hook", None) is None


def test_gradient_checkpointing_is_recorded(tiny_folder: Path, tmp_path: Path, plugins: Any) -> None:
    execute(plan_run(_config(tmp_path, tiny_folder, gradient_checkpointing=True), plugins))
    row = _run_row(tmp_path)
    assert json.loads(row["config"])["resolved"]["gradient_checkpointing"] is True
    assert json.loads(row["method_info"])["gradient_checkpointing"] is True


def test_a_model_that_cannot_checkpoint_is_refused_before_evaluation(tmp_path: Path, plugins: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import GPT2LMHeadModel

    monkeypatch.setattr(GPT2LMHeadModel, "supports_gradient_checkpointing", False)
    config = _config(tmp_path, Path("tiny"), gradient_checkpointing=True)
    with pytest.raises(DebiasbenchError, match="does not support gradient checkpointing; leave --gradient-checkpointing out"):
        execute(plan_run(config, plugins))
    assert not (tmp_path / "results").exists()


# --------------------------------------------------------------------------- bfloat16


@pytest.mark.parametrize("lora", [False, True])
def test_bfloat16_trains_and_records_what_trained(lora: bool) -> None:
    """bfloat16 weights train (AdamW's moments follow each weight's dtype); peft keeps LoRA adapters in float32."""
    from debiasbench.api.training import train
    from debiasbench.training.objective import UnlearningLoss
    from debiasbench_unlearn.methods.ascent import EveryTokenAscent

    if lora:
        pytest.importorskip("peft")
    handle = tiny_model_handle(seed=0, texts=[*TEXTS, PROBE])
    handle.model.to(torch.bfloat16)
    handle.dtype = "bfloat16"
    before = _scores(handle)
    options = build_options(methods_plugin.TokenGA.Options, {"lora": str(lora).lower(), "texts_like": "all", "max_steps": "2",
                                                             "learning_rate": "5e-2", "batch_size": "3"}, "token-ga")
    ctx = UnlearnContext(forget=[ForgetText(t, "gender", "women") for t in TEXTS], retain=[], selector=None,
                         selector_ctx=None, registry=None, seed=0)  # type: ignore[arg-type]
    loss: UnlearningLoss = EveryTokenAscent()
    outcome = train("token-ga", handle, options, ctx, loss)
    assert outcome.info["trained_dtypes"] == (["float32"] if lora else ["bfloat16"])
    assert all(p.dtype == torch.bfloat16 for p in handle.model.parameters())
    assert _scores(handle) != before


# --------------------------------------------------------------------------- sweeps


def test_a_sweep_file_sets_the_large_model_settings(tmp_path: Path, plugins: Any, tiny_folder: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """They are top-level keys of a sweep (and so of a study), from the same run schema as the flags."""
    import debiasbench.plugin_system.loader
    from debiasbench.campaign.sweep import validate
    from debiasbench.campaign.sweep_file import load_sweep

    monkeypatch.setattr(debiasbench.plugin_system.loader, "_CACHED", plugins)
    path = tmp_path / "sweep.toml"
    path.write_text(f"""
model = "{tiny_folder}"
forget_set = "tiny-hate"
metrics = ["text-logprob"]
results_dir = "{tmp_path / 'results'}"
cache_dir = "{tmp_path / 'cache'}"
device_map = "auto"
gradient_checkpointing = true
lora_threshold = 1e6
full_finetune = true
[grid]
method = ["token-ga"]
domain = ["gender"]
[options.token-ga]
texts_like = "all"
""")
    sweep = load_sweep(path, plugins=plugins)
    (point,) = sweep.points
    assert (point.config.device_map, point.config.gradient_checkpointing, point.config.lora_threshold, point.config.full_finetune) == (
        "auto", True, 1e6, True)
    assert len(validate(sweep)) == 1


def test_the_recorded_cpu_peak_survives_a_reset_of_the_kernel_counter() -> None:
    """``--batch-size auto`` resets the kernel's resident high-water mark to measure a batch; the
    run record still reports the peak from before."""
    from debiasbench.lm.batch_size import peak_rss, reset_peak_rss

    if peak_rss() is None:
        pytest.skip("no /proc/self/status here")
    ballast = bytearray(256 * 2**20)  # raise the peak by 256 MiB, then let it go
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])
    high = peaks_mb()["cpu"]
    del ballast
    reset_peak_rss()
    assert peaks_mb()["cpu"] >= high


def test_a_provider_that_ignores_the_device_map_is_named(tmp_path: Path, plugins: Any) -> None:
    """A third-party provider that does not split the model still runs; the log says so."""
    lines: list[str] = []
    config = _config(tmp_path, Path("tiny"), method=None, forget_set=None, domain=None, device_map="auto")
    execute(plan_run(config, plugins), log=lines.append)
    assert "note: model provider 'tiny' reported no device map; the whole model is on cpu" in lines


def test_a_third_party_provider_receives_the_device_map(tmp_path: Path) -> None:
    """The request travels in ``ModelSettings`` through the ``register_models`` hook's provider, so any package can honour it."""
    import types

    from debiasbench import hookimpl
    from debiasbench.api import ModelProvider

    seen: list[ModelSettings] = []

    class Recording(ModelProvider):
        name = "recording"

        def load(self, spec: str, settings: ModelSettings) -> Any:
            seen.append(settings)
            handle = tiny_model_handle(seed=settings.seed)
            handle.info["device_map"] = {"": "cpu"}
            return handle

    module = types.SimpleNamespace(register_models=hookimpl(lambda register: register(Recording())))
    plugins = load_plugins(extra={"tiny": tiny_plugins, "third": module}, entry_points=[])
    lines: list[str] = []
    execute(plan_run(_config(tmp_path, Path("recording"), method=None, forget_set=None, domain=None, device_map="auto"), plugins),
            log=lines.append)
    assert [s.device_map for s in seen] == ["auto"] and "model debiasbench.testing split over cpu (float32), prefix token 0" in lines
