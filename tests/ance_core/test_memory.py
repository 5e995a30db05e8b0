import numpy as np

from ance_core.memory import PeakMemory


def test_the_peak_is_the_stretch_s_own_after_a_reset():
    before = PeakMemory()
    block = np.ones(96 * 2**20 // 8)  # 96 MiB touched
    grown = before.read()
    del block
    after = PeakMemory().read()
    assert grown["rss_scope"] == "since" and grown["peak_rss_mib"] >= 96
    # A new stretch starts from the current resident set, not the earlier peak.
    assert after["peak_rss_mib"] <= grown["peak_rss_mib"] - 64
    assert "peak_gpu_mib" not in grown  # no CUDA here: nothing claimed
