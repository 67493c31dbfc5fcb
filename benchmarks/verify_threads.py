"""ONNX Runtime's thread pool inside verify: spinning vs sleeping pool threads, and the thread
count, for the two things verify asks of the runtime: Square on the runtime (its queries come
between PyTorch and numpy work in the same process) and latency (back-to-back runs).

    python benchmarks/verify_threads.py --run runs/digits [--repeat 3]

On RUN/export/student.fp32.onnx with the `cpu` profile's Square budget and the digits test split:
for each thread count (1, 2, 4, ... up to every CPU this process may use) and each spinning setting, the wall
and process CPU seconds of Square on the runtime, and p50 latency at batch 1 and 64; then one whole
verify as shipped, with its phase times (verify.json's device.phases). Repeats alternate the
variants. Writes benchmarks/results/verify_threads.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import command_line, describe, machine_info  # noqa: E402
from run_folder import fp32_artifact, student  # noqa: E402


def square_on_runtime(artifact: Path, contract, x, y, eps: float, budget, threads: int, spinning: bool) -> dict:
    from dfard_pipeline.backends.onnxruntime_runner import OnnxRuntimeRunner
    from dfard_pipeline.runtime.latency import measure_latency
    from dfard_pipeline.runtime.robustness import predict_with, run_square

    with OnnxRuntimeRunner(artifact, contract, threads=threads, spinning=spinning) as runner:
        predict = predict_with(runner)
        wall, cpu = time.perf_counter(), time.process_time()
        adversarial, _ = run_square(predict, x, y, eps, queries=budget.square_queries, p_init=budget.square_p_init,
                                    seed=0)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        robust = float((predict(adversarial).argmax(1) == y).float().mean())
        latency = {b: measure_latency(runner, contract.shape, b, warmup=20, iterations=200, seed=0).to_dict()["p50_ms"]
                   for b in (1, 64)}
    return {"threads": threads, "spinning": spinning, "square_wall_s": wall, "square_cpu_s": cpu,
            "square_robust": robust, "p50_ms_b1": latency[1], "p50_ms_b64": latency[64]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=Path("runs/digits"), help="a `dfard-pipeline run` folder")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=HERE / "results" / "verify_threads.json")
    args = parser.parse_args()
    import torch

    from dfard_pipeline.atomic import write_json_atomic, write_text_atomic
    from dfard_pipeline.checkpoint import load_project_model
    from dfard_pipeline.cpus import usable_cpus
    from dfard_pipeline.data import load_dataset
    from dfard_pipeline.runtime.profiles import load_profile
    from dfard_pipeline.runtime.verify import VerifyRequest, verify_artifact

    artifact = fp32_artifact(args.run)
    reference = student(args.run)
    model = load_project_model(reference)
    data = load_dataset("digits", "test")
    budget, cpus = load_profile("cpu").attacks, usable_cpus().count
    torch.set_num_threads(min(torch.get_num_threads(), cpus))
    counts = sorted({1, cpus, *(2 ** k for k in range(1, 8) if 2 ** k < cpus)})  # 1, 2, 4, ... all
    variants = [(t, s) for t in counts for s in (True, False)]
    rows = []
    for repeat in range(args.repeat):
        for threads, spinning in variants:
            row = square_on_runtime(artifact, model.contract, data.x, data.y, model.eps, budget, threads, spinning)
            rows.append({**row, "repeat": repeat})
            print(f"threads {threads}, spinning {spinning}: Square {row['square_wall_s']:.2f} s wall, "
                  f"{row['square_cpu_s']:.2f} s CPU; p50 b1 {row['p50_ms_b1']:.3f} ms", flush=True)
    verify = verify_artifact(VerifyRequest(artifact, device="cpu", reference=reference))
    shipped = verify.to_dict()
    summary = []
    for threads, spinning in variants:
        mine = [r for r in rows if (r["threads"], r["spinning"]) == (threads, spinning)]
        summary.append({"threads": threads, "spinning": spinning,
                        **{k: statistics.median(r[k] for r in mine)
                           for k in ("square_wall_s", "square_cpu_s", "p50_ms_b1", "p50_ms_b64")},
                        "square_robust": mine[0]["square_robust"]})
    machine = machine_info()
    write_json_atomic(args.json, {"command": command_line(), "machine": machine, "rows": rows, "summary": summary,
                                  "verify_as_shipped": {"wall_time_s": shipped["wall_time_s"],
                                                        "phases": shipped["device"]["phases"],
                                                        "thread_pools": shipped["device"]["thread_pools"]}})
    lines = ["# ONNX Runtime's pool inside verify: spinning and threads", "",
             f"Command: `{command_line()}`  ", describe(machine), "",
             f"Square ({budget.square_queries} queries) on the runtime over {len(data.x)} digits test images, and "
             f"p50 latency; medians of {args.repeat} alternating repeats.", "",
             "| threads | pool threads | Square wall s | Square CPU s | Square robust | p50 b1 ms | p50 b64 ms |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for s in summary:
        lines.append(f"| {s['threads']} | {'spin' if s['spinning'] else 'sleep'} | {s['square_wall_s']:.2f} | "
                     f"{s['square_cpu_s']:.2f} | {s['square_robust']:.2%} | {s['p50_ms_b1']:.3f} | "
                     f"{s['p50_ms_b64']:.3f} |")
    lines += ["", f"Verify as shipped (attacks on a sleeping pool, latency on a spinning one): "
              f"{shipped['wall_time_s']:.1f} s; phases (wall s / CPU s): "
              + ", ".join(f"{k} {v['wall_s']:.1f}/{v['cpu_s']:.1f}" for k, v in shipped["device"]["phases"].items()),
              ""]
    write_text_atomic(args.json.with_suffix(".md"), "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
