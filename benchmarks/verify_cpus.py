"""Whole `dfard-pipeline verify` runs on this host with the process allowed 2 CPUs against all of
them: does verify get slower when the host has many cores (#15's goal)?

    python benchmarks/verify_cpus.py --run runs/digits [--cpus 2 0] [--repeat 2]

Each run is `dfard-pipeline verify` on RUN/export/student.fp32.onnx with the `cpu` profile, started
with its CPU affinity set to the first N CPUs this process may use (0: all of them), as `taskset`
would; verify sizes its thread pools from that affinity. Records the wall time, verify.json's own
wall time and the pool sizes it chose. Repeats alternate the CPU counts. Writes
benchmarks/results/verify_cpus.{json,md} unless --json names the file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import command_line, describe, machine_info  # noqa: E402
from run_folder import fp32_artifact  # noqa: E402


def verify_once(artifact: Path, cpus: list[int], out: Path) -> dict:
    command = [sys.executable, "-m", "dfard_pipeline", "verify", "--artifact", str(artifact), "--device", "cpu",
               "--out", str(out), "--overwrite", "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(command, preexec_fn=lambda: os.sched_setaffinity(0, cpus), capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: a gate failed, which still measures the run
        sys.exit(f"verify failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    report = json.loads((out / "verify.json").read_text())
    return {"cpus": len(cpus), "wall_s": wall, "verify_wall_s": report["wall_time_s"],
            "thread_pools": report["device"].get("thread_pools"), "passed": report["passed"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=Path("runs/digits"), help="a `dfard-pipeline run` folder")
    parser.add_argument("--cpus", type=int, nargs="+", default=[2, 0], help="CPU counts to allow (0: all)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", type=Path, default=HERE / "results" / "verify_cpus.json")
    args = parser.parse_args()
    from dfard_pipeline.atomic import write_json_atomic, write_text_atomic

    artifact = fp32_artifact(args.run)
    usable = sorted(os.sched_getaffinity(0))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeat):
            for n in args.cpus:
                row = verify_once(artifact, usable[:n] if n else usable, Path(tmp) / "verify")
                rows.append({**row, "repeat": repeat})
                print(f"{row['cpus']} CPUs: {row['wall_s']:.1f} s (verify.json {row['verify_wall_s']:.1f} s), "
                      f"pools {row['thread_pools']}", flush=True)
    summary = [{"cpus": c, "wall_s": statistics.median(r["wall_s"] for r in rows if r["cpus"] == c),
                "verify_wall_s": statistics.median(r["verify_wall_s"] for r in rows if r["cpus"] == c),
                "thread_pools": next(r["thread_pools"] for r in rows if r["cpus"] == c)}
               for c in dict.fromkeys(r["cpus"] for r in rows)]
    machine = machine_info()
    write_json_atomic(args.json, {"command": command_line(), "machine": machine, "rows": rows, "summary": summary})
    lines = ["# Verify with 2 CPUs against all of this host's", "", f"Command: `{command_line()}`  ", describe(machine),
             "", f"`dfard-pipeline verify` of {artifact.name} (`cpu` profile), medians of {args.repeat} alternating "
             "runs, each started with its CPU affinity limited.", "",
             "| CPUs allowed | wall s | verify.json wall s | thread pools chosen |", "| --- | --- | --- | --- |"]
    lines += [f"| {s['cpus']} | {s['wall_s']:.1f} | {s['verify_wall_s']:.1f} | {json.dumps(s['thread_pools'])} |"
              for s in summary]
    write_text_atomic(args.json.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
