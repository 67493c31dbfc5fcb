"""``verify.json``: what verify measured on one artifact and device, and its verdict (the CI interface,
documented in docs/verify.md; a test holds that table to these fields). One type, ``VerifyResult``,
made in one place, ``make_result``, by local verify and ``--collect`` alike (both must give every
section); written by ``runtime/writing.py`` (``to_dict``); read by ``run``'s verdict and the run
report through ``read_verify_result``, which refuses a file of another schema, a missing section or
a section of the wrong shape. Sections whose content depends on the runtime or device (``device``,
``parity``, ``latency``) stay mappings; the ones the verdict and reports read are typed."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import get_type_hints

from dfard_pipeline.errors import ResultFileError

SCHEMA = "dfard-pipeline.verify/1"
FILE_NAME = "verify.json"


class SectionError(ValueError):
    """A section of a verify result that does not have its documented shape."""


def _number(value, where: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SectionError(f"{where} is not a number")
    return value


def _mapping(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise SectionError(f"{where} is not a mapping")
    return value


@dataclass(frozen=True)
class Gate:
    """One gate of a device profile, judged: ``passed`` is None when it was not evaluated (``note`` says why)."""

    name: str
    value: float | None
    threshold: float | None
    passed: bool | None
    note: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "threshold": self.threshold, "passed": self.passed,
                **({"note": self.note} if self.note else {})}

    @classmethod
    def from_dict(cls, data) -> Gate:
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) \
                or data.get("passed") not in (True, False, None) or "passed" not in data:
            raise SectionError("gates are malformed")
        return cls(data["name"], _number(data.get("value"), "a gate's value", optional=True),
                   _number(data.get("threshold"), "a gate's threshold", optional=True), data["passed"],
                   str(data.get("note", "")))


def _fixed(cls, data, where: str):
    """A section with fixed keys as ``cls``: every field of the dataclass present, of its declared type."""
    data = _mapping(data, where)
    values = {}
    for name, kind in get_type_hints(cls).items():
        if name not in data:
            raise SectionError(f"{where} has no {name}")
        value = data[name]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise SectionError(f"{where}.{name} is not a {kind.__name__}")
        values[name] = value
    return cls(**values)


@dataclass(frozen=True)
class ArtifactInfo:
    """The file verified: where it was, its sha256 and size, its format and precision."""

    path: str
    sha256: str
    bytes: int
    format: str
    precision: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DataInfo:
    """The images verify measured on: the spec given, the set's name, how many, synthetic or not."""

    spec: str
    name: str
    n: int
    synthetic: bool

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Accuracy:
    """Clean accuracy, the per-sample worst-case robust accuracy and each attack's accuracy (fractions
    in [0, 1]) on n images at eps; ``extra`` holds the rest of the section in the order written
    (the runtime's Square query count and flat-logits share, the reference's path and hash, ...)."""

    clean_accuracy: float
    robust_accuracy: float
    attacks: dict[str, float]
    n: int
    eps: float
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {**{key: getattr(self, key) for key in _ACCURACY_KEYS}, "attacks": dict(self.attacks), **self.extra}

    @classmethod
    def from_dict(cls, data, where: str) -> Accuracy:
        data = _mapping(data, where)
        clean, robust, n, eps = (_number(data.get(key), f"{where}.{key}")
                                 for key in ("clean_accuracy", "robust_accuracy", "n", "eps"))
        attacks = _mapping(data.get("attacks"), f"{where}.attacks")
        for name, value in attacks.items():
            _number(value, f"{where}.attacks.{name}")
        return cls(clean, robust, dict(attacks), n, eps, {k: v for k, v in data.items() if k not in _ACCURACY_KEYS})


_ACCURACY_KEYS = tuple(f.name for f in fields(Accuracy) if f.name != "extra")  # the section's fixed keys


