"""``verify.json``: what verify measured on one artifact and device, and its verdict (the CI interface,
documented in docs/verify.md; a test holds that table to what verify writes). Built in one place,
``make_result``, by local verify and ``--collect`` alike (both must give every section); written by
``runtime/writing.py``; read by ``run``'s verdict and the run report through ``read_verify_result``,
which refuses a file of another schema, shape or a missing section."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from dfard_pipeline.errors import ResultFileError

SCHEMA = "dfard-pipeline.verify/1"
FILE_NAME = "verify.json"
# every section a verify.json holds, in the order written; `bundle` only from --collect / --remote
SECTIONS = ("artifact", "device", "data", "metrics", "reference", "parity", "latency", "latency_samples_ms",
            "resources", "gates", "warnings", "robust_vs_whitebox_pgd", "suite", "wall_time_s")
OPTIONAL_SECTIONS = ("bundle",)


@dataclass(frozen=True)
class Gate:
    """One gate of a device profile, judged: ``passed`` is None when it was not evaluated (``note`` says why)."""

    name: str
    value: float
    threshold: float
    passed: bool | None
    note: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "threshold": self.threshold, "passed": self.passed,
                **({"note": self.note} if self.note else {})}

    @classmethod
    def from_dict(cls, data: dict) -> Gate:
        return cls(data["name"], data.get("value"), data.get("threshold"), data["passed"], data.get("note", ""))


@dataclass
class VerifyResult:
    passed: bool
    data: dict = field(default_factory=dict)  # every measurement, gate and warning (see docs/verify.md)

    @property
    def gates(self) -> list[Gate]:
        return [Gate.from_dict(g) for g in self.data.get("gates", [])]

    @property
    def failed_gates(self) -> list[str]:
        return [gate.name for gate in self.gates if gate.passed is False]

    @property
    def warnings(self) -> list[str]:
        return list(self.data.get("warnings", []))

    def headline(self) -> str:
        """One line: the verdict, clean and robust accuracy against the reference's, p99 at batch 1."""
        m, reference, latency = self.data["metrics"], self.data["reference"], self.data.get("latency", {})
        p99 = latency.get("1", {}).get("p99_ms", float("nan"))
        return (f"{'PASSED' if self.passed else 'FAILED'} on {self.data['device']['profile']}: clean "
                f"{m['clean_accuracy']:.2%}, robust {m['robust_accuracy']:.2%} (reference "
                f"{reference['robust_accuracy']:.2%}), p99 b1 {p99:.3f} ms in {self.data['wall_time_s']:.0f} s")

    def problems(self) -> list[str]:
        """The failed gates and the warnings, one line each."""
        return ([f"FAIL {g.name}: {g.value:.4g} vs {g.threshold:.4g}" for g in self.gates if g.passed is False]
                + [f"warning: {w}" for w in self.warnings])

    @property
    def gates_passed(self) -> bool:
        """The verdict as the gates give it (a gate that could not be judged, ``None``, does not fail)."""
        return self.passed is True and not self.failed_gates

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "passed": self.passed, **self.data}


def make_result(passed: bool, **sections) -> VerifyResult:
    """The one way a verify result is made: every section of ``SECTIONS`` (and only those, plus the
    optional ones), in one order, whichever path measured it."""
    missing = [name for name in SECTIONS if name not in sections]
    extra = [name for name in sections if name not in SECTIONS + OPTIONAL_SECTIONS]
    if missing or extra:
        raise TypeError(f"verify result sections: missing {missing}, unknown {extra}")
    ordered = {name: sections[name] for name in (*SECTIONS, *OPTIONAL_SECTIONS) if name in sections}
    return VerifyResult(bool(passed), ordered)


def read_verify_result(path: Path) -> VerifyResult:
    """A verify.json, checked: this schema, a boolean verdict and well-formed gates."""
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
    gates = data.get("gates")
    if not isinstance(gates, list) or not all(isinstance(g, dict) and "name" in g and "passed" in g for g in gates):
        raise ResultFileError(f"{path}: its gates are malformed")
    body = {k: v for k, v in data.items() if k not in ("schema", "passed")}
    return VerifyResult(data["passed"], body)
