"""Which profile, which runner: resolving ``--device`` (including Jetson detection) and checking
that the artifact can run under that profile here."""

from __future__ import annotations

import platform
import socket
from dataclasses import dataclass
from pathlib import Path

from dfard_pipeline.backends import ARTIFACT_KINDS
from dfard_pipeline.errors import UsageError
from dfard_pipeline.runtime.jetson import JetsonInfo, detect_jetson
from dfard_pipeline.runtime.profiles import DeviceProfile, list_profiles, load_profile, profile_for_jetson


@dataclass(frozen=True)
class Target:
    profile: DeviceProfile
    emulated: bool
    jetson: JetsonInfo | None
    providers: tuple[str, ...]  # what the runner is asked for

    def host(self) -> dict:
        return {"hostname": socket.gethostname(), "platform": platform.platform(), "machine": platform.machine(),
                "jetson": self.jetson.to_dict() if self.jetson else None}


def resolve_target(device: str, artifact: Path, *, emulate: bool, jetson_root: Path = Path("/")) -> Target:
    jetson = detect_jetson(jetson_root)
    if device == "jetson":
        if jetson is None:
            options = ", ".join(n for n in list_profiles() if n.startswith("jetson-"))
            raise UsageError("--device jetson: this host is not a Jetson (no /etc/nv_tegra_release or "
                             f"/proc/device-tree/model). On a Jetson it picks the matching profile; here, pass "
                             f"a specific profile with --emulate ({options}) to run its checks on the local "
                             "runtime, or --device cpu")
        device = profile_for_jetson(jetson.model)
    profile = load_profile(device)
    emulated = False
    if profile.jetson_model:
        on_that_jetson = jetson is not None and profile.jetson_model.lower() in jetson.model.lower()
        if not on_that_jetson:
            if not emulate:
                here = f"a {jetson.model}" if jetson else "not a Jetson"
                raise UsageError(f"--device {profile.name}: this host is {here}; pass --emulate to run the "
                                 "profile's checks on the local runtime (latency is then marked as host, "
                                 "not device), or run verify on the device")
            emulated = True
    elif emulate:
        raise UsageError(f"--emulate is for device profiles of another machine (Jetson); {profile.name} runs "
                         "here as it is")
    kind = ARTIFACT_KINDS.get(artifact.suffix)
    if kind is None:
        raise UsageError(f"{artifact.name}: unknown artifact type; expected .onnx, .engine or .pt")
    providers = profile.providers
    if kind == "tensorrt" and profile.runtime != "tensorrt":
        raise UsageError(f"{artifact.name} is a TensorRT engine but profile {profile.name} runs {profile.runtime}; "
                         "use a TensorRT profile (jetson-*) or verify the .onnx")
    if kind == "onnxruntime" and profile.runtime == "tensorrt":
        if not emulated:
            raise UsageError(f"profile {profile.name} runs TensorRT engines: build one on the device with "
                             "`dfard-pipeline export --format tensorrt` and verify the .engine")
        providers = ("cpu",)  # emulation: the profile's checks on this host's runtime
    return Target(profile, emulated, jetson, providers)