@dataclass(frozen=True)
class VerifyResult:
    """verify.json as a type: the verdict (``passed``: every evaluated gate passed) and every section."""

    passed: bool
    artifact: ArtifactInfo
    device: dict             # profile, runtime, providers, host, versions, readings (docs/verify.md)
    data: DataInfo
    metrics: Accuracy        # the runtime's
    reference: Accuracy      # the PyTorch reference's, white-box
    parity: dict             # clean / adversarial logit comparison
    latency: dict            # batch size -> percentiles and throughput
    latency_samples_ms: dict
    resources: dict          # model_bytes, threads, peak_rss_mib
    gates: tuple[Gate, ...]
    warnings: tuple[str, ...]
    robust_vs_whitebox_pgd: float
    suite: str
    wall_time_s: float
    bundle: dict | None = None  # only from --collect / --remote

    @property
    def failed_gates(self) -> list[str]:
        return [gate.name for gate in self.gates if gate.passed is False]

    @property
    def gates_passed(self) -> bool:
        """The verdict as the gates give it (a gate that could not be judged, ``None``, does not fail)."""
        return self.passed is True and not self.failed_gates

    @property
    def label(self) -> str:
        """The device profile, marked when it was emulated on this host."""
        return self.device["profile"] + (" (emulated)" if self.device.get("emulated") else "")

    def headline(self) -> str:
        """One line: the verdict, clean and robust accuracy against the reference's, p99 at batch 1."""
        p99 = self.latency.get("1", {}).get("p99_ms", float("nan"))
        return (f"{'PASSED' if self.passed else 'FAILED'} on {self.device['profile']}: clean "
                f"{self.metrics.clean_accuracy:.2%}, robust {self.metrics.robust_accuracy:.2%} (reference "
                f"{self.reference.robust_accuracy:.2%}), p99 b1 {p99:.3f} ms in {self.wall_time_s:.0f} s")

    def problems(self) -> list[str]:
        """The failed gates and the warnings, one line each."""
        return ([f"FAIL {g.name}: {g.value:.4g} vs {g.threshold:.4g}" for g in self.gates if g.passed is False]
                + [f"warning: {w}" for w in self.warnings])

    def to_dict(self) -> dict:
        out = {"schema": SCHEMA, "passed": self.passed}
        for name in (*SECTIONS, *OPTIONAL_SECTIONS):
            value = getattr(self, name)
            if name in OPTIONAL_SECTIONS and value is None:
                continue
            if name == "gates":
                value = [gate.to_dict() for gate in value]
            elif name == "warnings":
                value = list(value)
            elif hasattr(value, "to_dict"):
                value = value.to_dict()
            out[name] = value
        return out


# every section a verify.json holds, in the order written: VerifyResult's fields less the verdict
SECTIONS = tuple(f.name for f in fields(VerifyResult) if f.name not in ("passed", "bundle"))
OPTIONAL_SECTIONS = ("bundle",)


def _typed(sections: dict) -> dict:
    """The sections as VerifyResult's field types; SectionError names the first that is malformed."""
    warnings = sections["warnings"]
    if not isinstance(warnings, list | tuple) or not all(isinstance(w, str) for w in warnings):
        raise SectionError("warnings are not a list of strings")
    gates = sections["gates"]
    if not isinstance(gates, list | tuple):
        raise SectionError("gates are malformed")
    for name in ("device", "parity", "latency", "latency_samples_ms", "resources"):
        _mapping(sections[name], name)
    if not isinstance(sections["suite"], str):
        raise SectionError("suite is not a string")
    bundle = sections.get("bundle")
    return {**sections, "artifact": _fixed(ArtifactInfo, sections["artifact"], "artifact"),
            "data": _fixed(DataInfo, sections["data"], "data"),
            "metrics": Accuracy.from_dict(sections["metrics"], "metrics"),
            "reference": Accuracy.from_dict(sections["reference"], "reference"),
            "gates": tuple(Gate.from_dict(g) for g in gates), "warnings": tuple(warnings),
            "robust_vs_whitebox_pgd": _number(sections["robust_vs_whitebox_pgd"], "robust_vs_whitebox_pgd"),
            "wall_time_s": _number(sections["wall_time_s"], "wall_time_s"),
            "bundle": None if bundle is None else _mapping(bundle, "bundle")}


def make_result(passed: bool, **sections) -> VerifyResult:
    """The one way a verify result is made: every section of ``SECTIONS`` (and only those, plus the
    optional ones), whichever path measured it. A section of the wrong shape is a programming error."""
    missing = [name for name in SECTIONS if name not in sections]
    extra = [name for name in sections if name not in SECTIONS + OPTIONAL_SECTIONS]
    if missing or extra:
        raise TypeError(f"verify result sections: missing {missing}, unknown {extra}")
    try:
        return VerifyResult(bool(passed), **_typed(sections))
    except SectionError as exc:
        raise TypeError(f"verify result: {exc}") from None


def read_verify_result(path: Path) -> VerifyResult:
    """A verify.json, checked: this schema, a boolean verdict, every section in its documented shape."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultFileError(f"{path} is not a readable verify result ({type(exc).__name__})") from None
    except RecursionError:
        raise ResultFileError(f"{path} is not a readable verify result (nested too deeply)") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("passed"), bool):
        raise ResultFileError(f"{path} is not a {SCHEMA} verify result")
    missing = [name for name in SECTIONS if name not in data]
    if missing:
        raise ResultFileError(f"{path}: incomplete verify result (no {', '.join(missing)})")
    sections = {name: data[name] for name in (*SECTIONS, *OPTIONAL_SECTIONS) if name in data}
    try:
        return VerifyResult(data["passed"], **_typed(sections))
    except SectionError as exc:
        raise ResultFileError(f"{path}: {exc}") from None
