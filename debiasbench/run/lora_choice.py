"""Whether a run trains LoRA adapters or all weights, decided once the model's size is known.

A 7-8B model's full fine-tuning needs its weights, gradients and two AdamW moments in memory
(16 bytes a parameter in float32, over 100 GB), so above ``--lora-threshold`` parameters a method
with a ``lora`` option trains LoRA adapters (merged afterwards) unless the user said otherwise:
``-o lora=true|false`` (or a preset's value) decides explicitly, ``--full-finetune`` keeps all
weights. The decision and its reason go into the run record (``config.resolved.lora``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass
from typing import Any

from debiasbench.errors import DebiasbenchError
from debiasbench.run.plan import Plan
from debiasbench.plugin_system.interfaces import ModelHandle
from debiasbench.plugin_system.presets import values_for

LORA_OPTION = "lora"


@dataclass(frozen=True)
class LoraChoice:
    """What was decided and why (recorded as is)."""

    applied: bool
    reason: str
    parameters: int
    threshold: float

    def record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def has_lora_option(options: Any) -> bool:
    """True when the method's options have a boolean ``lora`` field (the shared training loop's)."""
    return options is not None and LORA_OPTION in {f.name for f in dataclasses.fields(options)}


def explicit_lora(plan: Plan) -> bool | None:
    """``lora`` as the user (``-o lora=...``) or the preset set it; None when neither did."""
    if LORA_OPTION in plan.config.method_options:
        return bool(plan.config.method_options[LORA_OPTION])
    preset = values_for(plan.method, plan.config.preset).options if plan.method is not None else {}
    return bool(preset[LORA_OPTION]) if LORA_OPTION in preset else None


def choose_lora(plan: Plan, handle: ModelHandle) -> LoraChoice | None:
    """Decide LoRA for ``plan`` on the loaded model, set it in ``plan.method_options``; None for a
    method without a ``lora`` option (it trains as it always does)."""
    if plan.method is None or not has_lora_option(plan.method_options):
        return None
    config = plan.config
    parameters = int(sum(p.numel() for p in handle.model.parameters()))
    threshold = float(config.lora_threshold)
    given = explicit_lora(plan)
    if given is not None:
        choice = LoraChoice(given, f"-o lora={str(given).lower()} (explicit)", parameters, threshold)
    elif config.full_finetune:
        choice = LoraChoice(False, "--full-finetune", parameters, threshold)
    elif parameters > threshold:
        choice = LoraChoice(True, f"{parameters:,} parameters > --lora-threshold {threshold:g}", parameters, threshold)
    else:
        choice = LoraChoice(False, f"{parameters:,} parameters <= --lora-threshold {threshold:g}", parameters, threshold)
    if choice.applied and importlib.util.find_spec("peft") is None:
        raise DebiasbenchError(f"LoRA is chosen for {plan.model} ({choice.reason}) but the package peft is missing; "
                               "install it with: pip install peft (or pass --full-finetune)")
    plan.method_options = dataclasses.replace(plan.method_options, **{LORA_OPTION: choice.applied})
    return choice
