"""What machine a benchmark ran on, and the command that ran it (written into every result)."""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time

VECTOR_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def machine_info() -> dict:
    import torch

    from dfard_pipeline.device import cpu_flags, cpuinfo_field

    cpu = cpuinfo_field("model name") or platform.processor() or platform.machine()
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": str(torch.__version__), "python": platform.python_version(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            # what bf16 and int8 speed depend on: the vector extensions present, and what torch uses
            "isa": sorted(set(VECTOR_FLAGS) & (cpu_flags() or set())),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def describe(m: dict) -> str:
    """The one-line "Machine:" of every results file."""
    isa = ""
    if "isa" in m:
        present = " ".join(m["isa"]) or "none of " + "/".join(VECTOR_FLAGS)
        isa = f"; ISA {present}, torch kernels {m['torch_cpu_capability']}"
    threads = f"{m['torch_threads']} thread" + ("" if m["torch_threads"] == 1 else "s")
    return f"Machine: {m['cpu']}, {m['cores']} cores{isa}, torch {m['torch']} ({threads}), {m['date']}"


def command_line() -> str:
    return "python " + " ".join(shlex.quote(a) for a in sys.argv)
