"""Slow: debiasbench-unlearn on the embedded SmolLM2-135M and the shared HateCheck data
(a few optimisation steps, the counterfactual selector, and ``debiasbench spans``)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

pytest.importorskip("debiasbench_unlearn")
pytest.importorskip("debiasbench_hf")

from debiasbench_unlearn.selection import tokenize_forget  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from debiasbench.cli import app  # noqa: E402
from debiasbench.lm.logprobs import token_logprobs  # noqa: E402
from debiasbench.plugin_system.interfaces import (  # noqa: E402
    SelectorContext,
    UnlearnContext,
)
from debiasbench.plugin_system.loader import get_registry  # noqa: E402
from debiasbench.data.locator import DataLocator  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(data_dir: Path, embedded_model):
    import copy

    registry = get_registry()
    handle = copy.deepcopy(embedded_model)  # the session's model (tests/conftest.py), copied: these tests train it
    locator = DataLocator(data_dir, download=False)
    forget = random.Random(0).sample(registry.get("dataset", "hatecheck").load_forget(locator, "gender"), 16)
    return registry, handle, locator, forget


def test_counterfactual_on_the_embedded_model(setup):
    registry, handle, locator, forget = setup
    items = tokenize_forget(handle.tokenizer, forget)
    ctx = SelectorContext(model=handle, data=locator, registry=registry, domain="gender", options={"top_k": "0.2"})
    masks = registry.get("selector", "counterfactual").select(items, ctx)
    assert 0 < sum(map(sum, masks)) <= 0.2 * sum(map(len, masks)) + len(masks)


def test_mlm_unlearn_steps_on_the_embedded_model(setup):
    registry, handle, locator, forget = setup
    method, selector = registry.get("method", "mlm-unlearn"), registry.get("selector", "annotated")
    selector_ctx = SelectorContext(model=handle, data=locator, registry=registry, domain="gender")
    items = tokenize_forget(handle.tokenizer, forget)
    masks = selector.select(items, selector_ctx)

    def selected_logprob() -> float:
        lps = token_logprobs(handle.model, [it.input_ids for it in items], handle.prefix_token_id)
        picked = [v for lp, m in zip(lps, masks) for v, chosen in zip(lp, m) if chosen]
        return sum(picked) / len(picked)

    before = selected_logprob()
    ctx = UnlearnContext(forget=forget, retain=[], selector=selector, selector_ctx=selector_ctx, registry=registry, seed=0)
    outcome = method.unlearn(handle, method.Options(max_steps=4, batch_size=8), ctx)
    assert (outcome.steps, outcome.stop_reason) == (4, "steps")
    assert selected_logprob() < before - 1.0
    assert 0 < outcome.selected_tokens < outcome.total_tokens
    assert not handle.model.training


def test_spans_command_on_the_embedded_model(data_dir: Path):
    result = CliRunner().invoke(app, ["spans", "--domain", "gender", "--limit", "4", "--device", "cpu", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "annotated on hatecheck / gender: 4 texts" in result.output and "smollm2-135m-q4 tokenizer" in result.output
