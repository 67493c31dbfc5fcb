"""Jetson detection and on-device readings: module model, L4T / JetPack release, power mode,
clocks, and tegrastats samples (power, temperature) taken while latency is timed.

Everything reads files or runs NVIDIA's own tools when they exist; on any other host
``detect_jetson`` returns None and nothing else here is called.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class JetsonInfo:
    model: str
    l4t: str | None
    jetpack: str | None
    power_mode: str | None
    clocks: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


# L4T (R<major>.<minor>) -> JetPack, for the releases whose engines this tool builds (TensorRT 10).
_JETPACK = {"36.4": "6.1/6.2", "36.3": "6.0", "36.2": "6.0 DP", "35.6": "5.1.4", "35.5": "5.1.3", "35.4": "5.1.2"}


def parse_tegra_release(text: str) -> str | None:
    """'# R36 (release), REVISION: 4.3, ...' -> '36.4.3'."""
    match = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def detect_jetson(root: Path = Path("/")) -> JetsonInfo | None:
    release_file, model_file = root / "etc/nv_tegra_release", root / "proc/device-tree/model"
    if not release_file.is_file() and not model_file.is_file():
        return None
    model = model_file.read_text(errors="replace").strip("\x00\n ") if model_file.is_file() else "unknown Jetson"
    l4t = parse_tegra_release(release_file.read_text(errors="replace")) if release_file.is_file() else None
    jetpack = _JETPACK.get(".".join(l4t.split(".")[:2])) if l4t else None
    return JetsonInfo(model=model, l4t=l4t, jetpack=jetpack, power_mode=_power_mode(), clocks=_clocks(root))


def _power_mode() -> str | None:
    if not shutil.which("nvpmodel"):
        return None
    try:
        out = subprocess.run(["nvpmodel", "-q"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"NV Power Mode:\s*(\S+)", out)
    return match.group(1) if match else out.strip() or None


def _clocks(root: Path) -> dict[str, str]:
    clocks = {}
    cpu = root / "sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq"
    if cpu.is_file():
        clocks["cpu0_khz"] = cpu.read_text().strip()
    for gpu in sorted((root / "sys/devices").glob("*gpu*/devfreq/*/cur_freq"))[:1]:
        clocks["gpu_hz"] = gpu.read_text().strip()
    return clocks


_POWER = re.compile(r"(VDD_IN|POM_5V_IN|VIN_SYS_5V0)\s+(\d+)mW")
_TEMP = re.compile(r"(\w+)@(-?[\d.]+)C")


def parse_tegrastats(line: str) -> dict:
    """One tegrastats line -> {'power_mw': total input power, 'temps_c': {sensor: celsius}}."""
    power = _POWER.search(line)
    return {"power_mw": int(power.group(2)) if power else None,
            "temps_c": {name: float(value) for name, value in _TEMP.findall(line)}}


class TegrastatsSampler:
    """``with TegrastatsSampler() as s: ...`` runs tegrastats during the block; ``s.summary()``
    gives mean/max power and max temperatures. Does nothing where tegrastats is absent."""

    def __init__(self, interval_ms: int = 100):
        self.interval_ms = interval_ms
        self.readings: list[dict] = []
        self._proc = None

    def __enter__(self) -> TegrastatsSampler:
        if shutil.which("tegrastats"):
            self._proc = subprocess.Popen(["tegrastats", "--interval", str(self.interval_ms)],
                                          stdout=subprocess.PIPE, text=True)
            self._thread = threading.Thread(target=self._read, daemon=True)
            self._thread.start()
        return self

    def _read(self) -> None:
        for line in self._proc.stdout:
            self.readings.append(parse_tegrastats(line))

    def __exit__(self, *exc) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=5)
            self._thread.join(timeout=5)

    def summary(self) -> dict | None:
        if not self.readings:
            return None
        power = [r["power_mw"] for r in self.readings if r["power_mw"] is not None]
        temps: dict[str, float] = {}
        for reading in self.readings:
            for name, value in reading["temps_c"].items():
                temps[name] = max(temps.get(name, value), value)
        return {"samples": len(self.readings), "power_mw_mean": sum(power) / len(power) if power else None,
                "power_mw_max": max(power) if power else None, "temp_c_max": temps}
