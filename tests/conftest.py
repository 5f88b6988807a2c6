"""Shared fixtures: the real data folder (when CI or the developer points DEBIASBENCH_DATA at it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("DEBIASBENCH_NO_PROGRESS", "1")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data folder, or skip: these tests need the real data sets."""
    value = os.environ.get("DEBIASBENCH_DATA")
    if not value or not Path(value).is_dir():
        pytest.skip("DEBIASBENCH_DATA is not set to the data folder")
    return Path(value)
