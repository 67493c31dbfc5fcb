"""What one `dfard-pipeline run configs/cifar10_cpu.yaml` took and gave, read from its run folder.

    dfard-pipeline run configs/cifar10_cpu.yaml --data folder:data/cifar10 --out runs/cifar10_cpu
    python benchmarks/cifar10_preset.py --run runs/cifar10_cpu --note "nothing else ran"

Stage wall times come from run.json (each stage's start and end; a stage that was interrupted and
resumed is counted from its last start, and the note says so), the teacher's and the student's
numbers from their checkpoints, the distill speed from metrics.jsonl, the runtime numbers from each
verify.json. Writes benchmarks/results/cifar10_preset.{md,json}; label: CIFAR-10 (JPEG copy).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import command_line, describe, machine_info  # noqa: E402
from run_folder import stage_seconds, student  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--note", default="", help="what else ran on the machine meanwhile")
    parser.add_argument("--name", default="cifar10_preset")
    args = parser.parse_args()

    import torch

    from dfard_pipeline.atomic import write_json_atomic, write_text_atomic

    record = json.loads((args.run / "run.json").read_text())
    stages = {name: stage_seconds(stage) for name, stage in record["stages"].items()}
    teacher = torch.load(args.run / "teacher.pt", weights_only=True)["metrics"]
    student_path = student(args.run)
    distilled = torch.load(student_path, weights_only=True)
    history = [json.loads(line) for line in (student_path.parent / "metrics.jsonl").read_text().splitlines()]
    walls = [h["wall_time"] for h in history]  # cumulative seconds at each epoch's end
    epoch_seconds = [round(b - a, 2) for a, b in zip([0.0, *walls[:-1]], walls, strict=True)]
    verify = {}
    for path in sorted((args.run / "verify").glob("*/verify.json")):
        result = json.loads(path.read_text())
        verify[path.parent.name] = {"passed": result["passed"], "clean": result["metrics"]["clean_accuracy"],
                                    "robust": result["metrics"]["robust_accuracy"],
                                    "attacks": result["metrics"]["attacks"], "n": result["metrics"]["n"],
                                    "reference_clean": result["reference"]["clean_accuracy"],
                                    "reference_robust": result["reference"]["robust_accuracy"],
                                    "failed": [g["name"] for g in result["gates"] if g["passed"] is False],
                                    "p50_ms_b1": result["latency"].get("1", {}).get("p50_ms"),
                                    "p99_ms_b1": result["latency"].get("1", {}).get("p99_ms"),
                                    "seconds": result.get("wall_time_s")}
    result = {"command": command_line(), "machine": machine_info(), "note": args.note, "stage_seconds": stages,
              "total_seconds": sum(v for v in stages.values() if v), "teacher": teacher,
              "student": {k: distilled["metrics"].get(k) for k in ("epochs", "wall_time", "tau")},
              "precision": {k: distilled.get("meta", {}).get(k) for k in ("precision", "precision_choice",
                                                                        "memory_format")},
              "epoch_seconds": epoch_seconds, "verify": verify}
    write_json_atomic(HERE / "results" / f"{args.name}.json", result)
    t = teacher["test"]
    lines = ["# The CIFAR-10 CPU preset, one `run` (CIFAR-10 (JPEG copy))", "",
             f"Command: `{result['command']}` on the run folder of `dfard-pipeline run configs/cifar10_cpu.yaml "
             "--data folder:...`  ", describe(result["machine"]), "", f"Meanwhile: {args.note or 'not recorded'}", "",
             "| stage | minutes |", "| --- | --- |"]
    lines += [f"| {name} | {s / 60:.1f} |" if s else f"| {name} | - |" for name, s in stages.items()]
    lines += [f"| **total** | **{result['total_seconds'] / 60:.1f}** |", "",
              f"Teacher (ResNet-20, fast AT) on {t['n']} stratified val images, eps 8/255: "
              f"clean {t['clean_accuracy']:.1%}, PGD-20 {t['attacks']['pgd20']:.1%}, "
              f"worst case of FGSM / PGD-20 / CW {t['robust_accuracy']:.1%}.", "",
              "| artifact on ONNX Runtime (CPU) | n | clean | robust (worst case) | PyTorch student clean / robust | "
              "p50 / p99 ms b1 | verify |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for key, v in verify.items():
        lines.append(f"| {key} | {v['n']} | {v['clean']:.1%} | {v['robust']:.1%} | {v['reference_clean']:.1%} / "
                     f"{v['reference_robust']:.1%} | {v['p50_ms_b1']:.3f} / {v['p99_ms_b1']:.3f} | "
                     f"{'PASSED' if v['passed'] else 'FAILED: ' + ', '.join(v['failed'])} |")
    lines += ["", f"Precision and layout chosen by `auto`: {result['precision']}.",
              f"Distill seconds per epoch (first, median, last): {epoch_seconds[0]:.1f}, "
              f"{sorted(epoch_seconds)[len(epoch_seconds) // 2]:.1f}, {epoch_seconds[-1]:.1f}.", ""]
    write_text_atomic(HERE / "results" / f"{args.name}.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
