"""verify's attack suites on the digits default run: robust accuracy and wall time of ``quick``,
``standard`` and ``autoattack`` for the FP32 and INT8 artifacts on the ``cpu`` profile, and the
bundle path's time split (workstation half with PyTorch / device half with numpy and the runtime).

    dfard-pipeline run --out runs/digits
    python benchmarks/verify_suites.py --run runs/digits [--n 450] [--suites quick standard autoattack]

Writes benchmarks/results/verify_suites.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import command_line, describe, machine_info  # noqa: E402
from run_folder import student  # noqa: E402

from dfard_pipeline.atomic import write_json_atomic, write_text_atomic  # noqa: E402
from dfard_pipeline.outputs import RUN_EXPORT  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a `dfard-pipeline run` folder of the digits default")
    parser.add_argument("--n", type=int, default=450)
    parser.add_argument("--suites", nargs="+", default=["quick", "standard", "autoattack"])
    parser.add_argument("--artifacts", nargs="+", default=["student.fp32.onnx", "student.int8.onnx"])
    parser.add_argument("--name", default="verify_suites")
    args = parser.parse_args()

    from dfard_pipeline.runtime.bundle import collect_bundle, write_bundle
    from dfard_pipeline.runtime.verify import VerifyRequest, verify_artifact

    run = Path(args.run)
    reference = student(run)
    rows, bundle_rows = [], []
    for artifact in args.artifacts:
        for suite in args.suites:
            request = VerifyRequest(artifact=run / RUN_EXPORT / artifact, device="cpu", n=args.n, suite=suite,
                                    reference=reference)
            start = time.perf_counter()
            result = verify_artifact(request).to_dict()
            m, r = result["metrics"], result["reference"]
            row = {"artifact": artifact, "suite": suite, "seconds": time.perf_counter() - start,
                   "clean": m["clean_accuracy"], "robust": m["robust_accuracy"], "attacks": m["attacks"],
                   "reference_robust": r["robust_accuracy"], "reference_autoattack": r.get("autoattack_accuracy"),
                   "passed": result["passed"]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for artifact in args.artifacts:
            request = VerifyRequest(artifact=run / RUN_EXPORT / artifact, device="cpu", n=args.n,
                                    reference=reference)
            folder = Path(tmp) / artifact
            start = time.perf_counter()
            write_bundle(request, folder)
            workstation = time.perf_counter() - start
            start = time.perf_counter()
            subprocess.run([sys.executable, str(folder / "verify_on_device.py"), "--quiet"], check=True)
            device = time.perf_counter() - start
            result = collect_bundle(folder).to_dict()
            bundle_rows.append({"artifact": artifact, "workstation_s": workstation, "device_s": device,
                                "robust": result["metrics"]["robust_accuracy"], "passed": result["passed"]})
            print(json.dumps(bundle_rows[-1]), flush=True)
    result = {"command": command_line(), "machine": machine_info(), "n": args.n, "rows": rows,
              "bundle": bundle_rows}
    write_json_atomic(HERE / "results" / f"{args.name}.json", result)
    write_text_atomic(HERE / "results" / f"{args.name}.md", render(result))
    print(render(result))


def render(result: dict) -> str:
    lines = [f"# verify's attack suites on the digits default ({result['n']} test images, eps 0.1, `cpu` profile)",
             "", f"Command: `{result['command']}`  ", describe(result["machine"]), "",
             "| artifact | suite | runtime clean | runtime robust (worst case) | reference robust | "
             "reference AutoAttack | wall time (s) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in result["rows"]:
        aa = "-" if r["reference_autoattack"] is None else f"{100 * r['reference_autoattack']:.2f}"
        lines.append(f"| {r['artifact']} | {r['suite']} | {100 * r['clean']:.2f} | {100 * r['robust']:.2f} | "
                     f"{100 * r['reference_robust']:.2f} | {aa} | {r['seconds']:.0f} |")
    lines += ["", "Per attack on the runtime (accuracy under each attack, %):", ""]
    for r in result["rows"]:
        lines.append(f"- {r['artifact']}, {r['suite']}: " + ", ".join(f"{k} {100 * v:.2f}"
                                                                      for k, v in sorted(r["attacks"].items())))
    lines += ["", "Bundle path (the profile's default suite), time split:", "",
              "| artifact | workstation (PyTorch) s | device (numpy + ONNX Runtime) s | robust | passed |",
              "| --- | --- | --- | --- | --- |"]
    for b in result["bundle"]:
        lines.append(f"| {b['artifact']} | {b['workstation_s']:.0f} | {b['device_s']:.1f} | {100 * b['robust']:.2f} "
                     f"| {b['passed']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
