"""How long each phase of a verify run took, in wall and process CPU seconds."""

from __future__ import annotations

import contextlib
import time


class PhaseTimer:
    """Wall and process CPU seconds of each phase of a verify run (in verify.json's ``device.phases``):
    CPU seconds far above wall seconds times the threads doing useful work point at spinning or
    oversubscribed thread pools, the thing to look for when verify is slow on a many-core host."""

    def __init__(self):
        self.phases: dict[str, dict[str, float]] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.phases[name] = {"wall_s": round(time.perf_counter() - wall, 4),
                                 "cpu_s": round(time.process_time() - cpu, 4)}

    def to_dict(self) -> dict[str, dict[str, float]]:
        return dict(self.phases)
