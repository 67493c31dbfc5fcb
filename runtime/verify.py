"""``verify_artifact``: re-measure an exported student on its target runtime against a device
profile, and decide pass/fail. Returns a ``VerifyResult`` whose ``to_dict()`` is verify.json."""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from dfard_pipeline.artifacts.verify_result import VerifyResult, make_result
from dfard_pipeline.backends.parity import compare_logits
from dfard_pipeline.cpus import usable_cpus
from dfard_pipeline.errors import UsageError
from dfard_pipeline.runtime import verdict
from dfard_pipeline.runtime.phases import PhaseTimer
from dfard_pipeline.runtime.robustness import craft_transfer, evaluate_suite, predict_with, run_square, square_rounds
from dfard_pipeline.runtime.target import resolve_target


@dataclass(frozen=True)
class VerifyRequest:
    artifact: Path
    device: str = "cpu"
    reference: Path | None = None
    data: str = "digits"
    eps: float | None = None
    n: int | None = None
    emulate: bool = False
    teacher: Path | None = None  # labels for --data synthetic
    trust_teacher: bool = False  # --trust-checkpoint: the teacher may hold pickled objects
    suite: str | None = None  # quick | standard | autoattack (runtime/autoattack.py); None: the profile's
    seed: int = 0
    threads: int | None = None
    # --other-reference: compare with a checkpoint other than the one the artifact was exported from
    other_reference: bool = False

    def __post_init__(self) -> None:  # options are refused before any file is read
        if self.eps is not None:
            _check_eps(self.eps, "--eps")
        if self.n is not None and self.n < 1:
            raise UsageError(f"--n must be >= 1, got {self.n}")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"--threads must be >= 1, got {self.threads}")
        from dfard_pipeline.runtime.autoattack import SUITES

        if self.suite is not None and self.suite not in SUITES:
            raise UsageError(f"--suite {self.suite}: choose one of {', '.join(SUITES)}")


def request_eps(request: VerifyRequest, reference, manifest) -> float:
    """``--eps``, else the reference's recorded eps, else the artifact's; checked to lie in (0, 1]."""
    eps = request.eps if request.eps is not None else (reference.eps or manifest.eps)
    if eps is None:
        raise UsageError("no eps recorded in the reference; pass --eps")
    _check_eps(eps, "--eps" if request.eps is not None else f"the eps recorded for {request.artifact.name}")
    return float(eps)


def reference_half(model, x, y, eps: float, budget, suite: str, seed: int, progress, bars: bool):
    """Everything verify needs PyTorch for: the suite's white-box examples on the reference (they
    become transfer attacks) and the reference's own results, Square included."""
    estimate = estimate_seconds(model, x, budget, suite)
    progress(f"crafting {suite_label(budget, suite)} on the PyTorch reference ({len(x)} images, eps {eps:g}); "
             f"this verify: about {estimate / 60:.0f} min" if estimate >= 90 else
             f"crafting {suite_label(budget, suite)} on the PyTorch reference ({len(x)} images, eps {eps:g}); "
             f"this verify: about {max(estimate, 1):.0f} s")
    transfer = craft_transfer(model, x, y, eps, pgd_steps=budget.pgd_steps, cw_steps=budget.cw_steps, seed=seed,
                              suite=suite)
    predict = lambda t: model(t).detach()  # noqa: E731
    with torch.no_grad():
        progress(f"Square ({budget.square_queries} queries) on the reference")
        with _bar(square_rounds(len(x), budget.square_queries), "Square on reference", bars) as bar:
            square, queries = run_square(predict, x, y, eps, queries=budget.square_queries,
                                         p_init=budget.square_p_init, seed=seed, progress=bar.update)
        return transfer, evaluate_suite(predict, x, y, eps, {**transfer, "square": square}, queries)


# gradient passes of each suite's extra attacks on the reference (APGD-CE 25 iterations; AutoAttack
# standard, mostly on the images still robust: a rough count, for the estimate only)
_EXTRA_PASSES = {"quick": 0, "standard": 25, "autoattack": 600}
_SQUARE_ACTIVE = 0.35  # a rough share of images Square still queries, for the estimate only


