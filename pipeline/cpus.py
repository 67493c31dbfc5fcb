"""How many CPUs this process may really use: its affinity mask, capped by a cgroup CPU quota.

``os.cpu_count()`` is the host's count: in a container limited to 2 CPUs of a 16-core host, a
thread pool sized by it runs 8 threads per CPU. Both ONNX Runtime's and PyTorch's pools are sized
from this instead.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class UsableCpus:
    count: int
    source: str  # "affinity" or "cgroup quota"
    affinity: int
    quota: float | None  # CPUs the cgroup allows, None without a quota

    def to_dict(self) -> dict:
        return asdict(self)


def _cgroup_quota(root: Path) -> float | None:
    """CPUs allowed by cgroup v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us``; None if unlimited."""
    try:
        v2 = root / "cpu.max"
        if v2.is_file():
            quota, _, period = v2.read_text().strip().partition(" ")
            return None if quota == "max" else int(quota) / int(period or 100000)
        v1 = root / "cpu" / "cpu.cfs_quota_us"
        if v1.is_file():
            quota = int(v1.read_text().strip())
            period = int((root / "cpu" / "cpu.cfs_period_us").read_text().strip())
            return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        pass
    return None


def usable_cpus(root: Path = CGROUP) -> UsableCpus:
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = os.cpu_count() or 1
    quota = _cgroup_quota(root)
    if quota is not None and math.ceil(quota) < affinity:
        return UsableCpus(max(1, math.ceil(quota)), "cgroup quota", affinity, quota)
    return UsableCpus(max(1, affinity), "affinity", affinity, quota)
