"""Shared fixtures: the real data folder (when CI or the developer points DEBIASBENCH_DATA at it),
one toolkit cache for the whole run (the embedded model is dequantised from GGUF once per run,
not once per test's temp cache or per xdist worker), the embedded model loaded once per process,
and the example plugin pip-installed once per run. The hooks that run the suite on several
processes live in tests/parallel.py."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.parallel import limit_threads, pytest_cmdline_main, pytest_collection_modifyitems, run_folder  # noqa: F401 - hooks

os.environ.setdefault("DEBIASBENCH_NO_PROGRESS", "1")
limit_threads()

EXAMPLE_PLUGIN = Path(__file__).resolve().parent / "example_plugin"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data folder, or skip: these tests need the real data sets."""
    value = os.environ.get("DEBIASBENCH_DATA")
    if not value or not Path(value).is_dir():
        pytest.skip("DEBIASBENCH_DATA is not set to the data folder")
    return Path(value)


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The toolkit cache of the whole run: ``DEBIASBENCH_CACHE`` when the developer set it (the
    conversion is then reused across runs), else a fresh folder of this run that every xdist worker
    shares, exported as ``DEBIASBENCH_CACHE`` so every load that names no cache (in-process,
    CliRunner and subprocesses) shares it. The embedded model is dequantised into it at its first
    load, once per run (workers loading it at the same moment wait on the converter's file lock),
    and the user's own ``~/.cache/debiasbench`` is left alone. Tests that need an empty cache still
    pass their own ``--cache-dir`` / ``DEBIASBENCH_CACHE``."""
    value = os.environ.get("DEBIASBENCH_CACHE")
    if value:
        yield Path(value)
        return
    root = run_folder(tmp_path_factory) / "debiasbench-cache"
    root.mkdir(exist_ok=True)  # the first worker creates it; every cache write inside is atomic
    os.environ["DEBIASBENCH_CACHE"] = str(root)
    try:
        yield root
    finally:
        os.environ.pop("DEBIASBENCH_CACHE", None)


@pytest.fixture(scope="session")
def embedded_model(session_cache: Path) -> Any:
    """The embedded SmolLM2-135M, loaded once for the session from :func:`session_cache`, or skip.

    Shared by every test that takes it: use it read-only (evaluate, score, generate). A test that
    trains or edits the weights takes :func:`embedded_model_copy` instead."""
    pytest.importorskip("debiasbench_hf")
    from debiasbench.errors import DebiasbenchError
    from debiasbench.run.models import load_model
    from debiasbench.plugin_system.interfaces import ModelSettings
    from debiasbench.plugin_system.loader import get_registry

    try:
        return load_model("smollm2-135m-q4", ModelSettings(device="cpu", cache_dir=session_cache), get_registry())
    except DebiasbenchError as exc:
        if "is not installed" not in str(exc):  # installed but broken (a wrong file, a failed conversion): a failure
            raise
        pytest.skip(f"embedded model unavailable: {exc}")


@pytest.fixture
def embedded_model_copy(embedded_model: Any) -> Any:
    """A private deep copy of :func:`embedded_model` that a test may train or change."""
    import copy

    return copy.deepcopy(embedded_model)


@pytest.fixture(scope="session")
def example_plugin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The example plugin (tests/example_plugin) pip-installed once for the run, and the
    environment for subprocesses that see it: ``os.environ`` with the install folder first on
    ``PYTHONPATH``, so ``debiasbench`` finds its entry points like any installed package's.

    pip installs a copy (no build files left in tests/) with ``--target`` into a folder of the run,
    not into the running environment: a developer's venv is never changed by the tests, and an
    example plugin already installed there is shadowed (the first distribution on ``sys.path`` wins).
    The first xdist worker to need it installs it behind a file lock; the others wait and reuse it."""
    from filelock import FileLock

    root = run_folder(tmp_path_factory) / "example-plugin"
    with FileLock(f"{root}.lock"):
        if not (root / "installed").is_file():
            shutil.rmtree(root, ignore_errors=True)  # a worker that failed half-way
            _install_example_plugin(root)
            (root / "installed").write_text("")
    path = os.pathsep.join(p for p in (str(root / "site"), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "DEBIASBENCH_NO_PROGRESS": "1"}


def _install_example_plugin(root: Path) -> None:
    """``pip install --target root/site`` of a copy of tests/example_plugin (root/source)."""
    source, target = root / "source", root / "site"
    shutil.copytree(EXAMPLE_PLUGIN, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check", "--no-compile",
               "--target", str(target), str(source)]
    if importlib.util.find_spec("setuptools") is not None:
        command.insert(5, "--no-build-isolation")  # works offline when setuptools is already here
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (target / "debiasbench_example_plugin" / "plugin.py").is_file(), sorted(p.name for p in target.iterdir())

