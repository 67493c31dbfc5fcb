"""Distill's two training steps, profiled: student and generator steps per second, FLOPs per step
(counted with ``torch.utils.flop_counter``'s formulas on the real step, forward and backward), achieved TFLOP/s,
peak memory, and host syncs per step (reads of device values, ``pipeline/profiling.py``).

    python benchmarks/step_profile.py --quick                 # a tiny configuration, seconds on a CPU
    python benchmarks/step_profile.py                         # digits pair + paper-scale pairs (CPU: small batch)
    python benchmarks/step_profile.py --device cuda --json benchmarks/results/step_profile_h200.json

Variants (``--variants``) switch one choice at a time, measured against the default in the same run:
``default`` (the attacks on the folded-BatchNorm student; half of each student batch drawn from a
full memory bank of the configs' size, whose teacher logits are kept since 2026-11-28), ``no_fold``,
``deterministic`` (distill.deterministic: the cost of bit-exact runs), ``eager_pgd``
(distill.cuda_graphs off: the student step's PGD launched op by op instead of replayed from a CUDA
graph; on a CPU the same as ``default``), ``cuda_graphs`` (on; the default since 2026-11-28, so
results of that date and earlier compare ``default``, then graphs off, with ``cuda_graphs``) and
``no_bank`` (no memory bank: the whole batch fresh, the teacher run on all of it) and ``attack_1``
(the student's attack cut to one step of 10/255, FGSM with a random start). FLOPs of a
graphed step are counted on its eager twin. The first H200 run (step_profile_h200.md) also measured
fused optimizers and cuDNN autotuning; neither helped, and both were removed.

Pairs: the digits default (digits_cnn_teacher -> digits_cnn_student, 1x8x8), the paper-scale
wrn_34_10 teacher with resnet18 and mobilenet_v2 students (3x32x32), and ``cifar10-cpu``, the CIFAR-10
CPU preset's resnet20 -> resnet8 with its batch and step settings read from configs/cifar10_cpu.yaml;
each in fp32 and bf16.
Writes benchmarks/results/step_profile[_quick].{json,md} unless --json names the file.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import command_line, describe, machine_info  # noqa: E402

from dfard_pipeline.atomic import write_json_atomic, write_text_atomic  # noqa: E402

PAIRS = {
    "digits": {"teacher": "digits_cnn_teacher", "student": "digits_cnn_student", "shape": (1, 8, 8), "batch": 128,
               "eps": 0.1, "step": 0.03, "attack_steps": 5, "bank": 40, "cpu_batch": True},
    "wrn34-10->resnet18": {"teacher": "wrn_34_10", "student": "resnet18", "shape": (3, 32, 32), "batch": 256,
                           "eps": 8 / 255, "step": 2 / 255, "attack_steps": 10, "bank": 50},
    "wrn34-10->mobilenet_v2": {"teacher": "wrn_34_10", "student": "mobilenet_v2", "shape": (3, 32, 32),
                               "batch": 256, "eps": 8 / 255, "step": 2 / 255, "attack_steps": 10, "bank": 50},
}


def _preset_pair(path: Path) -> dict:
    """The pair of a CPU preset, read from its config (one source for its models and step settings);
    its own batch on a CPU, where the paper-scale pairs are cut to 16."""
    import yaml

    config = yaml.safe_load(path.read_text())
    d = config["distill"]
    return {"teacher": config["teacher"]["arch"], "student": d["student"], "shape": (3, 32, 32),
            "batch": d["batch_size"], "eps": d["eps"], "step": d["attack_step_size"], "attack_steps": d["attack_steps"],
            "bank": d["memory_bank_batches"], "cpu_batch": True,
            "config": {k: d[k] for k in ("nz", "ngf", "student_optimizer")}}


PAIRS["cifar10-cpu"] = _preset_pair(HERE.parent / "configs" / "cifar10_cpu.yaml")  # resnet20 -> resnet8


VARIANTS = {
    "default": {},
    "no_fold": {"fold_batchnorm": False},
    "deterministic": {"deterministic": True},
    "cuda_graphs": {"cuda_graphs": True},  # the default since 2026-11-28; kept so earlier results' commands run
    "eager_pgd": {"cuda_graphs": False},
    "no_bank": {"memory_bank_batches": 0},  # every student step's batch fresh: the teacher runs on all of it
    "attack_1": {"attack_steps": 1, "attack_step_size": 10 / 255},  # the student's PGD cut to one step (FGSM-RS)
}


def profile_pair(name: str, pair: dict, device, precision: str, batch: int, steps: int, warmup: int,
                 variant: str = "default") -> dict:
    import torch

    from dfard_pipeline.config.schema import DistillConfig
    from dfard_pipeline.device import set_deterministic
    from dfard_pipeline.distill.distributed import DistContext
    from dfard_pipeline.distill.steps import generator_step, student_step, synthesize, teacher_forward
    from dfard_pipeline.distill.trainer import DistillTrainer
    from dfard_pipeline.models import create_model
    from dfard_pipeline.profiling import FlopCounter, HostSyncCounter, optimizer_steps

    c, h, _ = pair["shape"]
    options = dict(VARIANTS[variant])
    restore_flags = set_deterministic(options.get("deterministic", False))
    torch.manual_seed(0)
    teacher = create_model(pair["teacher"], in_chans=c, image_size=h).eval().to(device)
    student = create_model(pair["student"], in_chans=c, image_size=h)
    options = {"memory_bank_batches": pair["bank"],  # the configs' bank, full
               "eps": pair["eps"], "attack_step_size": pair["step"], "attack_steps": pair["attack_steps"],
               **pair.get("config", {}), **options}  # a variant overrides the pair's settings
    cfg = DistillConfig(batch_size=batch, probe_size=batch, precision=precision, device=device.type, **options)
    trainer = DistillTrainer(cfg, teacher, student, 10, pair["shape"], device, DistContext(), 0, Path("/dev/null"),
                             "profile", progress=False)
    ctx = trainer.ctx
    x = synthesize(ctx, batch)
    logits = teacher_forward(ctx, x)
    for _ in range(cfg.memory_bank_batches):  # as full as after that many epochs (one batch, repeated)
        trainer.bank.add(x, logits)

    def run_student():
        student_step(ctx, trainer.bank, 2.0, trainer.opt_student, trainer.scalers[1])

    def run_generator():
        generator_step(ctx, trainer.balance, trainer.opt_generator, trainer.scalers[0], "profile")

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    out = {"pair": name, "precision": precision, "variant": variant, "batch": batch, "device": device.type}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for kind, fn in (("student", run_student), ("generator", run_generator)):
        for _ in range(warmup):
            fn()
        host = optimizer_steps(trainer.opt_student, trainer.opt_generator)
        with HostSyncCounter(device_type="cuda" if device.type == "cuda" else None, exclude=host) as reads, \
                FlopCounter() as dispatched, _attack_ops(ctx) as attack:
            fn()
        graphed, ctx.graphed_pgd = ctx.graphed_pgd, None  # a graph's replay dispatches no op to count
        try:
            with FlopCounter() as flops:
                fn()
        finally:
            ctx.graphed_pgd = graphed
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        sync()
        seconds = (time.perf_counter() - start) / steps
        total = flops.total
        out[f"{kind}_steps_per_s"] = 1 / seconds
        out[f"{kind}_tflop_per_step"] = total / 1e12
        out[f"{kind}_achieved_tflops"] = total / seconds / 1e12
        out[f"{kind}_gb_per_step"] = flops.bytes / 1e9  # moved op by op, nothing fused (eager twin too)
        out[f"host_syncs_per_{kind}_step"] = reads.count
        out[f"ops_per_{kind}_step"] = dispatched.ops  # launched from Python: a graph's replay counts none
        if kind == "student":
            out["attack_ops_per_student_step"] = attack.ops  # of which the inner PGD's
        if device.type == "cuda":
            busy, waits, kinds = _device_profile(fn)
            out[f"gpu_busy_{kind}"] = busy / seconds
            out[f"cuda_syncs_per_{kind}_step"] = waits
            out[f"gpu_ms_by_kernel_kind_{kind}"] = kinds  # where the GPU's own time goes
    out["peak_memory_mib"] = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
                              else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024)
    restore_flags()
    return out


def _device_profile(fn) -> tuple[float, int, dict[str, float]]:
    """One ``fn()`` under torch.profiler (CUPTI): the seconds the GPU spends in kernels, copies and
    memsets (device-side events only, so nothing counts twice); how many times the host waited for
    the device (``cuda*Synchronize`` calls: reads of device values, and copies from ordinary host
    memory, which PyTorch follows with a stream sync); and the GPU milliseconds by kind of kernel
    (``KERNEL_KINDS``, by name). The profiler synchronises on its own when it stops (and this
    function once more, so that every kernel is recorded): those waits are measured on an empty
    profile and subtracted. NaN, -1 and {} if the profiler fails."""
    from torch.autograd import DeviceType

    try:
        events = _profiled(fn)
        kinds: dict[str, float] = {}
        for e in (e for e in events if e.device_type == DeviceType.CUDA):
            kind = kernel_kind(e.name)
            kinds[kind] = kinds.get(kind, 0.0) + e.time_range.elapsed_us() / 1e3
        busy = sum(kinds.values()) / 1e3
        waits = _waits(events) - _waits(_profiled(lambda: None))
        return busy, waits, {k: round(v, 3) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])}
    except Exception as error:  # noqa: BLE001 - a profiler failure loses these columns, not the row
        print(f"warning: device profile failed: {error}", file=sys.stderr)
        return float("nan"), -1, {}


# Kernel names (cuDNN, cuBLAS/CUTLASS, PyTorch's own) sorted into kinds, first match wins.
KERNEL_KINDS = (
    ("copy", ("memcpy", "memset")),
    ("batch_norm", ("batch_norm", "batchnorm", "bn_fw", "bn_bw")),
    ("layout", ("nchwtonhwc", "nhwctonchw", "transpose")),
    ("convolution", ("conv", "cudnn", "dgrad", "wgrad", "implicit_gemm", "xmma_fprop", "nhwc")),
    ("matmul", ("gemm", "cutlass", "cublas", "sm90_")),
    ("reduction", ("reduce", "softmax", "norm_kernel")),
    ("elementwise", ("elementwise", "vectorized", "unrolled", "catarray", "fill", "index")),
)


def kernel_kind(name: str) -> str:
    lowered = name.lower()
    return next((kind for kind, marks in KERNEL_KINDS if any(m in lowered for m in marks)), "other")


def _profiled(fn):
    import torch
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    return prof.events()


def _waits(events) -> int:
    from torch.autograd import DeviceType

    return sum(1 for e in events if e.device_type == DeviceType.CPU and e.name.startswith("cuda")
               and e.name.endswith("Synchronize"))


class _attack_ops:  # noqa: N801 - used as a context manager, like FlopCounter
    """Counts the ops of the student step's inner PGD (eager ``pgd`` or the graphed replay)."""

    def __init__(self, ctx):
        self.ctx, self.ops = ctx, 0

    def _counted(self, attack):
        from dfard_pipeline.profiling import FlopCounter

        def run(*args, **kwargs):
            with FlopCounter() as inner:
                out = attack(*args, **kwargs)
            self.ops += inner.ops
            return out
        return run

    def __enter__(self):
        from dfard_pipeline.distill import steps

        self._pgd, self._graphed = steps.pgd, self.ctx.graphed_pgd
        steps.pgd = self._counted(steps.pgd)
        if self._graphed is not None:
            self.ctx.graphed_pgd = self._counted(self._graphed)
        return self

    def __exit__(self, *exc):
        from dfard_pipeline.distill import steps

        steps.pgd, self.ctx.graphed_pgd = self._pgd, self._graphed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--quick", action="store_true", help="digits pair only, batch 16, a few steps")
    parser.add_argument("--pairs", nargs="+", choices=list(PAIRS))
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--variants", nargs="+", default=["default"], choices=list(VARIANTS),
                        help="speed choices to compare (see above)  [default: default]")
    parser.add_argument("--batch", type=int, help="batch size for every pair  [default: the pair's; CPU "
                                                  "paper-scale pairs: 16]")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure every (pair, precision, variant) this many times, interleaved; the table "
                             "shows medians  [default: 1]")
    parser.add_argument("--append", action="store_true", help="add the rows to an existing --json file")
    parser.add_argument("--json", help="results file  [default: benchmarks/results/step_profile[_quick].json]")
    args = parser.parse_args()

    import torch

    device = torch.device(args.device)
    pairs = args.pairs or (["digits"] if args.quick else list(PAIRS))
    default = HERE / "results" / f"step_profile{'_quick' if args.quick else ''}.json"
    json_path = Path(args.json) if args.json else default
    earlier = json.loads(json_path.read_text()) if args.append and json_path.exists() else None
    commands = [command_line()]
    rows = []
    if earlier is not None:
        commands = earlier.get("commands", [earlier.get("command")]) + commands
        rows = earlier["rows"]
    result = {"command": " && ".join(commands), "commands": commands, "machine": machine_info(), "rows": rows}
    if earlier is not None and earlier.get("note"):
        result["note"] = earlier["note"]  # what a reader must know about the file, kept on --append
    for name in pairs:
        pair = PAIRS[name]
        batch = args.batch or (16 if args.quick else pair["batch"] if device.type == "cuda" or pair.get("cpu_batch")
                               else 16)
        steps = args.steps or (3 if args.quick else 20 if device.type == "cuda" else 5)
        for precision in args.precisions:
            for repeat in range(args.repeat):
                for variant in args.variants:
                    row = profile_pair(name, pair, device, precision, batch, steps, warmup=1 if args.quick else 3,
                                       variant=variant)
                    rows.append({**row, "repeat": repeat})
                    print(rows[-1], flush=True)
                    # written after every row: a run stopped at a time limit keeps what it measured
                    write_json_atomic(json_path, result)
                    write_text_atomic(json_path.with_suffix(".md"), render(result))
    print(render(result))


