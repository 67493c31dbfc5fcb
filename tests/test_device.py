import pytest
import torch

from dfard_pipeline.device import cpu_flags, cpuinfo_field, memory_format, precision_warning, to_device

CPU = torch.device("cpu")


def test_cpu_flags_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx avx2\nbugs\t: none\n")
    assert cpu_flags(info) == {"fpu", "sse", "avx", "avx2"}
    assert cpuinfo_field("model name", info) == "AMD EPYC" and cpuinfo_field("microcode", info) is None
    assert cpu_flags(tmp_path / "missing") is None


def test_bf16_warning_only_on_a_cpu_without_native_bf16():
    warning = precision_warning(CPU, "bf16", flags={"avx", "avx2"})
    assert warning and "no native bf16" in warning and "--precision fp32" in warning
    assert precision_warning(CPU, "bf16", flags={"avx2", "avx512_bf16"}) is None
    assert precision_warning(CPU, "bf16", flags={"amx_bf16"}) is None
    assert precision_warning(CPU, "fp32", flags={"avx2"}) is None
    assert precision_warning(torch.device("cuda"), "bf16", flags={"avx2"}) is None


def test_memory_format_auto_is_channels_last_on_cuda_and_measured_x86_cpus_only():
    assert memory_format(CPU, "auto", flags={"avx2", "avx512f"}) == torch.channels_last
    assert memory_format(CPU, "auto", flags={"avx", "avx2"}) == torch.channels_last
    assert memory_format(CPU, "auto", flags={"sse", "avx"}) == torch.contiguous_format
    assert memory_format(CPU, "auto", flags={"fp", "asimd"}) == torch.contiguous_format  # an ARM CPU
    assert memory_format(CPU, "auto", flags=set()) == torch.contiguous_format
    assert memory_format(torch.device("cuda"), "auto", flags={"avx2"}) == torch.channels_last
    assert memory_format(CPU, "channels_last", flags={"avx2"}) == torch.channels_last
    assert memory_format(CPU, "contiguous", flags={"avx512f"}) == torch.contiguous_format


def test_deterministic_switch_sets_flags_and_restores_the_previous_ones(monkeypatch):
    from dfard_pipeline.device import set_deterministic

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    restore = set_deterministic(True)
    try:
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
        assert not torch.backends.cudnn.benchmark and __import__("os").environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    finally:
        restore()
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic


def test_to_device_elsewhere_than_cuda_is_a_plain_to():
    t = torch.arange(6.0)
    out = to_device(t, torch.device("cpu"), torch.float64)
    assert out.dtype == torch.float64 and torch.equal(out, t.double())
    assert to_device(t, "cpu") is t  # nothing to move: the tensor itself, as .to gives it


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)")
def test_to_device_queues_a_copy_that_a_later_change_of_the_source_does_not_reach():
    busy = torch.randn(4096, 4096, device="cuda")
    for _ in range(20):  # work queued ahead, so the copy is still pending when the source changes
        busy = busy @ busy / 64
    source = torch.randn(256, 3, 32, 32)
    expected = source.clone()
    out = to_device(source, "cuda", torch.bfloat16)
    source.zero_()
    torch.cuda.synchronize()
    assert out.device.type == "cuda" and out.dtype == torch.bfloat16
    assert torch.equal(out.cpu(), expected.to(torch.bfloat16))
