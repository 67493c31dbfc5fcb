"""verify.md: one table a person reads in five seconds (metric, reference, runtime, delta, gate,
PASS/FAIL), then latency and what to watch out for. A view of verify.json, nothing more."""

from __future__ import annotations

from dfard_pipeline.artifacts.verify_result import VerifyResult


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _status(passed: bool | None) -> str:
    return {True: "PASS", False: "**FAIL**", None: "not gated"}[passed]


_ORDER = ("transfer_fgsm", "transfer_pgd", "transfer_cw", "transfer_apgd_ce", "transfer_autoattack", "square")


def _attack_order(name: str) -> tuple[int, str]:
    return next((i for i, prefix in enumerate(_ORDER) if name.startswith(prefix)), len(_ORDER)), name


def _memory_line(result: VerifyResult) -> str:
    peak = result.resources.get("peak_rss_mib")
    if peak is None:
        return "Peak memory: not measured on this platform."
    if result.device.get("torch_imported") is False:
        return f"Peak memory (the device's process: runtime and numpy, no PyTorch): {peak:.0f} MiB."
    return f"Peak memory (process, includes the PyTorch reference): {peak:.0f} MiB."


def render_verify_md(result: VerifyResult) -> str:
    device, metrics, reference = result.device, result.metrics, result.reference
    gates = {g.name: g for g in result.gates}
    verdict = "PASS" if result.passed else "FAIL"
    art = result.artifact
    lines = [f"# verify: {verdict}", "",
             f"`{art.path}` ({art.format} {art.precision}, {art.bytes / 1024:.1f} KiB) on profile "
             f"**{device['profile']}** ({device['runtime']}, providers used: {', '.join(device['providers_used'])}"
             f"{'; EMULATED on this host' if device['emulated'] else ''}). Data: {result.data.name}, "
             f"n = {metrics.n}, eps = {metrics.eps:g}.", "",
             "| metric | reference (PyTorch) | runtime | delta | gate | result |",
             "| --- | --- | --- | --- | --- | --- |"]

    def row(label, ref, run, gate_name=None, fmt=_pct, delta=True):
        gate = gates.get(gate_name) if gate_name else None
        threshold = "-" if gate is None else (
            f">= {gate.threshold:.2%}" if gate_name.startswith("parity") else
            f"<= {gate.threshold:g} ms" if gate_name.startswith("p99") else f"drop <= {gate.threshold:.2%}")
        diff = f"{run - ref:+.2%}" if delta and ref is not None and run is not None else "-"
        lines.append(f"| {label} | {fmt(ref) if ref is not None else '-'} | {fmt(run)} | {diff} | {threshold} | "
                     f"{_status(gate.passed) if gate else '-'} |")

    row("clean accuracy", reference.clean_accuracy, metrics.clean_accuracy, "clean_accuracy_drop")
    row("robust accuracy (worst case)", reference.robust_accuracy, metrics.robust_accuracy, "robust_accuracy_drop")
    for name in sorted(metrics.attacks, key=_attack_order):  # one order, local or collected
        ref_name = name.removeprefix("transfer_")
        row(f"  {name.replace('_', ' ')}", reference.attacks.get(ref_name), metrics.attacks[name])
    lines.append(f"| white-box PGD (reference only) | {_pct(reference.extra.get('whitebox_pgd'))} | - | - | - | - |")
    for name, parity in result.parity.items():
        row(f"top-1 agreement, {name}", None, parity["top1_agreement"], f"parity_top1_{name}", delta=False)
    if "1" in result.latency:
        row("p99 latency, batch 1", None, result.latency["1"]["p99_ms"], "p99_ms_batch1",
            fmt=lambda v: f"{v:.3f} ms", delta=False)
    lines += ["", f"Latency ({device['latency_source']} figures; {device['threads']} threads):", "",
              "| batch | p50 ms | p90 ms | p99 ms | mean ms | std ms | throughput /s | stable |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for size, s in result.latency.items():
        stable = f"no (cv {s['cv']:.2f})" if s["unstable"] else "yes"
        lines.append(f"| {size} | {s['p50_ms']:.3f} | {s['p90_ms']:.3f} | {s['p99_ms']:.3f} | {s['mean_ms']:.3f} | "
                     f"{s['std_ms']:.3f} | {s['throughput']:.0f} | {stable} |")
    parity = result.parity
    lines += ["", "Parity: " + "; ".join(f"{k}: max |dlogit| {v['max_abs']:.2e}, mean {v['mean_abs']:.2e}"
                                         for k, v in parity.items()),
              _memory_line(result)]
    if result.warnings:
        lines += ["", "Warnings:", *[f"- {w}" for w in result.warnings]]
    if device["emulated"]:
        lines += ["", "Emulated: every latency figure above was measured on this host, not on the device."]
    return "\n".join(lines) + "\n"