def estimate_seconds(model, x, budget, suite: str) -> float:
    """A rough estimate of the attacks' time (the bulk of a verify), from a timed forward-backward and
    forward pass of the reference: the white-box attacks' gradient passes over every image, and Square's queries
    (on the reference and on the runtime, assumed as fast) over every image. Square's per-query cost
    does not fall with ``--n`` below one batch (500 images): its queries are sequential rounds."""
    import time

    sample = x[: min(len(x), 500)].detach().clone()

    def timed(step) -> float:  # the fastest of three after a warm-up call: the first pays one-off costs
        step()
        times = []
        for _ in range(3):
            started = time.perf_counter()
            step()
            times.append(time.perf_counter() - started)
        return min(times)

    backward = timed(lambda: model(sample.requires_grad_(True)).float().sum().backward())
    with torch.no_grad():
        forward = timed(lambda: model(sample.detach()))
    chunks = -(-len(x) // 500)
    passes = budget.pgd_steps + budget.cw_steps + _EXTRA_PASSES[suite]
    # Square stops querying an image once it is misclassified: a third of the batch left on average
    return chunks * (passes * backward + 2 * budget.square_queries * forward * _SQUARE_ACTIVE)


def suite_label(budget, suite: str) -> str:
    """What a suite crafts on the reference, for progress lines."""
    parts = [f"PGD-{budget.pgd_steps}", *(["CW"] if budget.cw_steps else []),
             *{"quick": [], "standard": ["APGD-CE"], "autoattack": ["AutoAttack"]}[suite]]
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def autoattack_accuracy(reference_metrics: dict) -> dict:
    """``reference.autoattack_accuracy``: AutoAttack's robust accuracy on the reference, when it ran."""
    attacks = reference_metrics["attacks"]
    return {"autoattack_accuracy": attacks["autoattack"]} if "autoattack" in attacks else {}


def _check_eps(eps, where: str) -> None:
    from dfard_pipeline.config.schema import check_eps

    try:
        check_eps(where, float(eps))
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


OTHER_REFERENCE = ("the reference is not the checkpoint this artifact was exported from (--other-reference): "
                   "parity and the accuracy drops compare two different models")


def _reference_path(request: VerifyRequest, manifest) -> Path:
    if request.reference is not None:
        _check_same_source(request, manifest)
        return request.reference
    if request.artifact.suffix == ".pt":
        return request.artifact
    from dfard_pipeline.artifacts.provenance import file_sha256

    source = manifest.source
    candidates = [Path(source["checkpoint"])] if source.get("checkpoint") else []
    if source.get("checkpoint_from_artifact"):
        candidates.append(request.artifact.parent / source["checkpoint_from_artifact"])
    changed = []
    for candidate in filter(Path.is_file, candidates):
        if not source.get("sha256") or file_sha256(candidate) == source["sha256"]:
            return candidate
        changed.append(str(candidate))
    if changed:
        raise UsageError(f"{' and '.join(changed)}: not the checkpoint {request.artifact.name} was exported from "
                         "(its sha256 changed since the export): re-export, or pass --checkpoint")
    raise UsageError(f"no PyTorch reference for {request.artifact.name}: pass --checkpoint RUN/student.pt")


def _check_same_source(request: VerifyRequest, manifest) -> None:
    """A --checkpoint other than the one the manifest says the artifact came from is named before
    any attack runs: refused, unless --other-reference asks for that comparison."""
    from dfard_pipeline.artifacts.provenance import file_sha256

    recorded = (manifest.source or {}).get("sha256")
    if recorded and request.reference.is_file() and file_sha256(request.reference) != recorded \
            and not request.other_reference:
        raise UsageError(f"--checkpoint {request.reference} is not the checkpoint {request.artifact.name} was exported "
                         f"from ({(manifest.source or {}).get('checkpoint', 'sha256 ' + recorded[:12])}); pass that "
                         "one, or --other-reference to compare with this one on purpose")


def is_other_reference(request: VerifyRequest, manifest, reference_sha256: str) -> bool:
    recorded = (manifest.source or {}).get("sha256")
    return bool(recorded) and reference_sha256 != recorded


def _check_contracts(artifact_contract, reference_contract, data, artifact: Path) -> None:
    if artifact_contract != reference_contract:
        raise UsageError(f"{artifact.name} takes {artifact_contract.shape} -> {artifact_contract.num_classes} "
                         f"classes (mean {artifact_contract.mean}), the reference {reference_contract.shape} -> "
                         f"{reference_contract.num_classes} (mean {reference_contract.mean}): not the same model")
    names = getattr(data, "class_names", None)
    if names is not None and len(names) != artifact_contract.num_classes:  # an image folder names its classes
        raise UsageError(f"data {data.name} has {len(names)} class folders ({', '.join(names[:4])}"
                         f"{', ...' if len(names) > 4 else ''}); the model has {artifact_contract.num_classes} "
                         "classes: "
                         "one folder per class of the model, in the model's label order (sorted names)")
    if tuple(data.shape) != tuple(artifact_contract.shape) or data.num_classes > artifact_contract.num_classes:
        raise UsageError(f"data {data.name} is {tuple(data.shape)} with {data.num_classes} classes; the model takes "
                         f"{tuple(artifact_contract.shape)} with {artifact_contract.num_classes} classes")


def _bar(total: int, desc: str, enabled: bool):
    """A tqdm bar (rate, ETA) over Square's query rounds; silent when not ``enabled``."""
    from dfard_pipeline.progress import bar

    return bar(enabled, total=total, desc=desc, unit="query", leave=False)


@dataclass
class VerifyInputs:
    """What verify here and the device bundle both start from: the artifact's manifest and precision
    (checked against the profile), the PyTorch reference, eps and the data (``verify_inputs``)."""

    manifest: object  # ExportManifest (NO_MANIFEST for a .pt)
    precision: str
    reference_path: Path
    reference: object
    eps: float
    data: object
    data_note: str | None


def verify_inputs(request: VerifyRequest, profile, manifest) -> VerifyInputs:
    """Refused here, before any attack: a precision the profile does not take, a missing or changed
    reference, an eps outside (0, 1], unreadable data."""
    from dfard_pipeline.checkpoint.loaded import load_project_model
    from dfard_pipeline.runtime.data_source import load_verify_data

    if request.artifact.suffix == ".onnx":
        from dfard_pipeline.artifacts.onnx_integrity import check_onnx_artifact

        check_onnx_artifact(request.artifact, manifest)
    if manifest.precision not in profile.precisions:
        raise UsageError(f"profile {profile.name} takes {', '.join(profile.precisions)} artifacts, "
                         f"not {manifest.precision}")
    reference_path = _reference_path(request, manifest)
    reference = load_project_model(reference_path)
    eps = request_eps(request, reference, manifest)
    data, data_note = load_verify_data(request.data, request.n, reference_path, reference.checkpoint.meta,
                                       request.teacher, request.seed, trust_teacher=request.trust_teacher)
    return VerifyInputs(manifest, manifest.precision, reference_path, reference, eps, data, data_note)


@dataclass
class _Session(VerifyInputs):
    """One verification here: its inputs, the target and the artifact's runner, held open (``_open``)."""

    target: object = None
    runner: object = None

    @property
    def profile(self):
        return self.target.profile


def verify_artifact(request: VerifyRequest, progress: Callable[[str], None] = lambda _m: None,
                    bars: bool = False, reference_cache: dict | None = None) -> VerifyResult:
    """Open the artifact and its reference, attack the reference (once per ``reference_cache`` key:
    ``run`` verifies each artifact of one student with the same reference, data, eps, budget, suite
    and seed), attack and time the artifact on its runtime, and judge the result by the profile."""
    started = time.perf_counter()
    cpus = usable_cpus()
    # PyTorch's pool (the reference's attacks) and the runtime's take turns, each at most the CPUs
    # this process may use; PyTorch's default counts the host's cores, not the container's share.
    # A library call leaves no trace: the caller's thread count comes back however verify ends.
    threads = torch.get_num_threads()
    phases = PhaseTimer()
    try:
        torch.set_num_threads(min(threads, cpus.count))
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.random.fork_rng(devices=[]))  # the caller's RNG comes back as it was
            with phases("open"):
                session = stack.enter_context(_opened(request))
            suite = request.suite or session.profile.attacks.suite
            with phases("reference_attacks"):
                transfer, reference_suite = _reference_half_cached(session, request, suite, progress, bars,
                                                                   reference_cache)
            with phases("runtime_attacks"):
                runtime_suite = _attack_runtime(session, request.seed, transfer, progress, bars)
            with phases("parity"):
                parity = _parity(session, transfer)
            with phases("latency"):
                latency, readings = _latency(session, request.seed, progress)
            flat = verdict.flat_logits_fraction(session.runner.infer(session.data.x.numpy()))
            payload = _payload(request, session, suite, runtime_suite, reference_suite, parity, latency, readings,
                               cpus, flat)
    finally:
        torch.set_num_threads(threads)
    payload["device"]["phases"] = phases.to_dict()
    payload["wall_time_s"] = time.perf_counter() - started
    return make_result(verdict.passed(payload["gates"]), **payload)



