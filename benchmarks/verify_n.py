"""Does verify's time follow ``--n``? The whole verify of the digits FP32 ONNX student at several n,
each phase's wall time (from verify.json), and verify's own estimate beside it.

    python benchmarks/verify_n.py --run runs/digits --n 100 225 450

Each n is one `dfard-pipeline verify` command as a user runs it (its wall time includes Python's
start and the imports). Writes benchmarks/results/verify_n.{json,md}.
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
from run_folder import fp32_artifact, student  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=Path("runs/digits"), help="a `dfard-pipeline run` folder")
    parser.add_argument("--n", type=int, nargs="+", default=[100, 225, 450])
    parser.add_argument("--note", default="", help="what else ran on the machine meanwhile")
    args = parser.parse_args()
    from dfard_pipeline.atomic import write_json_atomic, write_text_atomic

    artifact = fp32_artifact(args.run)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.n:
            out = Path(tmp) / f"n{n}"
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "dfard_pipeline", "verify", "--artifact", str(artifact),
                                   "--checkpoint", str(student(args.run)), "--n", str(n), "--out",
                                   str(out)], capture_output=True, text=True)
            wall = time.perf_counter() - started
            estimate = next((line for line in done.stderr.splitlines() if "this verify: about" in line), "")
            result = json.loads((out / "verify.json").read_text())
            phases = {k: v["wall_s"] for k, v in result["device"]["phases"].items()}
            rows.append({"n": n, "wall_s": wall, "exit": done.returncode, "phases": phases,
                         "estimate": estimate.split("this verify: ")[-1].strip()})
            print(f"n {n}: {wall:.1f} s, {phases}", flush=True)
    result = {"command": command_line(), "machine": machine_info(), "note": args.note, "rows": rows}
    write_json_atomic(HERE / "results" / "verify_n.json", result)
    phases = list(rows[0]["phases"])
    lines = ["# verify's time against --n (digits FP32 ONNX student, `cpu` profile)", "",
             f"Command: `{result['command']}`  ", describe(result["machine"]), "",
             f"Meanwhile: {args.note or 'not recorded'}.", "",
             "| n | whole command s | " + " | ".join(f"{p} s" for p in phases) + " | verify's estimate (printed) |",
             "| --- | --- | " + " | ".join("---" for _ in phases) + " | --- |"]
    for row in rows:
        lines.append(f"| {row['n']} | {row['wall_s']:.1f} | " + " | ".join(f"{row['phases'][p]:.1f}" for p in phases)
                     + f" | {row['estimate'] or '-'} |")
    write_text_atomic(HERE / "results" / "verify_n.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
