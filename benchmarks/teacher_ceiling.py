"""How much of its own answer a teacher keeps under the distill probe's attack, beside how much of it the
student keeps: the ceiling of the robust agreement that ITA and AGB read (docs/cifar10.md).

    python benchmarks/teacher_ceiling.py --data folder:data/cifar10 \
        --run preset:runs/cifar10_bench/dfard-s0 --run teacher4x:runs/cifar10_teacher4x/dfard-s0

Each ``--run LABEL:FOLDER`` is a distill run folder (``student.pt``, ``generator.pt``) whose teacher is
``teacher.pt`` in the folder above it, as ``benchmarks/cifar10.py`` lays them out. On two sets of
inputs (``--n`` seeded samples of the run's generator; ``--n`` seeded class-stratified val images)
it measures, with the probe's attack (PGD of ``--steps`` steps of ``--step-size`` in the eps-ball,
random start, KL away from the teacher's soft labels on the clean input, as ``distill/steps.py``):

- teacher keeps: argmax T(x_adv against T) == argmax T(x), the teacher's own robust agreement
  (``teacher_agreement`` of ``distill.agreement: relative``);
- student keeps: argmax S(x_adv against S) == argmax T(x), the student's robust agreement, what
  ITA and AGB read;
- on val, also the teacher's clean accuracy and its accuracy under that attack.

Writes ``--out`` .json and .md (benchmarks/results/teacher_ceiling by default) with the command and
machine. Label numbers from the JPEG copy "CIFAR-10 (JPEG copy)".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import command_line, describe, machine_info  # noqa: E402

EPS = 8 / 255


def attacked_logits(model, x, teacher_logits, *, eps: float, step_size: float, steps: int, seed: int):
    """``model``'s logits under the probe's attack against itself (away from the teacher's soft labels)."""
    import torch

    from dfard_pipeline.attacks.pgd import probe_attack

    return probe_attack(model, x, teacher_logits, eps=eps, step_size=step_size, steps=steps,
                        generator=torch.Generator().manual_seed(seed))


def measure(teacher, student, x, *, eps: float, step_size: float, steps: int, seed: int, y=None) -> dict:
    """The teacher's and the student's robust agreement with the teacher's clean answers on ``x``, in
    all and per teacher class (the student's over the teacher's: ``distill.class_sampling``'s reading,
    ``Probe.class_keep_ratio``); with labels ``y``, the teacher's accuracy clean and under the attack too."""
    import torch

    from dfard_pipeline.distill.probe import Probe

    with torch.no_grad():
        logits = teacher(x)
    attack = {"eps": eps, "step_size": step_size, "steps": steps, "seed": seed}
    teacher_adv = attacked_logits(teacher, x, logits, **attack)
    student_adv = attacked_logits(student, x, logits, **attack)
    probe = Probe(logits, student_adv, teacher_adv_logits=teacher_adv)
    result = {"n": len(x), "teacher_keeps": probe.teacher_agreement, "student_keeps": probe.robust_agreement,
              "teacher_confidence": float(torch.softmax(logits, 1).max(1).values.mean()),
              "class_keep_ratio": probe.class_keep_ratio()}
    if y is not None:
        result["teacher_clean"] = float((logits.argmax(1) == y).float().mean())
        result["teacher_attacked"] = float((teacher_adv.argmax(1) == y).float().mean())
        result["attacked_by_class"] = {name: [float((adv.argmax(1)[y == k] == k).float().mean()) if (y == k).any()
                                              else None for k in range(logits.shape[1])]
                                       for name, adv in (("teacher", teacher_adv), ("student", student_adv))}
    return result


def measure_run(folder: Path, data: str, n: int, seed: int, steps: int, step_size: float) -> dict:
    import torch

    from dfard_pipeline.artifacts.generator_file import generator_samples, read_generator
    from dfard_pipeline.checkpoint import load_teacher
    from dfard_pipeline.data import load_dataset

    teacher = load_teacher(folder.parent / "teacher.pt").module.eval()
    student = load_teacher(folder / "student.pt").module.eval()
    attack = {"eps": EPS, "step_size": step_size, "steps": steps, "seed": seed}
    synthetic = torch.from_numpy(generator_samples(read_generator(folder / "generator.pt"), n, seed))
    val = load_dataset(data, "test").subset(n, seed)
    return {"folder": str(folder), "generator": measure(teacher, student, synthetic, **attack),
            "val": measure(teacher, student, val.x, y=val.y, **attack)}


def markdown(results: dict, command: str, machine: dict, steps: int, step_size: float) -> str:
    lines = ["# The teacher's own robust agreement: the ceiling of what ITA and AGB read (CIFAR-10 (JPEG copy))", "",
             f"Command: `{command}`  ", describe(machine), "",
             f"The probe's attack: PGD-{steps}, step {step_size * 255:.0f}/255, eps 8/255, random start, KL away "
             "from the teacher's soft labels on the clean input. *Keeps*: the attacked model's answer is still "
             "the teacher's clean answer. Generator: seeded samples of the run's own generator.", "",
             "| run | inputs | n | teacher keeps | student keeps | student / teacher | teacher confidence "
             "| teacher clean | teacher under the attack |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for label, run in results.items():
        for inputs in ("generator", "val"):
            r = run[inputs]
            accuracy = f"{r['teacher_clean']:.1%} | {r['teacher_attacked']:.1%}" if "teacher_clean" in r else "|"
            lines.append(f"| {label} | {inputs} | {r['n']} | {r['teacher_keeps']:.1%} | {r['student_keeps']:.1%} | "
                         f"{r['student_keeps'] / max(r['teacher_keeps'], 1e-9):.2f} | {r['teacher_confidence']:.2f} "
                         f"| {accuracy} |")
    classes = len(next(iter(results.values()))["val"]["class_keep_ratio"])
    lines += ["", "Per class of the teacher's clean answer (0-9 in the data's class order): student keeps / teacher "
              "keeps, the ratio `distill.class_sampling` and `class_weighting` read.", "",
              "| run | inputs | " + " | ".join(str(k) for k in range(classes)) + " |",
              "| --- | --- |" + " --- |" * classes]
    for label, run in results.items():
        for inputs in ("generator", "val"):
            ratios = ["-" if r is None else f"{r:.2f}" for r in run[inputs]["class_keep_ratio"]]
            lines.append(f"| {label} | {inputs} | " + " | ".join(ratios) + " |")
    lines += ["", "Per true class of val: accuracy under the same attack (each model attacked against itself).", "",
              "| run | model | " + " | ".join(str(k) for k in range(classes)) + " |",
              "| --- | --- |" + " --- |" * classes]
    for label, run in results.items():
        for model, accuracy in run["val"]["attacked_by_class"].items():
            cells = ["-" if a is None else f"{a:.0%}" for a in accuracy]
            lines.append(f"| {label} | {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="folder:data/cifar10", help="the data set whose val (or test) split is read")
    parser.add_argument("--run", action="append", required=True, metavar="LABEL:FOLDER",
                        help="a distill run folder, its teacher.pt one folder up (repeatable)")
    parser.add_argument("--n", type=int, default=1000, help="inputs of each kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=3, help="the probe attack's steps (the CIFAR preset's 3)")
    parser.add_argument("--step-size", type=float, default=3 / 255, help="the probe attack's step (the preset's 3/255)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "teacher_ceiling")
    args = parser.parse_args()
    from dfard_pipeline.atomic import write_json_atomic, write_text_atomic

    results = {}
    for spec in args.run:
        label, sep, folder = spec.partition(":")
        if not sep or not label:
            parser.error(f"--run {spec!r}: expected LABEL:FOLDER")
        results[label] = measure_run(Path(folder), args.data, args.n, args.seed, args.steps, args.step_size)
        print(f"teacher_ceiling: {label}: {json.dumps(results[label])}", flush=True)
    machine, command = machine_info(), command_line()
    write_json_atomic(args.out.with_suffix(".json"), {"command": command, "machine": machine, "steps": args.steps,
                                                      "step_size": args.step_size, "runs": results})
    text = markdown(results, command, machine, args.steps, args.step_size)
    write_text_atomic(args.out.with_suffix(".md"), text)
    print(text)


if __name__ == "__main__":
    main()
