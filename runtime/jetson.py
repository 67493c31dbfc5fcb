"""Jetson detection and on-device readings: module model, L4T / JetPack release, power mode,
clocks, and tegrastats samples (power, temperature) taken while latency is timed.

Everything reads files or runs NVIDIA's own tools when they exist; on any other host
``detect_jetson`` returns None and nothing else here is called.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

# One implementation for the workstation and the device: on_device.py is also the self-contained
# script that verify's bundles carry to a device without dfard-pipeline.
from dfard_pipeline.runtime.on_device import TegrastatsSampler, parse_tegra_release, parse_tegrastats
from dfard_pipeline.runtime.on_device import detect_jetson as _detect


@dataclass(frozen=True)
class JetsonInfo:
    model: str
    l4t: str | None
    jetpack: str | None
    power_mode: str | None
    clocks: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def detect_jetson(root: Path = Path("/")) -> JetsonInfo | None:
    found = _detect(root)
    return None if found is None else JetsonInfo(**found)


__all__ = ["JetsonInfo", "TegrastatsSampler", "detect_jetson", "parse_tegra_release", "parse_tegrastats"]