@contextlib.contextmanager
def _opened(request: VerifyRequest) -> Iterator[_Session]:
    """Everything that can be refused is refused here, before minutes of attacks: the artifact, the
    inputs (``verify_inputs``), the runtime (loaded now: a missing provider or a corrupt file fails at
    once), the contracts of artifact, reference and data, and finite runtime logits. The runtime stays
    open for the ``with`` block and is closed however it ends (a refusal, Ctrl-C)."""
    from dfard_pipeline.artifacts.export_manifest import NO_MANIFEST, read_manifest
    from dfard_pipeline.backends import open_runner

    artifact = request.artifact
    if not artifact.is_file():
        raise UsageError(f"model artifact not found: {artifact}")
    target = resolve_target(request.device, artifact, emulate=request.emulate)
    inputs = verify_inputs(request, target.profile, read_manifest(artifact) or NO_MANIFEST)
    # the attacks work between runs (Square's candidates, PyTorch's pool): the runtime's threads sleep
    # between runs instead of spinning, 2-2.5x faster on 2 cores (benchmarks/results/verify_threads.md)
    runner = open_runner(artifact, providers=target.providers, threads=request.threads, spinning=False)
    with runner:
        _check_contracts(runner.contract, inputs.reference.contract, inputs.data, artifact)
        check_logits(artifact, runner.infer(inputs.data.x[:LOGIT_PROBE].numpy()))
        yield _Session(**vars(inputs), target=target, runner=runner)


