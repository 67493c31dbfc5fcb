"""runtime/on_device.py: the latency figures a verify result reports are those of its recorded samples."""

import numpy as np
import pytest

from dfard_pipeline.runtime.on_device import latency_stats


def test_latency_figures_recompute_exactly_from_the_recorded_samples():
    # batch-1 runs of about 16 us with sub-microsecond jitter: the case where rounding the recorded
    # samples to 0.1 us moved the mean (and so the throughput) by 0.1 % away from the reported one
    times = 0.016 + np.random.default_rng(0).exponential(0.0004, 500)
    stats = latency_stats(times.tolist(), 1)
    samples = np.asarray(stats["samples_ms"])
    assert len(samples) == stats["iterations"] == 500
    assert np.abs(samples - times).max() <= 5e-7  # kept to the nanosecond
    assert stats["mean_ms"] == samples.mean() and stats["std_ms"] == samples.std()
    assert stats["throughput"] == 1 / (samples.mean() / 1e3)
    for q in (50, 90, 99):
        assert stats[f"p{q}_ms"] == np.percentile(samples, q)
    assert stats["cv"] == pytest.approx(samples.std() / samples.mean())
