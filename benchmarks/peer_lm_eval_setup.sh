#!/usr/bin/env bash
# Creates a separate virtual environment holding EleutherAI's lm-evaluation-harness, the peer
# that benchmarks/peer_lm_eval.py times against our CrowS-Pairs metric.
#
# Why a separate venv: lm_eval pins its own datasets/evaluate/transformers ranges and pulls
# many task dependencies; keeping it out of the main .venv means it can never change what the
# toolkit itself runs on. Why the constraints file: torch==2.13.0 is the CPU build that lies on
# this machine's disk; any other torch spec would download a multi-GB CUDA build.
#
# Usage: bash benchmarks/peer_lm_eval_setup.sh [VENV_DIR]   (default benchmarks/.venv-lm-eval)
# Idempotent: when VENV_DIR already has the pinned lm_eval and torch, it does nothing.
set -euo pipefail

LM_EVAL_VERSION="0.4.13"
TORCH_VERSION="2.13.0"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${1:-$HERE/.venv-lm-eval}"
PYTHON="${PYTHON:-python3}"

installed() {
    "$VENV/bin/python" - "$LM_EVAL_VERSION" "$TORCH_VERSION" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
ok = version("lm_eval") == sys.argv[1] and version("torch").split("+")[0] == sys.argv[2]
ok = ok and all(version(p) for p in ("transformers", "accelerate"))
sys.exit(0 if ok else 1)
EOF
}

# The venv ignores itself (as `python -m venv` does from Python 3.13 on), so that it never
# shows up as untracked in the repository it sits in.
ignore_self() { [ -f "$VENV/.gitignore" ] || echo '*' >"$VENV/.gitignore"; }

if [ -x "$VENV/bin/lm_eval" ] && installed; then
    ignore_self
    echo "lm_eval $LM_EVAL_VERSION already installed in $VENV"
    exit 0
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
ignore_self
CONSTRAINTS="$(mktemp)"
trap 'rm -f "$CONSTRAINTS"' EXIT
echo "torch==$TORCH_VERSION" >"$CONSTRAINTS"

# torch first, on its own, so the resolver sees it satisfied before it reads lm_eval[hf].
"$VENV/bin/pip" install --quiet -c "$CONSTRAINTS" "torch==$TORCH_VERSION"
"$VENV/bin/pip" install --quiet -c "$CONSTRAINTS" "lm_eval[hf]==$LM_EVAL_VERSION"
installed || { echo "lm_eval install in $VENV did not check out" >&2; exit 1; }
echo "lm_eval $LM_EVAL_VERSION installed in $VENV"