LOGIT_PROBE = 64  # images whose runtime logits are checked before any attack


def check_logits(artifact: Path, logits) -> None:
    """Refuse an artifact whose runtime returns NaN or inf logits on clean images: a broken artifact,
    not a robust one (every attack would 'fail' against it)."""
    import numpy as np

    bad = ~np.isfinite(np.asarray(logits, dtype=np.float64)).all(axis=1)
    if bad.any():
        raise UsageError(f"{artifact.name} returns NaN or inf logits on {int(bad.sum())} of {len(bad)} clean "
                         "images on this runtime; the artifact is broken: re-export it")


def _reference_half_cached(session: _Session, request: VerifyRequest, suite: str, progress, bars: bool,
                           cache: dict | None):
    budget, x, y = session.profile.attacks, session.data.x, session.data.y
    key = (session.reference.sha256, request.data, len(x), session.eps, budget, suite, request.seed)
    if cache is not None and key in cache:
        progress("reference attacks: reused from the previous artifact of this student")
        return cache[key]
    result = reference_half(session.reference.module, x, y, session.eps, budget, suite, request.seed, progress, bars)
    if cache is not None:
        cache[key] = result
    return result


def _attack_runtime(session: _Session, seed: int, transfer: dict, progress, bars: bool):
    """The suite on the runtime: the reference's examples transferred, and Square run on the runtime."""
    runner, budget, x, y = session.runner, session.profile.attacks, session.data.x, session.data.y
    predict = predict_with(runner)
    progress(f"Square ({budget.square_queries} queries) on {runner.info.runtime}")
    with _bar(square_rounds(len(x), budget.square_queries), f"Square on {runner.info.runtime}", bars) as bar:
        square, queries = run_square(predict, x, y, session.eps, queries=budget.square_queries,
                                     p_init=budget.square_p_init, seed=seed, progress=bar.update)
    attacks = {**{f"transfer_{k}": v for k, v in transfer.items()}, "square": square}
    return evaluate_suite(predict, x, y, session.eps, attacks, queries)


def _parity(session: _Session, transfer: dict) -> dict:
    """Logits of runtime and reference on clean and PGD examples, each with the profile's floor."""
    from dfard_pipeline.backends.torch_runner import TorchRunner

    reference, budget = session.reference, session.profile.attacks
    parity = {}
    with TorchRunner(reference.module, reference.contract) as ref_runner:
        for name, inputs in (("clean", session.data.x), ("adversarial", transfer[f"pgd{budget.pgd_steps}"])):
            batch = inputs.numpy()
            parity[name] = compare_logits(ref_runner.infer(batch), session.runner.infer(batch), name=name,
                                          min_agreement=session.profile.gates.parity_floor(session.precision, name))
    return parity


