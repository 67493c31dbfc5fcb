"""report.md / report.html for a run folder: teacher vs student, training curves, generator samples,
robust accuracy vs eps for teacher, student and every artifact, the verify tables and latency."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from dfard_pipeline.artifacts.verify_result import FILE_NAME as VERIFY_FILE
from dfard_pipeline.artifacts.verify_result import VerifyResult, read_verify_result
from dfard_pipeline.runtime import plots
from dfard_pipeline.runtime.report_doc import Document

EPS_FACTORS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0)
CURVE_SAMPLES = 300  # a stratified subset of verify's images: enough for a curve, seconds on a CPU


def _pgd_curve(model, x, y, eps_values, seed) -> list[float]:
    from dfard_pipeline.attacks import pgd

    accuracies = []
    for eps in eps_values:
        x_adv = x if eps == 0 else pgd(model, x, y, eps=eps, steps=20, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            accuracies.append(float((model(x_adv).argmax(1) == y).float().mean()))
    return accuracies


def _transfer_curve(student, runner, x, y, eps_values, seed) -> list[float]:
    from dfard_pipeline.attacks import pgd

    accuracies = []
    with runner:
        for eps in eps_values:
            x_adv = x if eps == 0 else pgd(student, x, y, eps=eps, steps=20,
                                           generator=torch.Generator().manual_seed(seed))
            accuracies.append(float((runner.infer(x_adv.numpy()).argmax(1) == y.numpy()).mean()))
    return accuracies


def _model_row(name, loaded, path: Path, curve, eps_index) -> list:
    from dfard_pipeline.models import count_parameters

    params = count_parameters(loaded.module)
    return [name, loaded.arch, f"{params:,}", f"{path.stat().st_size / 1024:.0f} KiB",
            f"{curve[0]:.2%}", f"{curve[eps_index]:.2%}"]


ATTACK_NAMES = {"transfer_pgd20": "PGD-20 (transfer)", "transfer_cw": "CW (transfer)",
                "transfer_fgsm": "FGSM (transfer)", "transfer_apgd_ce": "APGD-CE (transfer, AutoAttack's)",
                "transfer_autoattack": "AutoAttack (transfer)",
                "square": "Square (black-box, on the runtime)"}


def _attack_name(key: str) -> str:
    if key in ATTACK_NAMES:
        return ATTACK_NAMES[key]
    return key.removeprefix("transfer_").upper().replace("_", "-") + (" (transfer)" if key.startswith("transfer_")
                                                                      else "")


def _verify_results(ctx) -> list[VerifyResult]:
    return [read_verify_result(path) for path in sorted((ctx.folder / "verify").glob(f"*/{VERIFY_FILE}"))]


def _verdict_section(doc: Document, ctx, results) -> None:
    """The first thing a reader sees: PASSED/FAILED per artifact and device with the failing gates,
    and what the numbers below were made with."""
    import platform
    import time

    from dfard_pipeline import __version__
    from dfard_pipeline.artifacts.provenance import library_versions

    passed = bool(results) and all(r.passed for r in results)
    doc.heading(f"Verdict: {'PASSED' if passed else 'FAILED' if results else 'NOT VERIFIED'}")
    doc.table(["artifact", "device", "verdict", "failed gates", "suite", "images"],
              [[Path(r.artifact.path).name, r.label, "PASSED" if r.passed else "FAILED",
                ", ".join(r.failed_gates) or "-", r.suite, f"{r.data.n} of {r.data.name}"] for r in results])
    versions = ", ".join(f"{k} {v}" for k, v in library_versions().items() if k != "dfard_pipeline")
    doc.paragraph(f"Made {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by dfard-pipeline {__version__} "
                  f"({versions}) on {platform.node()} ({platform.processor() or platform.machine()}).")
    warnings = [f"{Path(r.artifact.path).name} on {r.device['profile']}: {w}" for r in results for w in r.warnings]
    if warnings:
        doc.paragraph("Warnings: " + " | ".join(warnings))


def _verify_section(doc: Document, ctx, results) -> dict[str, list[float]]:
    doc.heading("Verify on each device")
    latency_samples = {}
    rows, attacks = [], []
    for result in results:
        m, r, name = result.metrics, result.reference, Path(result.artifact.path).name
        one = result.latency.get("1", {})
        rows.append([name, result.label, f"{m.clean_accuracy:.2%} / {r.clean_accuracy:.2%}",
                     f"{m.robust_accuracy:.2%} / {r.robust_accuracy:.2%}",
                     f"{result.parity['adversarial']['top1_agreement']:.2%}",
                     f"{one.get('p50_ms', float('nan')):.3f} / {one.get('p99_ms', float('nan')):.3f}",
                     "PASS" if result.passed else "FAIL", ", ".join(result.failed_gates) or "-"])
        attacks += [k for k in m.attacks if k not in attacks]
        for size, samples in result.latency_samples_ms.items():
            latency_samples[f"{name}\n{result.device['profile']} b{size}"] = samples
    doc.table(["artifact", "device", "clean (runtime / ref)", "robust worst-case (runtime / ref)",
               "agreement (adv)", "ms b1 (p50 / p99)", "result", "failed gates"], rows)
    skipped = {**ctx.notes.get("verify", {}).get("skipped", {}), **ctx.notes.get("export", {}).get("skipped", {})}
    if skipped:
        doc.paragraph("Skipped here: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    doc.paragraph("Robust accuracy on a runtime is the per-sample worst case over every attack the suite ran: "
                  + ", ".join(_attack_name(k) for k in attacks) + ". Transfer attacks are crafted white-box on the "
                  "PyTorch student and evaluated on the runtime; the reference column runs the same suite on the "
                  "student itself. Full tables: verify/*/verify.md.")
    return latency_samples


def _prior_line(metrics: dict, history: list[dict]) -> str:
    """The feature-statistics prior the run used and its last health reading, or the warning."""
    prior = metrics.get("feature_prior") or {}
    health = (history[-1].get("health") if history else None) or {}
    reading = ", ".join(f"{k} {v:.3f}" for k, v in health.items() if v is not None)
    if prior.get("prior") == "bn":
        used = "used" if prior.get("used") else "measured only (distill.feature_prior: off)"
        warning = f" Warning: {metrics['health_warning']}." if metrics.get("health_warning") else ""
        return (f"Feature-statistics prior: bn over {prior['layers']} BatchNorm layers ({prior['source']}), {used}. "
                f"Health on the last epoch's probe: {reading or 'not recorded'}.{warning}")
    if prior:
        return (f"Warning: no feature-statistics prior ({prior.get('reason')}): the generator was steered by the "
                f"teacher's outputs alone; expect a weaker student. Health on the last probe: {reading}.")
    return "Feature-statistics prior: not recorded (a run from an earlier version)."


def write_run_report(ctx) -> list[Path]:
    from dfard_pipeline.artifacts.generator_file import generator_samples, read_generator
    from dfard_pipeline.backends import open_runner
    from dfard_pipeline.checkpoint.loaded import load_project_model
    from dfard_pipeline.checkpoint.teacher_loader import load_teacher, teacher_hints
    from dfard_pipeline.data import load_dataset
    from dfard_pipeline.outputs import GENERATOR_FILE, STUDENT_FILE

    config, d = ctx.config, ctx.distill_dir
    student = load_project_model(d / STUDENT_FILE, kind="student")
    teacher = load_teacher(ctx.teacher_path, trust=ctx.trust_teacher, **teacher_hints(student.checkpoint.meta))
    eps = float(student.eps or config.distill.eps)
    eps_values = [round(f * eps, 6) for f in EPS_FACTORS]
    doc = Document(f"dfard-pipeline run: {ctx.folder.name}")
    results = _verify_results(ctx)
    _verdict_section(doc, ctx, results)
    labelled = config.verify.data != "synthetic"
    curves = {}
    if labelled:
        ctx.say(f"    robust accuracy vs eps: teacher, student and {len(ctx.artifacts())} artifacts on "
                f"{CURVE_SAMPLES} images")
        data = load_dataset(config.verify.data, "test").subset(config.verify.n, config.seed).subset(
            CURVE_SAMPLES, config.seed)
        curves[f"teacher ({teacher.arch})"] = _pgd_curve(teacher.module, data.x, data.y, eps_values, config.seed)
        curves[f"student ({student.arch})"] = _pgd_curve(student.module, data.x, data.y, eps_values, config.seed)
        for artifact in ctx.artifacts():
            if artifact.suffix == ".onnx" and artifact.is_file():
                curves[artifact.name + " (transfer)"] = _transfer_curve(student.module, open_runner(artifact), data.x,
                                                                        data.y, eps_values, config.seed)
    doc.heading("Teacher and student")
    index = EPS_FACTORS.index(1.0)
    if labelled:
        names = list(curves)
        doc.table(["model", "arch", "parameters", "file", "clean", f"PGD-20 at eps {eps:g}"],
                  [_model_row("teacher", teacher, ctx.teacher_path, curves[names[0]], index),
                   _model_row("student", student, d / STUDENT_FILE, curves[names[1]], index)])
        doc.paragraph(f"On {len(data)} of the images verify used ({data.name}, test split, a seeded class-stratified "
                      "subset): a quick look whose numbers differ from verify's (all its images, its whole suite) by "
                      "sampling. Distillation itself used no data.")
    history = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines() if line.strip()]
    doc.heading("Training (data-free distillation)")
    doc.paragraph(_prior_line(student.metadata.get("metrics", {}), history))
    doc.image("training.png", plots.training_curves(history), "training curves")
    ctx.say("    generator samples")
    generator = read_generator(d / GENERATOR_FILE)
    images = generator_samples(generator, 400, config.seed)
    with torch.no_grad():
        labels = teacher.module(torch.from_numpy(images)).argmax(1).numpy()
    doc.heading("Generator samples by teacher class")
    doc.image("samples.png", plots.sample_grid(images, labels, teacher.contract.num_classes), "generator samples")
    doc.paragraph("Class histogram of 400 samples: " + ", ".join(
        f"{c}: {int(n)}" for c, n in enumerate(np.bincount(labels, minlength=teacher.contract.num_classes))))
    if labelled:
        doc.heading("Robust accuracy vs eps")
        doc.image("robustness_vs_eps.png", plots.robustness_vs_eps(
            {k: (eps_values, v) for k, v in curves.items()}, eps), "robust accuracy vs eps")
        doc.paragraph("Teacher and student: white-box PGD-20. Artifacts: PGD-20 crafted on the student, evaluated "
                      "on ONNX Runtime (transfer).")
    ctx.say("    verify tables and latency distributions")
    latency_samples = _verify_section(doc, ctx, results)
    if latency_samples:
        doc.heading("Latency distributions")
        doc.image("latency.png", plots.latency_distributions(latency_samples), "latency distributions")
    return doc.write(ctx.folder)
