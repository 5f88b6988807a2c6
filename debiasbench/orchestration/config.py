"""The configuration of one run or evaluation, as the CLI and sweeps build it."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from debiasbench.support.hashing import dumps

DEFAULT_MODEL = "smollm2-135m-q4"
DEFAULT_METRICS = ("crows-pairs", "stereoset", "perplexity")
DEFAULT_FORGET_SET = "hatecheck"


@dataclass
class RunConfig:
    """Everything that defines a run. ``method=None`` means evaluate only (``debiasbench eval``)."""

    method: str | None = None
    model: str = DEFAULT_MODEL
    domain: str | None = None  # source domain: the group whose hate speech is unlearned
    forget_set: str | None = None  # None: the default forget set available offline
    split: str | None = None  # forget-set split (data sets that have splits)
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    eval_domains: list[str] | None = None  # None: every domain each benchmark has
    seed: int = 0
    device: str = "auto"
    dtype: str = "float32"
    trust_remote_code: bool = False
    results_dir: Path = Path("results")
    data_dir: Path | None = None
    cache_dir: Path | None = None
    method_options: dict[str, str] = field(default_factory=dict)
    selector_options: dict[str, str] = field(default_factory=dict)
    metric_options: dict[str, dict[str, str]] = field(default_factory=dict)  # metric -> key -> value
    preset: str = "full"
    eval_limit: int | None = None  # overrides the preset's per-domain subset
    forget_limit: int | None = None  # overrides the preset's forget-set subset
    eval_every: int | None = None  # probe every N steps (trajectory table)
    save_model: Path | None = None
    save_examples: bool = False
    use_cache: bool = True  # reuse cached baseline evaluations
    threads: int | None = None  # CPU threads for torch; None: torch's default (every core)

    @property
    def command(self) -> str:
        return "eval" if self.method is None else "run"

    def to_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}

    def config_hash(self) -> str:
        """Identifies what the run computes (not where it writes): sweeps skip runs already done."""
        skip = {"results_dir", "data_dir", "cache_dir", "save_model", "use_cache", "save_examples", "device", "threads"}
        payload = {k: v for k, v in self.to_json().items() if k not in skip}
        return hashlib.sha256(dumps(payload).encode()).hexdigest()[:16]