def _latency(session: _Session, seed: int, progress) -> tuple[dict, dict | None]:
    """Latency per batch size of the profile, with device readings (tegrastats) on a real Jetson."""
    from dfard_pipeline.runtime.jetson import TegrastatsSampler
    from dfard_pipeline.runtime.latency import measure_latency

    profile, target = session.profile, session.target
    latency = {}
    with _timing_runner(session) as runner, \
            TegrastatsSampler() if target.jetson and not target.emulated else _Nothing() as sampler:
        for batch_size in profile.batch_sizes:
            progress(f"timing batch {batch_size} ({profile.iterations} runs)")
            latency[str(batch_size)] = measure_latency(runner, runner.contract.shape, batch_size,
                                                       warmup=profile.warmup, iterations=profile.iterations,
                                                       seed=seed)
    return latency, sampler.summary()


def _timing_runner(session: _Session):
    """The runner latency is timed on: ONNX Runtime as it is deployed, in a session of its own whose
    threads spin between runs (its default); other runtimes, the runner the attacks used."""
    from dfard_pipeline.backends import open_runner

    runner = session.runner
    if runner.info.extra.get("spinning") is not False:
        return contextlib.nullcontext(runner)
    return open_runner(runner.path, providers=session.target.providers, contract=runner.contract,
                       threads=runner.info.threads, spinning=True)


def _payload(request: VerifyRequest, session: _Session, suite: str, runtime_suite, reference_suite, parity: dict,
             latency: dict, readings, cpus, flat_logits: float) -> dict:
    """verify.json (less its schema, verdict and wall time): every measurement, gate and warning."""
    from dfard_pipeline.artifacts.provenance import file_sha256

    artifact, profile, target, info = request.artifact, session.profile, session.target, session.runner.info
    metrics, reference_metrics = runtime_suite.to_dict(), reference_suite.to_dict()
    metrics["flat_logits_fraction"] = flat_logits
    parity_data = {name: result.to_dict() for name, result in parity.items()}
    latency_data = {size: stats.to_dict() for size, stats in latency.items()}
    gates = verdict.evaluate_gates(profile, session.precision, metrics, reference_metrics, parity_data, latency_data,
                                   target.emulated)
    whitebox_pgd = reference_suite.attacks[f"pgd{profile.attacks.pgd_steps}"]
    return {
        "artifact": {"path": str(artifact), "sha256": file_sha256(artifact), "bytes": artifact.stat().st_size,
                     "format": session.manifest.format or artifact.suffix.lstrip("."),
                     "precision": session.precision},
        "device": {"profile": profile.name, "description": profile.description, "runtime": info.runtime,
                   "emulated": target.emulated, "latency_source": "host" if target.emulated else "device",
                   "host": target.host(), "providers_requested": info.providers_requested,
                   "providers_used": info.providers_used, "threads": info.threads, "versions": info.versions,
                   "thread_pools": {"runtime": info.threads, "torch": torch.get_num_threads(), **cpus.to_dict(),
                                    "runtime_spinning": None if info.extra.get("spinning") is None else
                                    {"attacks": info.extra["spinning"], "latency": True}},
                   "readings": readings},
        "data": {"spec": request.data, "name": session.data.name, "n": len(session.data.x),
                 "synthetic": request.data == "synthetic"},
        "metrics": metrics,
        "reference": {"path": str(session.reference_path), "sha256": session.reference.sha256,
                      "is_export_source": not is_other_reference(request, session.manifest, session.reference.sha256),
                      **reference_metrics, "whitebox_pgd": whitebox_pgd,
                      **autoattack_accuracy(reference_metrics)},
        "suite": suite,
        "parity": parity_data,
        "latency": latency_data,
        "latency_samples_ms": {size: stats.samples_ms for size, stats in latency.items()},
        "resources": {"model_bytes": artifact.stat().st_size, "threads": info.threads,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024},
        "gates": gates,
        "warnings": ([OTHER_REFERENCE] if is_other_reference(request, session.manifest, session.reference.sha256)
                     else []) + verdict.warnings_for(metrics, reference_metrics, latency_data, session.data_note),
        "robust_vs_whitebox_pgd": runtime_suite.robust_accuracy - whitebox_pgd,
    }


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def summary(self):
        return None
