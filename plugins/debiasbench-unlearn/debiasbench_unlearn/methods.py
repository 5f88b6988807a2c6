"""The unlearning methods of SPEC section 6 and their typed options.

Each method is an objective (losses.py) run by the shared loop (trainer.py). Defaults were
chosen on the embedded SmolLM2-135M with the default forget set (HateCheck, whose focus words
the default ``annotated`` selector uses): see the package README for the measurements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from debiasbench.api import ModelHandle, UnlearnContext, UnlearningMethod, UnlearnOutcome, option
from debiasbench_unlearn.trainer import Objective, unlearn


@dataclass
class TrainingOptions:
    """Options every method shares."""

    learning_rate: float = option(1e-5, "AdamW learning rate")
    epochs: int = option(2, "passes over the forget texts")
    max_steps: int | None = option(None, "stop after this many optimisation steps (whichever comes first with epochs); none: epochs decide")
    batch_size: int = option(8, "forget texts per step (and retain texts per step, for methods that use them)")
    max_length: int = option(128, "tokens per text, prefix token included; longer texts are cut")
    forget_loss_threshold: float | None = option(
        None, "stop once the mean log-probability of the selected tokens in a batch is at or below this (nats, e.g. -15); none: off")
    retain_ppl_ceiling: float | None = option(
        None, "stop once retain perplexity exceeds this multiple of its value before unlearning (e.g. 1.5); none: off")
    retain_every: int = option(10, "measure retain perplexity every N steps (with retain_ppl_ceiling)")
    retain_eval_texts: int = option(64, "retain texts (seeded sample) the perplexity ceiling is measured on")
    grad_clip: float | None = option(1.0, "clip the gradient norm to this; none: no clipping")
    weight_decay: float = option(0.0, "AdamW weight decay")
    lora: bool = option(False, "train LoRA adapters (needs peft) and merge them afterwards, instead of all weights")
    lora_r: int = option(8, "LoRA rank")
    lora_alpha: float = option(16.0, "LoRA scaling alpha")
    lora_targets: str = option("", "comma-separated module names for LoRA (e.g. q_proj,v_proj); empty: peft's default for the architecture")

    def __post_init__(self) -> None:
        checks = [
            (self.learning_rate > 0, f"learning_rate must be positive, got {self.learning_rate}"),
            (self.epochs >= 1, f"epochs must be 1 or more, got {self.epochs}"),
            (self.max_steps is None or self.max_steps >= 1, f"max_steps must be 1 or more, got {self.max_steps}"),
            (self.batch_size >= 1, f"batch_size must be 1 or more, got {self.batch_size}"),
            (self.max_length >= 2, f"max_length must be 2 or more, got {self.max_length}"),
            (self.forget_loss_threshold is None or self.forget_loss_threshold < 0,
             f"forget_loss_threshold is a log-probability and must be negative, got {self.forget_loss_threshold}"),
            (self.retain_ppl_ceiling is None or self.retain_ppl_ceiling > 1,
             f"retain_ppl_ceiling is a multiple of the starting perplexity and must exceed 1, got {self.retain_ppl_ceiling}"),
            (self.retain_every >= 1, f"retain_every must be 1 or more, got {self.retain_every}"),
            (self.retain_eval_texts >= 1, f"retain_eval_texts must be 1 or more, got {self.retain_eval_texts}"),
            (self.grad_clip is None or self.grad_clip > 0, f"grad_clip must be positive or none, got {self.grad_clip}"),
            (self.weight_decay >= 0, f"weight_decay must be 0 or more, got {self.weight_decay}"),
            (self.lora_r >= 1, f"lora_r must be 1 or more, got {self.lora_r}"),
            (self.lora_alpha > 0, f"lora_alpha must be positive, got {self.lora_alpha}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


SELECTOR_HELP = ("span selector: annotated (the forget set's spans; hatecheck has them), lexicon, counterfactual, "
                 "all or random (see `debiasbench list selectors`)")


@dataclass
class SelectiveOptions(TrainingOptions):
    selector: str = option("annotated", SELECTOR_HELP)


@dataclass
class GradDiffOptions(SelectiveOptions):
    alpha: float = option(1.0, "weight of the retain NLL term")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.alpha < 0:
            raise ValueError(f"alpha must be 0 or more, got {self.alpha}")


@dataclass
class KLOptions(SelectiveOptions):
    alpha: float = option(1.0, "weight of the KL(p_ref || p_theta) retain term")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.alpha < 0:
            raise ValueError(f"alpha must be 0 or more, got {self.alpha}")


@dataclass
class NPOOptions(SelectiveOptions):
    beta: float = option(0.1, "NPO inverse temperature beta")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beta <= 0:
            raise ValueError(f"beta must be positive, got {self.beta}")


class MLMUnlearn(UnlearningMethod):
    """Gradient ascent on the selected (harmful) tokens only: the seed study's method."""

    name: ClassVar[str] = "mlm-unlearn"
    description: ClassVar[str] = "gradient ascent on the log-likelihood of the selected harmful tokens only (Lu et al. 2024)"
    Options: ClassVar[type] = SelectiveOptions

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        return unlearn(self.name, model, options, ctx, Objective(forget="ga"))


class TokenGA(UnlearningMethod):
    """The baseline: gradient ascent on every token of the forget texts (no selector)."""

    name: ClassVar[str] = "token-ga"
    description: ClassVar[str] = "gradient ascent on every token of the forget texts (the study's baseline)"
    Options: ClassVar[type] = TrainingOptions

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        return unlearn(self.name, model, options, ctx, Objective(forget="ga", select_all=True))


class GradDiff(UnlearningMethod):
    """Gradient ascent on the selected tokens plus ``alpha`` x NLL on retain text."""

    name: ClassVar[str] = "grad-diff"
    description: ClassVar[str] = "selected-token gradient ascent + alpha * NLL on retain text"
    Options: ClassVar[type] = GradDiffOptions
    needs_retain: ClassVar[bool] = True

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        return unlearn(self.name, model, options, ctx, Objective(forget="ga", retain="nll", alpha=options.alpha))


class KLUnlearn(UnlearningMethod):
    """Gradient ascent on the selected tokens plus ``alpha`` x KL to the frozen model on retain text."""

    name: ClassVar[str] = "kl"
    description: ClassVar[str] = "selected-token gradient ascent + alpha * KL(p_ref || p_theta) on retain text"
    Options: ClassVar[type] = KLOptions
    needs_retain: ClassVar[bool] = True

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        return unlearn(self.name, model, options, ctx, Objective(forget="ga", retain="kl", alpha=options.alpha))


class NPO(UnlearningMethod):
    """Negative preference optimisation on the selected tokens (a bounded, slower-diverging GA)."""

    name: ClassVar[str] = "npo"
    description: ClassVar[str] = "negative preference optimisation (Zhang et al. 2024) on the selected tokens"
    Options: ClassVar[type] = NPOOptions

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        return unlearn(self.name, model, options, ctx, Objective(forget="npo", beta=options.beta))
