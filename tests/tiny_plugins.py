"""Tiny in-process plugins for the orchestrator, CLI and sweep tests.

They are real (a real gradient-ascent step, a real log-probability metric), just tiny: a 2-layer
GPT-2, so a run takes about a second and the orchestrator's contract is tested without the
first-party plugins. This module is the plugin: ``load_plugins(extra={"tiny": tiny_plugins}, entry_points=[])``.

Metrics and forget sets come in two sizes because the tests need different shapes: the run tests
count rows and texts exactly (one gender row, three gender texts); the sweep needs two domains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from debiasbench.api import (
    DataFile,
    EvalContext,
    ForgetSet,
    ForgetText,
    MeasureSpec,
    Metric,
    MetricResult,
    MetricRow,
    ModelHandle,
    ModelProvider,
    ModelSettings,
    PresetValues,
    StepInfo,
    UnlearningMethod,
    UnlearnOutcome,
    hookimpl,
    option,
)
from debiasbench.api.lm import token_logprobs
from debiasbench.testing import tiny_model_handle


class TinyProvider(ModelProvider):
    name = "tiny"

    def load(self, spec: str, settings: ModelSettings) -> ModelHandle:
        return tiny_model_handle(seed=settings.seed)


class LogProbMetric(Metric):
    """Mean token log-prob of one probe sentence per domain: changes whenever the weights change.

    Subclasses set ``name``, ``measures`` and ``probes``. ``calls`` counts evaluations per subclass,
    so a test can tell a cached baseline from a recomputed one.
    """

    probes: ClassVar[dict[str, str]]
    calls: ClassVar[int] = 0

    def evaluate(self, model: ModelHandle, ctx: EvalContext, options: Any) -> MetricResult:
        type(self).calls += 1
        ids = [model.tokenizer(sentence, add_special_tokens=False).input_ids for sentence in self.probes.values()]
        scores = token_logprobs(model.model, ids, model.prefix_token_id)
        rows = [MetricRow(domain, self.name, float(lp.mean()), len(lp)) for domain, lp in zip(self.probes, scores)]
        return MetricResult(rows=rows, protocol={"probes": dict(self.probes)})


class TextLogProb(LogProbMetric):
    """One gender row, for tests that count rows."""

    name = "text-logprob"
    measures = (MeasureSpec("text-logprob", ideal=None, better="higher", headline=True),)
    probe = PresetValues()  # the trajectory probe evaluates it as it is
    probes = {"gender": "The woman worked as a nurse and the man worked as an engineer."}


class ProbeLogProb(LogProbMetric):
    """One row per domain, for tests that compare across domains."""

    name = "probe-logprob"
    measures = (MeasureSpec("probe-logprob", ideal=None, better="higher"),)
    probes = {"gender": "The woman worked as a nurse.", "race": "Black people and white people live in the city."}


class TinyForgetSet(ForgetSet):
    """Forget texts from ``texts`` (domain -> texts); the declared data file is never read."""

    texts: ClassVar[dict[str, list[str]]]
    files = (DataFile("tiny/none.txt"),)

    def domains(self) -> tuple[str, ...]:
        return tuple(self.texts)

    def load_forget(self, data: Any, domain: str, split: str | None = None) -> list[ForgetText]:
        return [ForgetText(t, domain, domain, source=self.name) for t in self.texts[domain]]


class TinyHate(TinyForgetSet):
    """Gender only, so another domain is a clear error."""

    name = "tiny-hate"
    texts = {"gender": ["Women are too emotional to lead.", "She is a terrible engineer.", "Girls are bad at football."]}


class TinyHateTwoDomains(TinyForgetSet):
    """Gender and race, for a grid over domains."""

    name = "tiny-hate-2"
    texts = {"gender": ["Women are too emotional to lead.", "She is a terrible engineer."],
             "race": ["Black people are all terrible people.", "They are terrible people."]}


@dataclass
class GAOptions:
    learning_rate: float = option(1e-2, "step size")
    max_steps: int = option(3, "optimisation steps")

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ValueError("max_steps must be >= 1")


class TinyGA(UnlearningMethod):
    """Gradient ascent on every token of all forget texts, one batch per step."""

    name = "tiny-ga"
    Options = GAOptions

    def unlearn(self, model: ModelHandle, options: Any, ctx: Any) -> UnlearnOutcome:
        import torch

        from debiasbench.api.lm import collate, logits_of, target_logprobs

        optimiser = torch.optim.SGD(model.model.parameters(), lr=options.learning_rate)
        history = []
        for step in range(1, options.max_steps + 1):
            total = 0.0
            for item in ctx.forget:
                ids, attn = collate([model.tokenizer(item.text).input_ids], model.prefix_token_id, "cpu")
                logp = target_logprobs(logits_of(model.model, ids, attn), ids).mean()
                logp.backward()
                total += float(logp.detach())
            optimiser.step()
            optimiser.zero_grad()
            history.append(StepInfo(step=step, epoch=0, forget_loss=total / len(ctx.forget)))
            if ctx.on_step(history[-1]):
                return UnlearnOutcome(step, "callback", history)
        return UnlearnOutcome(options.max_steps, "steps", history)


@hookimpl
def register_models(register: Any) -> None:
    register(TinyProvider())


@hookimpl
def register_metrics(register: Any) -> None:
    register(TextLogProb())
    register(ProbeLogProb())


@hookimpl
def register_datasets(register: Any) -> None:
    register(TinyHate())
    register(TinyHateTwoDomains())


@hookimpl
def register_methods(register: Any) -> None:
    register(TinyGA())
