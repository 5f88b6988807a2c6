"""A run's peak memory is its own, even when a study or sweep ran other runs in the same process."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from debiasbench.runtime.memory import peak_rss, peaks_mb, reset_peaks


@pytest.mark.skipif(not sys.platform.startswith("linux") or peak_rss() is None, reason="needs Linux /proc")
def test_reset_peaks_forgets_an_earlier_runs_peak():
    reset_peaks()  # the process may have held more before (the tests before this one): start from its size now
    big = np.ones(300 * 2**20 // 8)  # 300 MiB resident, as an earlier run's model would be
    earlier = peaks_mb()["cpu"]
    del big
    reset_peaks()
    later = peaks_mb()["cpu"]
    assert earlier - later > 200, (earlier, later)  # the next run no longer reports the earlier run's peak
    again = np.ones(100 * 2**20 // 8)
    assert peaks_mb()["cpu"] - later > 80  # and its own allocations still count
    del again
