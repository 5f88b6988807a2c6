"""Options every loss-based method shares: optimisation, stopping rules, LoRA (``-o key=value``).

They live beside the loop because the loop is what reads them; a method's own options
(``alpha``, ``beta``, ...) subclass :class:`SelectiveOptions` (or :class:`TrainingOptions` when
the method takes no span selector). Importing this module imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from debiasbench.plugin_system.interfaces import option


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


SELECTOR_HELP = "span selector: which tokens are unlearned (default: the installed default selector; see `debiasbench list selectors`)"


@dataclass
class SelectiveOptions(TrainingOptions):
    """:class:`TrainingOptions` plus the span selector (the core resolves the field ``selector``)."""

    selector: str | None = option(None, SELECTOR_HELP)


ALL_TEXTS = "all"


@dataclass
class EveryTokenOptions(TrainingOptions):
    """:class:`TrainingOptions` of a loss on every token (``select_all``), plus which texts it trains on.

    A selective method drops the texts in which its selector selects nothing; the every-token
    baseline it is compared with must train on exactly those texts, or the comparison mixes a
    change of objective with a change of data (docs/concepts.md, "The seed study": "the same texts").
    """

    texts_like: str | None = option(None, "train on the texts in which this span selector selects at least one token, as the "
                                          "selective method compared with does (default: the installed default selector; "
                                          f"{ALL_TEXTS!r}: every text)")
