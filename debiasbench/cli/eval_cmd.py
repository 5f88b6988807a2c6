"""``debiasbench eval``: evaluate a model without unlearning (the baseline rows)."""

from __future__ import annotations

from debiasbench.cli.options import schema_command
from debiasbench.cli.run_cmd import run_and_report
from debiasbench.run.config import EVAL

eval_command = schema_command(
    EVAL, run_and_report,
    "Evaluate a model (no unlearning); rows are written with stage 'before' and method 'none'.",
)
