"""Latency on this CPU: PyTorch eager vs ONNX Runtime FP32 vs ONNX Runtime INT8 (QDQ), at batch 1
and 64, plus INT8 speed-up, file sizes and INT8/FP32 top-1 agreement.

    python benchmarks/export_latency.py [--digits-run runs/digits]

Models: the digits student (1x8x8) and the CIFAR-shaped students resnet18 and mobilenet_v2
(3x32x32). There is no CIFAR data on this machine, so the CIFAR-shaped students are trained for
six epochs (one-cycle Adam) on the digits upsampled to 3x32x32: a real classifier with CIFAR shapes, so agreement
figures mean something. With --digits-run, the digits row uses that distilled student and its
generator (data-free calibration, as the pipeline does); otherwise all rows calibrate on 512
training images through `--calibration npz:`. Agreement is on the 450 test images.
Writes benchmarks/results/export_latency.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import command_line, describe, machine_info  # noqa: E402

# (label, precision, int8 scheme): the spec's symmetric form (what TensorRT takes) and the uint8-activation
# form ONNX Runtime's CPU kernels fuse fully (export/int8.py).
VARIANTS = [("fp32", "fp32", "symmetric"), ("int8", "int8", "symmetric"), ("int8-cpu", "int8", "cpu")]
MODELS = {"digits_cnn_student": {}, "resnet18": {"in_chans": 3, "image_size": 32},
          "mobilenet_v2": {"in_chans": 3, "image_size": 32}}


def digits_as(shape):
    import torch.nn.functional as F

    from dfard_pipeline.data import load_dataset

    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    if shape == (1, 8, 8):
        return train.x, train.y, test.x, test.y
    c, h, w = shape
    up = lambda x: F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False).repeat(1, c, 1, 1)  # noqa: E731
    return up(train.x).clamp(0, 1), train.y, up(test.x).clamp(0, 1), test.y


def train_quickly(name, kwargs, epochs):
    import torch
    import torch.nn.functional as F

    from dfard_pipeline.models import create_model

    torch.manual_seed(0)
    model = create_model(name, **kwargs)
    x, y, _, _ = digits_as(model.contract.shape)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    batches = torch.randperm(len(x)).split(64)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=epochs * len(batches))
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(x)).split(64):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return model.eval()


def interleaved_b1(first, second, shape, rounds: int = 15, per_round: int = 20) -> dict:
    """p50 at batch 1 of two runners timed in alternating rounds, so clock and load drift on a
    shared machine hit both alike (the sequential table above can drift 10-20 % between runners)."""
    import time

    import numpy as np

    x = np.random.default_rng(0).random((1, *shape), dtype=np.float32)
    times = {0: [], 1: []}
    with first, second:
        for runner in (first, second):
            for _ in range(per_round):
                runner.infer(x)
        for _ in range(rounds):
            for key, runner in enumerate((first, second)):
                for _ in range(per_round):
                    start = time.perf_counter()
                    runner.infer(x)
                    times[key].append((time.perf_counter() - start) * 1e3)
    p50 = [float(np.median(times[k])) for k in (0, 1)]
    return {"first_p50_ms": p50[0], "second_p50_ms": p50[1], "ratio": p50[0] / p50[1],
            "rounds": rounds, "per_round": per_round}


def bench_model(name, kwargs, work: Path, digits_run: Path | None, epochs: int, iters: dict) -> list[dict]:
    import numpy as np

    from dfard_pipeline.artifacts.project_checkpoint import write_checkpoint
    from dfard_pipeline.backends import open_runner
    from dfard_pipeline.export.api import export_model
    from dfard_pipeline.export.spec import ExportRequest
    from dfard_pipeline.runtime.latency import measure_latency

    folder = work / name
    folder.mkdir()
    if digits_run is not None and name == "digits_cnn_student":
        student, calibration, source = digits_run / "student.pt", None, "distilled student, generator calibration"
    else:
        model = train_quickly(name, kwargs, epochs)
        student = write_checkpoint(model, folder / "student.pt", kind="student", eps=0.1)
        x_train = digits_as(model.contract.shape)[0]
        np.savez(folder / "calib.npz", x=x_train[:512].numpy())
        calibration, source = f"npz:{folder / 'calib.npz'}", f"trained {epochs} epochs on digits, npz calibration"
    runners = {"pytorch eager": open_runner(student)}
    for label, precision, scheme in VARIANTS:
        result = export_model(ExportRequest(student, precision=precision, out=folder / f"{label}.onnx",
                                            calibration=calibration if precision == "int8" else None,
                                            int8_scheme=scheme))
        runners[f"onnxruntime {label}"] = open_runner(result.path)
    shape = runners["pytorch eager"].contract.shape
    x_test = digits_as(tuple(shape))[2].numpy()
    agreement = {}
    with runners["onnxruntime fp32"] as fp32:
        reference = fp32.infer(x_test).argmax(1)
    fp32_accuracy = float((reference == digits_as(tuple(shape))[3].numpy()).mean())
    for label, _, _ in VARIANTS[1:]:
        with runners[f"onnxruntime {label}"] as int8:
            agreement[label] = float((int8.infer(x_test).argmax(1) == reference).mean())
    rows = []
    for label, runner in runners.items():
        with runner:
            for batch in (1, 64):
                stats = measure_latency(runner, tuple(shape), batch, warmup=5, iterations=iters[batch])
                size = Path(runner.info.artifact).stat().st_size
                rows.append({"model": name, "input": "x".join(map(str, shape)), "runtime": label, "batch": batch,
                             **stats.to_dict(), "file_bytes": size, "int8_agreement_test": agreement,
                             "fp32_test_accuracy": fp32_accuracy, "student": source})
                print(f"{name:20s} {label:18s} b{batch:<3d} p50 {stats.p50_ms:8.3f} ms", flush=True)
    interleaved = interleaved_b1(runners["onnxruntime fp32"], runners["pytorch eager"], tuple(shape))
    for row in rows:
        row["ort_fp32_over_eager_b1_interleaved"] = interleaved
    return rows


def ratio(rows, model, batch, num, den):
    pick = {r["runtime"]: r["p50_ms"] for r in rows if r["model"] == model and r["batch"] == batch}
    return pick[num] / pick[den]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--digits-run", type=Path, help="a distill run folder (student.pt + generator.pt)")
    parser.add_argument("--epochs", type=int, default=6, help="training epochs of the CIFAR-shaped students")
    args = parser.parse_args()
    from dfard_pipeline.atomic import write_json_atomic, write_text_atomic

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, kwargs in MODELS.items():
            rows += bench_model(name, kwargs, Path(tmp), args.digits_run, args.epochs, {1: 300, 64: 40})
    summary = []
    for name in MODELS:
        summary.append({
            "model": name,
            "ort_fp32_over_eager_b1": ratio(rows, name, 1, "onnxruntime fp32", "pytorch eager"),
            "ort_fp32_over_eager_b1_interleaved": next(r["ort_fp32_over_eager_b1_interleaved"]["ratio"]
                                                       for r in rows if r["model"] == name),
            "int8_over_fp32_b64": ratio(rows, name, 64, "onnxruntime int8", "onnxruntime fp32"),
            "int8_cpu_over_fp32_b64": ratio(rows, name, 64, "onnxruntime int8-cpu", "onnxruntime fp32"),
            "int8_agreement_test": next(r["int8_agreement_test"] for r in rows if r["model"] == name),
        })
    result = {"command": command_line(), "machine": machine_info(), "rows": rows, "summary": summary}
    write_json_atomic(HERE / "results" / "export_latency.json", result)
    m = result["machine"]
    lines = ["# Export latency on this CPU (p50 of timed runs)", "", f"Command: `{result['command']}`  ",
             describe(m), "",
             "| model | input | runtime | batch | p50 ms | p99 ms | cv | throughput /s | file KiB |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['input']} | {r['runtime']} | {r['batch']} | {r['p50_ms']:.3f} | "
                     f"{r['p99_ms']:.3f} | {r['cv']:.2f}{' unstable' if r['unstable'] else ''} | "
                     f"{r['throughput']:.0f} | {r['file_bytes'] / 1024:.0f} |")
    lines += ["", "Targets: ORT FP32 / eager at batch 1 <= 0.5; INT8 / FP32 at batch 64 <= 0.6 (CIFAR-shaped) "
              "with INT8/FP32 top-1 agreement >= 99 %.", "",
              "INT8 = symmetric int8 activations (the spec's TensorRT form); INT8-cpu = `--int8-scheme cpu` "
              "(uint8 activations).", "",
              "| model | ORT fp32 / eager (b1) | same, interleaved | INT8 / FP32 (b64) | INT8-cpu / FP32 (b64) "
              "| INT8-FP32 agreement | INT8-cpu-FP32 agreement |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for s in summary:
        agree = s["int8_agreement_test"]
        lines.append(f"| {s['model']} | {s['ort_fp32_over_eager_b1']:.2f} | "
                     f"{s['ort_fp32_over_eager_b1_interleaved']:.2f} | {s['int8_over_fp32_b64']:.2f} | "
                     f"{s['int8_cpu_over_fp32_b64']:.2f} | {agree['int8']:.2%} | {agree['int8-cpu']:.2%} |")
    lines += ["", "Interleaved: ORT FP32 and eager timed in 15 alternating rounds of 20 runs each at batch 1, "
              "p50 over all, so drift of the shared machine hits both alike.", "", "Students: " + "; ".join(
        f"{n}: {next(r['student'] for r in rows if r['model'] == n)} "
        f"(FP32 test accuracy {next(r['fp32_test_accuracy'] for r in rows if r['model'] == n):.1%})" for n in MODELS)]
    write_text_atomic(HERE / "results" / "export_latency.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
