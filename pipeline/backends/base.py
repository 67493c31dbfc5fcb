"""The one interface every runtime shares (after Polygraphy's runners): built lazily, used as a
context manager, ``infer(batch) -> logits`` on numpy arrays, with the input contract checked."""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dfard_pipeline.errors import UsageError
from dfard_pipeline.models.contract import InputContract


@dataclass
class RunnerInfo:
    """What ran: the runtime, its providers (requested vs used), precision, threads, file size."""

    runtime: str
    artifact: str
    precision: str = "fp32"
    providers_requested: list[str] = field(default_factory=list)
    providers_used: list[str] = field(default_factory=list)
    threads: int | None = None
    file_bytes: int | None = None
    fixed_batch: int | None = None
    versions: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Runner(abc.ABC):
    """``with runner: logits = runner.infer(x)``; x is float32 (N, C, H, W) in the contract's range.

    Subclasses implement ``_activate`` (build the session/engine), ``_run`` (one batch the
    runtime accepts as is) and ``_deactivate``. ``infer`` splits or pads batches for artifacts
    exported with a fixed batch size.
    """

    runtime = "abstract"

    def __init__(self, contract: InputContract):
        self.contract = contract
        self.info: RunnerInfo | None = None
        self._active = False

    def __enter__(self) -> Runner:
        if not self._active:
            self.info = self._activate()
            self._active = True
        return self

    def __exit__(self, *exc) -> None:
        if self._active:
            self._deactivate()
            self._active = False

    @abc.abstractmethod
    def _activate(self) -> RunnerInfo: ...

    @abc.abstractmethod
    def _run(self, x: np.ndarray) -> np.ndarray: ...

    def _deactivate(self) -> None:  # noqa: B027 - an optional hook: most runners hold nothing to free
        pass

    def check_input(self, x: np.ndarray) -> np.ndarray:
        """Shape, dtype and range of the contract, or a ``UsageError`` saying which is wrong."""
        if not isinstance(x, np.ndarray):
            raise UsageError(f"{self.runtime} runner takes numpy arrays, got {type(x).__name__}")
        if x.ndim != 4 or tuple(x.shape[1:]) != tuple(self.contract.shape):
            raise UsageError(f"input shape {tuple(x.shape)} does not match the model's "
                             f"(N, {', '.join(map(str, self.contract.shape))})")
        if x.dtype != np.float32:
            raise UsageError(f"inputs must be float32, got {x.dtype}")
        low, high = self.contract.value_range
        if x.size and not bool(np.isfinite(x).all()):
            raise UsageError("inputs hold NaN or inf values; images must be finite, in "
                             f"[{low}, {high}]")
        if x.size and (float(x.min()) < low - 1e-6 or float(x.max()) > high + 1e-6):
            raise UsageError(f"inputs must lie in [{low}, {high}] (normalisation is inside the model), "
                             f"got [{float(x.min()):.3g}, {float(x.max()):.3g}]")
        return np.ascontiguousarray(x)

    def infer(self, x: np.ndarray) -> np.ndarray:
        """(N, C, H, W) float32 -> (N, classes) float32 logits."""
        if not self._active:
            raise RuntimeError("use the runner as a context manager: `with runner: runner.infer(x)`")
        x = self.check_input(x)
        fixed = self.info.fixed_batch if self.info else None
        if not fixed or len(x) == fixed:
            return np.asarray(self._run(x), dtype=np.float32)
        outputs = []
        for start in range(0, len(x), fixed):
            chunk = x[start:start + fixed]
            if len(chunk) < fixed:  # pad the tail: the artifact only takes its exported batch
                pad = np.repeat(chunk[-1:], fixed - len(chunk), axis=0)
                outputs.append(self._run(np.concatenate([chunk, pad]))[: len(chunk)])
            else:
                outputs.append(self._run(chunk))
        return np.concatenate(outputs).astype(np.float32, copy=False)


def file_size(path: str | Path) -> int:
    return Path(path).stat().st_size
