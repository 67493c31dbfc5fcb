"""Latency of a runner: warm-up, then timed runs per batch size; percentiles, spread, throughput,
and an "unstable" flag when the coefficient of variation is high (noisy host, thermal throttling)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

# shared with the device script, so a bundle's figures are computed exactly as verify's own
from dfard_pipeline.runtime.on_device import latency_stats


@dataclass(frozen=True)
class LatencyStats:
    batch: int
    iterations: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    std_ms: float
    cv: float
    unstable: bool
    throughput: float  # samples per second at the mean latency
    samples_ms: list[float] | None = None  # every timed run, for latency plots

    def to_dict(self, with_samples: bool = False) -> dict:
        data = asdict(self)
        if not with_samples:
            data.pop("samples_ms")
        return data


def measure_latency(runner, shape: tuple[int, ...], batch: int, *, warmup: int = 10, iterations: int = 100,
                    seed: int = 0, sampler: Callable[[], dict] | None = None) -> LatencyStats:
    """Time ``runner.infer`` on a fixed random batch of ``batch`` inputs of ``shape`` (C, H, W).
    ``sampler`` (e.g. tegrastats) is called after timing to attach device readings elsewhere."""
    x = np.random.default_rng(seed).random((batch, *shape), dtype=np.float32)
    for _ in range(warmup):
        runner.infer(x)
    times = np.empty(iterations)
    for i in range(iterations):
        start = time.perf_counter()
        runner.infer(x)
        times[i] = (time.perf_counter() - start) * 1e3
    return LatencyStats(**latency_stats(times, batch))