def _medians(rows: list[dict]) -> list[dict]:
    """One row per (pair, precision, variant, batch, device): the median of its repeats' rates."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["pair"], r["precision"], r.get("variant", "default"), r["batch"], r["device"]),
                          []).append(r)
    out = []
    for group in groups.values():
        row = dict(group[0])
        for key in ("student_steps_per_s", "generator_steps_per_s", "student_achieved_tflops"):
            row[key] = statistics.median(r[key] for r in group)
        row["repeats"] = len(group)
        out.append(row)
    return out


def _number(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def _percent(value) -> str:
    return "" if value is None or value != value else f"{100 * value:.0f} %"


def render(result: dict) -> str:
    lines = ["# Distill step profile", ""] + ([result["note"], ""] if result.get("note") else []) + [
             f"Command: `{result['command']}`  ", describe(result["machine"]), "",
             "| pair | precision | variant | batch | student steps/s | generator steps/s | TFLOP / student step | "
             "GB / student step | "
             "achieved TFLOP/s (student) | host syncs / student step | host syncs / generator step | "
             "ops / student step | of which PGD | GPU busy (student) | CUDA syncs / student step | peak memory MiB |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in _medians(result["rows"]):
        lines.append(f"| {r['pair']} | {r['precision']} | {r.get('variant', 'default')} | {r['batch']} | "
                     f"{r['student_steps_per_s']:.2f} | "
                     f"{r['generator_steps_per_s']:.2f} | {r['student_tflop_per_step']:.4f} | "
                     f"{_number(r.get('student_gb_per_step'), '.2f')} | "
                     f"{r['student_achieved_tflops']:.3f} | {r['host_syncs_per_student_step']} | "
                     f"{r['host_syncs_per_generator_step']} | {r.get('ops_per_student_step', '')} | "
                     f"{r.get('attack_ops_per_student_step', '')} | "
                     f"{_percent(r.get('gpu_busy_student'))} | {r.get('cuda_syncs_per_student_step', '')} | "
                     f"{r['peak_memory_mib']:.0f} |")
    kinds = [r for r in _medians(result["rows"]) if r.get("gpu_ms_by_kernel_kind_student")]
    if kinds:
        names = [k for k, _ in KERNEL_KINDS] + ["other"]
        lines += ["", "GPU milliseconds per student step by kind of kernel (one profiled step; kinds by kernel name, "
                  "`KERNEL_KINDS` in step_profile.py):", "",
                  "| pair | precision | variant | " + " | ".join(names) + " | total |",
                  "| --- | --- | --- | " + " | ".join("---" for _ in names) + " | --- |"]
        for r in kinds:
            ms = r["gpu_ms_by_kernel_kind_student"]
            lines.append(f"| {r['pair']} | {r['precision']} | {r.get('variant', 'default')} | "
                         + " | ".join(f"{ms.get(n, 0.0):.1f}" for n in names) + f" | {sum(ms.values()):.1f} |")
    lines += ["", "Rates are medians over each row's repeats (`--repeat`, variants interleaved). "
              "FLOPs are counted on the real step (forward and backward of convolutions and matrix "
              "products) with torch.utils.flop_counter's formulas (pipeline/profiling.py), GB as the bytes "
              "its ops read and write if each reads its inputs once and writes its outputs once (nothing "
              "fused); host syncs are reads of device values (on the CPU: every read except the optimizers' "
              "host-side step counters); "
              "ops are the operators a step dispatches from Python that do work on data (about one kernel "
              "launch each on a GPU; a CUDA graph's replay counts none); GPU busy is the device time of "
              "one profiled student step's kernels and copies (torch.profiler) over the step's timed wall "
              "time, and CUDA syncs the times that step's host waited for the GPU (cuda*Synchronize calls, "
              "which also follow copies from ordinary host memory; CUDA only)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
