"""Jetson detection reads files NVIDIA's L4T writes; these tests lay such files out in a folder
(the detection logic, not a runtime, is what is exercised)."""

import pytest

from dfard_pipeline.errors import UsageError
from dfard_pipeline.runtime.jetson import TegrastatsSampler, detect_jetson, parse_tegra_release, parse_tegrastats
from dfard_pipeline.runtime.profiles import profile_for_jetson
from dfard_pipeline.runtime.target import resolve_target

TEGRASTATS = ("11-23-2026 10:00:00 RAM 2345/7620MB (lfb 4x4MB) CPU [12%@1510,8%@1510] GR3D_FREQ 45% "
              "cpu@48.5C soc2@46.1C gpu@47.2C tj@48.5C VDD_IN 5123mW/5000mW VDD_CPU_GPU_CV 1200mW/1100mW")


def fake_jetson(root, model="NVIDIA Jetson Orin Nano Engineering Reference Developer Kit"):
    (root / "etc").mkdir(parents=True)
    (root / "etc/nv_tegra_release").write_text("# R36 (release), REVISION: 4.3, GCID: 1, BOARD: generic\n")
    (root / "proc/device-tree").mkdir(parents=True)
    (root / "proc/device-tree/model").write_text(model + "\x00")
    return root


def test_detects_module_and_release(tmp_path):
    info = detect_jetson(fake_jetson(tmp_path))
    assert info.model.startswith("NVIDIA Jetson Orin Nano") and info.l4t == "36.4.3" and info.jetpack == "6.1/6.2"
    assert detect_jetson(tmp_path / "elsewhere") is None
    assert parse_tegra_release("garbage") is None


@pytest.mark.parametrize("model, profile", [
    ("NVIDIA Jetson Orin Nano Developer Kit", "jetson-orin-nano"),
    ("NVIDIA Jetson Orin NX Engineering Reference Developer Kit", "jetson-orin-nx"),
    ("Jetson AGX Orin", "jetson-agx-orin"),
])
def test_device_tree_model_picks_the_profile(model, profile):
    assert profile_for_jetson(model) == profile


def test_unknown_jetson_lists_profiles():
    with pytest.raises(UsageError, match="jetson-orin-nano"):
        profile_for_jetson("NVIDIA Jetson Xavier NX")


def test_device_jetson_resolves_on_a_jetson_and_refuses_elsewhere(tmp_path):
    root = fake_jetson(tmp_path / "jetson")
    target = resolve_target("jetson", tmp_path / "m.engine", emulate=False, jetson_root=root)
    assert target.profile.name == "jetson-orin-nano" and not target.emulated
    with pytest.raises(UsageError, match="not a Jetson"):
        resolve_target("jetson", tmp_path / "m.onnx", emulate=False, jetson_root=tmp_path / "host")
    emulated = resolve_target("jetson-agx-orin", tmp_path / "m.onnx", emulate=True, jetson_root=tmp_path / "host")
    assert emulated.emulated and emulated.providers == ("cpu",)


def test_tegrastats_parsing_and_absent_tool():
    reading = parse_tegrastats(TEGRASTATS)
    assert reading["power_mw"] == 5123 and reading["temps_c"]["gpu"] == 47.2
    with TegrastatsSampler() as sampler:  # no tegrastats on this host: samples nothing, no error
        pass
    assert sampler.summary() is None
