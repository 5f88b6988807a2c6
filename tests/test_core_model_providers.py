"""Which model provider loads a spec: registered names first, then ``PROVIDER:SPEC``, then the claimant
of highest precedence; two claimants of equal precedence are refused in one line (issue 26)."""

from __future__ import annotations

import types
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

import debiasbench.plugin_system.loader as plugins_module
from debiasbench import hookimpl
from debiasbench.cli import app
from debiasbench.errors import DebiasbenchError, DuplicateNameError, UnknownNameError
from debiasbench.run.models import find_provider, model_spec
from debiasbench.plugin_system.interfaces import ModelProvider, ModelSettings
from debiasbench.plugin_system.loader import load_plugins


class _HubLike(ModelProvider):
    """Claims anything without a dot, as a hub-id provider does."""

    name: ClassVar[str] = "huggingface"

    def claims(self, spec: str) -> bool:
        return "." not in spec and ":" not in spec

    def load(self, spec: str, settings: ModelSettings) -> Any:
        raise DebiasbenchError(f"{self.name} would load {spec}")


class _Acme(_HubLike):
    name: ClassVar[str] = "acme"  # sorts before huggingface: by name it used to win


class _Eager(_HubLike):
    name: ClassVar[str] = "eager"
    precedence: ClassVar[int] = 5


def _registry(*providers: ModelProvider) -> Any:
    plugins = {}
    for provider in providers:
        module = types.ModuleType(f"plugin_{provider.name}")
        module.register_models = hookimpl(lambda register, _p=provider: register(_p))  # type: ignore[attr-defined]
        plugins[f"{provider.name}-plugin"] = module
    return load_plugins(extra=plugins, entry_points=[])


def test_a_lone_claimant_loads_the_spec() -> None:
    registry = _registry(_HubLike()).registry
    assert find_provider("gpt2", registry).name == "huggingface"


def test_equal_precedence_is_refused_naming_both_and_how_to_choose() -> None:
    registry = _registry(_Acme(), _HubLike()).registry
    with pytest.raises(DuplicateNameError) as info:
        find_provider("gpt2", registry)
    message = str(info.value)
    assert "\n" not in message
    for words in ("'acme' (plugin 'acme-plugin')", "'huggingface' (plugin 'huggingface-plugin')", "equal precedence 0",
                  "--model acme:gpt2", "--model huggingface:gpt2"):
        assert words in message


def test_higher_precedence_wins_whatever_the_names() -> None:
    registry = _registry(_Eager(), _HubLike()).registry
    assert find_provider("gpt2", registry).name == "eager"


def test_a_prefix_chooses_the_provider_and_is_stripped_before_loading() -> None:
    registry = _registry(_Acme(), _HubLike()).registry
    assert find_provider("huggingface:gpt2", registry).name == "huggingface"
    assert find_provider("acme:org/model@main", registry).name == "acme"
    assert model_spec("acme:org/model@main", registry) == "org/model@main"
    assert model_spec("gpt2", registry) == "gpt2" and model_spec("nobody:gpt2", registry) == "nobody:gpt2"
    with pytest.raises(DebiasbenchError, match="model provider 'acme' does not load 'x.gguf'"):
        find_provider("acme:x.gguf", registry)


def test_a_registered_name_still_wins_over_claims() -> None:
    registry = _registry(_Acme(), _HubLike()).registry
    assert find_provider("acme", registry).name == "acme"
    with pytest.raises(UnknownNameError):
        find_provider("x.bin", registry)  # nobody claims it


def test_the_cli_refuses_an_ambiguous_model_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setattr(plugins_module, "_CACHED", _registry(_Acme(), _HubLike()))
    result = CliRunner().invoke(app, ["eval", "--model", "gpt2", "--results-dir", str(tmp_path / "r")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "claimed by model providers 'acme'" in result.output and len(result.output.strip().splitlines()) == 1


def test_first_party_providers_declare_precedence() -> None:
    pytest.importorskip("debiasbench_hf")
    from debiasbench_hf.providers import GGUFFileProvider, HuggingFaceProvider

    assert GGUFFileProvider.precedence > HuggingFaceProvider.precedence == 0
