"""Student-step throughput of the distill hot loop, fp32 vs bf16 autocast, NCHW (contiguous) vs
channels_last, on this machine.

    python benchmarks/throughput.py

Pairs: the digits default (digits_cnn_teacher -> digits_cnn_student, 1x8x8, batch 256), two
CIFAR-shaped pairs (wrn_34_10 at widen_factor 2 -> mobilenet_v2 or resnet18, 3x32x32, batch 64) and
the CIFAR-10 CPU preset's (resnet20 -> resnet8, batch 64, its 3-step attack). A student
step = synthesise a batch, teacher forward, 10-step PGD on the student, student update.
Writes benchmarks/results/throughput.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import command_line, describe, machine_info  # noqa: E402

PAIRS = {
    "digits": {"teacher": ("digits_cnn_teacher", {}), "student": ("digits_cnn_student", {}),
               "shape": (1, 8, 8), "batch": 256, "steps": 20},
    "cifar-shaped": {"teacher": ("wrn_34_10", {"widen_factor": 2}), "student": ("mobilenet_v2", {}),
                     "shape": (3, 32, 32), "batch": 64, "steps": 3},
    "cifar-shaped resnet18": {"teacher": ("wrn_34_10", {"widen_factor": 2}), "student": ("resnet18", {}),
                              "shape": (3, 32, 32), "batch": 64, "steps": 2},
    # configs/cifar10_cpu.yaml's pair and attack: its memory_format and precision `auto` are judged here
    "cifar10-cpu preset": {"teacher": ("resnet20", {}), "student": ("resnet8", {}), "shape": (3, 32, 32),
                           "batch": 64, "steps": 10, "attack_steps": 3, "attack_step_size": 3 / 255},
}


def measure(pair: dict, precision: str, layout: str, steps: int, warmup: int) -> float:
    import torch

    from dfard_pipeline.config import DistillConfig
    from dfard_pipeline.distill.distributed import DistContext
    from dfard_pipeline.distill.steps import student_step
    from dfard_pipeline.distill.trainer import DistillTrainer
    from dfard_pipeline.models import create_model

    c, h, _ = pair["shape"]
    kw = {"in_chans": c, "image_size": h}
    teacher = create_model(pair["teacher"][0], **kw, **pair["teacher"][1]).eval()
    student = create_model(pair["student"][0], **kw, **pair["student"][1])
    cfg = DistillConfig(batch_size=pair["batch"], precision=precision, memory_bank_batches=0,
                        eps=8 / 255, attack_step_size=pair.get("attack_step_size", 2 / 255),
                        attack_steps=pair.get("attack_steps", 10), memory_format=layout)
    trainer = DistillTrainer(cfg, teacher, student, 10, pair["shape"], torch.device("cpu"),
                             DistContext(), 0, Path("/dev/null"), "bench", progress=False)
    ctx = trainer.ctx
    for _ in range(warmup):
        student_step(ctx, trainer.bank, 1.0, trainer.opt_student, trainer.scalers[1])
    start = time.perf_counter()
    for _ in range(steps):
        student_step(ctx, trainer.bank, 1.0, trainer.opt_student, trainer.scalers[1])
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: per pair)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--pairs", nargs="+", choices=list(PAIRS), default=list(PAIRS))
    parser.add_argument("--precisions", nargs="+", choices=["fp32", "bf16"], default=["fp32", "bf16"])
    parser.add_argument("--json", help="results file  [default: benchmarks/results/throughput.json]")
    args = parser.parse_args()
    from dfard_pipeline.atomic import write_json_atomic, write_text_atomic

    rows = []
    for name in args.pairs:
        pair = PAIRS[name]
        for precision in args.precisions:
            for layout in ("contiguous", "channels_last"):
                rate = measure(pair, precision, layout, args.steps or pair["steps"], args.warmup)
                rows.append({"pair": name, "precision": precision, "memory_format": layout, "batch": pair["batch"],
                             "student_steps_per_s": rate, "images_per_s": rate * pair["batch"]})
                print(rows[-1], flush=True)
    result = {"command": command_line(), "machine": machine_info(), "rows": rows}
    json_path = Path(args.json) if args.json else HERE / "results" / "throughput.json"
    write_json_atomic(json_path, result)
    m = result["machine"]
    lines = ["# Distill student-step throughput (CPU)", "", f"Command: `{result['command']}`  ",
             describe(m), "",
             "| pair | precision | memory format | batch | student steps/s | images/s | vs fp32 NCHW |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        base = next(b for b in rows if b["pair"] == r["pair"] and b["precision"] == "fp32"
                    and b["memory_format"] == "contiguous")
        lines.append(f"| {r['pair']} | {r['precision']} | {r['memory_format']} | {r['batch']} | "
                     f"{r['student_steps_per_s']:.2f} | {r['images_per_s']:.0f} | "
                     f"{r['student_steps_per_s'] / base['student_steps_per_s']:.2f}x |")
    write_text_atomic(json_path.with_suffix(".md"), "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
