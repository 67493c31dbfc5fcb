"""Ablation on the digits default: dfard vs combo vs the half-way points, several seeds, equal
budgets; clean / FGSM / PGD-20 / CW / worst-case accuracy on the digits test split.

    python benchmarks/ablation.py                      # 4 methods x 3 seeds
    python benchmarks/ablation.py --methods dfard combo --seeds 0 1 2

Writes benchmarks/results/ablation.{json,md}. Trains the digits teacher first when
benchmarks/results/digits_teacher.pt is missing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import command_line, describe, machine_info  # noqa: E402

from dfard_pipeline.atomic import write_json_atomic, write_text_atomic  # noqa: E402
from dfard_pipeline.config import PipelineConfig, load_config, with_overrides  # noqa: E402

ROWS = ("clean", "fgsm", "pgd20", "cw", "worst")


def teacher_checkpoint(config: PipelineConfig, path: Path) -> dict:
    from dfard_pipeline.checkpoint import load_teacher
    from dfard_pipeline.teacher.run import run_teacher_command

    if not path.exists():
        run_teacher_command(config, path, quiet=True)
    return load_teacher(path).metadata["metrics"]["test"]


def flatten(result: dict) -> dict:
    return {"clean": result["clean_accuracy"], "fgsm": result["attacks"]["fgsm"],
            "pgd20": result["attacks"]["pgd20"], "cw": result["attacks"]["cw"],
            "worst": result["robust_accuracy"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(HERE.parent / "configs" / "digits.yaml"))
    parser.add_argument("--methods", nargs="+", default=["dfard", "combo", "combo+ita", "combo+agb"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--override", nargs="*", default=[], help="distill.KEY=VALUE (YAML value)")
    parser.add_argument("--name", default="ablation")
    args = parser.parse_args()

    import yaml

    from dfard_pipeline.cli.distill_cmd import show_distill as show
    from dfard_pipeline.distill.run import run_distill

    base = load_config(args.config)
    overrides = {k: yaml.safe_load(v) for k, v in (o.split("=", 1) for o in args.override)}
    teacher_path = HERE / "results" / "digits_teacher.pt"
    teacher = flatten(teacher_checkpoint(base, teacher_path))
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods:
            for seed in args.seeds:
                config = with_overrides(base, {**overrides, "distill.method": method, "seed": seed,
                                               "distill.eval_data": "digits"})
                start = time.perf_counter()
                out = run_distill(config, str(teacher_path), Path(tmp) / f"{method}-{seed}", quiet=True,
                                  log=lambda message: print(message, file=sys.stderr, flush=True))
                show(out)
                row = {"method": method, "seed": seed, **flatten(out.final["eval_digits_test"]),
                       "seconds": time.perf_counter() - start, "final_tau": out.final["tau"]}
                runs.append(row)
                print(json.dumps(row), flush=True)
    summary = {}
    for method in args.methods:
        rows = [r for r in runs if r["method"] == method]
        summary[method] = {k: {"mean": statistics.mean(r[k] for r in rows),
                               "std": statistics.stdev(r[k] for r in rows) if len(rows) > 1 else 0.0}
                           for k in (*ROWS, "seconds")}
    result = {"command": command_line(), "machine": machine_info(), "overrides": overrides,
              "teacher": teacher, "runs": runs, "summary": summary}
    write_json_atomic(HERE / "results" / f"{args.name}.json", result)
    write_text_atomic(HERE / "results" / f"{args.name}.md", render(result))
    print(render(result))


def render(result: dict) -> str:
    m = result["machine"]
    lines = ["# Ablation on digits (test split, 450 images, eps 0.1)", "",
             f"Command: `{result['command']}`  ", describe(m) + "  ",
             f"Overrides: `{result['overrides'] or 'none'}`", "",
             "| method | clean | FGSM | PGD-20 | CW | worst case | wall time (s) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    t = result["teacher"]
    lines.append("| teacher (reference) | " + " | ".join(f"{100 * t[k]:.1f}" for k in ROWS) + " | |")
    for method, s in result["summary"].items():
        cells = [f"{100 * s[k]['mean']:.1f} ± {100 * s[k]['std']:.1f}" for k in ROWS]
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {s['seconds']['mean']:.0f} |")
    seeds = sorted({r["seed"] for r in result["runs"]})
    lines += ["", f"Mean ± standard deviation over seeds {seeds}. Accuracies in %."]
    if "dfard" in result["summary"] and "combo" in result["summary"]:
        d, c = result["summary"]["dfard"], result["summary"]["combo"]
        gap = 100 * (d["pgd20"]["mean"] - c["pgd20"]["mean"])
        ratio = d["pgd20"]["mean"] / t["pgd20"]
        lines += ["", f"- dfard - combo, PGD-20: {gap:+.1f} points (floor: +2.0)",
                  f"- dfard PGD-20 / teacher PGD-20: {ratio:.2f} (floor: 0.85)",
                  f"- dfard clean: {100 * d['clean']['mean']:.1f} % (floor: 95 %)"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
