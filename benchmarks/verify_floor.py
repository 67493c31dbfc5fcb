"""The verify floor of issue 5 on the digits default: the whole verify of the FP32 ONNX student
(450 test images, latency at batch 1 and 64) in <= 60 s, and its runtime robust accuracy within
2 points of the reference's PyTorch white-box PGD-20.

    python benchmarks/verify_floor.py --run runs/digits

Runs verify twice on RUN/export/student.fp32.onnx: with the issue's suite (PGD-20 transfer +
Square, 1000 queries: the `cpu` profile with `cw_steps: 0`) and with the shipped `cpu` profile
(which adds the CW transfer attack). Writes benchmarks/results/verify_floor.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import command_line, describe, machine_info  # noqa: E402
from run_folder import fp32_artifact  # noqa: E402


def short_profile(folder: Path) -> Path:
    """The shipped cpu profile with CW left out: the suite the issue's floor names."""
    import yaml

    from dfard_pipeline.runtime.profiles import profiles_dir

    profile = yaml.safe_load((profiles_dir() / "cpu.yaml").read_text())
    profile["name"], profile["attacks"]["cw_steps"] = "cpu-pgd20-square", 0
    path = folder / "cpu-pgd20-square.yaml"
    path.write_text(yaml.safe_dump(profile))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=Path("runs/digits"), help="a `dfard-pipeline run` folder")
    args = parser.parse_args()
    from dfard_pipeline.atomic import write_json_atomic, write_text_atomic
    from dfard_pipeline.runtime.verify import VerifyRequest, verify_artifact

    artifact = fp32_artifact(args.run)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for suite, device in (("PGD-20 transfer + Square (issue's floor)", str(short_profile(Path(tmp)))),
                              ("PGD-20 + CW transfer + Square (shipped cpu profile)", "cpu")):
            data = verify_artifact(VerifyRequest(artifact, device=device)).to_dict()
            rows.append({"suite": suite, "profile": data["device"]["profile"], "n": data["data"]["n"],
                         "wall_time_s": data["wall_time_s"], "runtime": data["metrics"],
                         "reference_whitebox_pgd20": data["reference"]["whitebox_pgd"],
                         "reference_worst_case": data["reference"]["robust_accuracy"],
                         "robust_vs_whitebox_pgd": data["robust_vs_whitebox_pgd"],
                         "gates_passed": data["passed"]})
            print(f"{suite}: {rows[-1]['wall_time_s']:.1f} s, robust {data['metrics']['robust_accuracy']:.2%}, "
                  f"vs white-box PGD-20 {rows[-1]['robust_vs_whitebox_pgd'] * 100:+.2f} points", flush=True)
    result = {"command": command_line(), "machine": machine_info(), "artifact": str(artifact), "rows": rows}
    write_json_atomic(HERE / "results" / "verify_floor.json", result)
    m = result["machine"]
    lines = ["# Verify floor on the digits default (FP32 ONNX student, ONNX Runtime CPU)", "",
             f"Command: `{result['command']}`  ", describe(m), "",
             "| suite | images | wall time (s) | clean | attacks on the runtime | runtime robust (worst case) "
             "| reference white-box PGD-20 | delta (points) | reference worst case | gates |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        attacks = ", ".join(f"{k} {v:.2%}" for k, v in r["runtime"]["attacks"].items())
        lines.append(f"| {r['suite']} | {r['n']} | {r['wall_time_s']:.1f} | {r['runtime']['clean_accuracy']:.2%} | "
                     f"{attacks} | {r['runtime']['robust_accuracy']:.2%} | {r['reference_whitebox_pgd20']:.2%} | "
                     f"{r['robust_vs_whitebox_pgd'] * 100:+.2f} | {r['reference_worst_case']:.2%} | "
                     f"{'PASS' if r['gates_passed'] else 'FAIL'} |")
    lines += ["", "Floors: wall time <= 60 s; runtime robust accuracy within 2 points of the reference's white-box "
              "PGD-20. The reference worst case is the same suite run white-box on PyTorch (what the "
              "`robust_accuracy_drop` gate compares with)."]
    write_text_atomic(HERE / "results" / "verify_floor.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
