"""Device profiles (``configs/devices/*.yaml``): what to run, how to time it and the gates an
artifact must pass there. Loaded by the project's strict loader into frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dfard_pipeline.backends.parity import MIN_AGREEMENT, MIN_AGREEMENT_INT8, MIN_AGREEMENT_INT8_ADVERSARIAL
from dfard_pipeline.errors import ConfigError, UsageError
from dfard_pipeline.registry import unknown_name_message

# a batch's input is allocated at once; latency runs and attack steps take time: bounds that no real
# profile reaches, so a typo (64000 for 64) is refused at load, not after minutes of attacks
MAX_BATCH = 4096
MAX_RUNS = 100_000


@dataclass(frozen=True)
class AttackBudget:
    pgd_steps: int = 20
    cw_steps: int = 20  # 0: no CW transfer attack (a shorter suite: PGD transfer + Square)
    square_queries: int = 1000
    square_p_init: float = 0.3
    suite: Literal["quick", "standard", "autoattack"] = "standard"  # what --suite defaults to (autoattack.py)

    def __post_init__(self) -> None:
        if min(self.pgd_steps, self.square_queries) < 1 or max(self.pgd_steps, self.square_queries) > MAX_RUNS:
            raise ConfigError(f"attacks.pgd_steps and attacks.square_queries must be in 1-{MAX_RUNS}")
        if not 0 <= self.cw_steps <= MAX_RUNS:
            raise ConfigError(f"attacks.cw_steps must be in 0-{MAX_RUNS}")
        if self.cw_steps < 0:
            raise ConfigError("attacks.cw_steps must be >= 0 (0 leaves CW out of the suite)")
        if not 0.0 < self.square_p_init <= 1.0:
            raise ConfigError("attacks.square_p_init must lie in (0, 1]")


@dataclass(frozen=True)
class Gates:
    """Fractions (0.02 = 2 points). Drops are reference minus runtime.

    INT8 changes logits by design and adversarial inputs sit on decision boundaries, so INT8
    artifacts get their own (lower) top-1 agreement floors; their accuracy-drop gates are the same.
    """

    min_parity_agreement: float = MIN_AGREEMENT  # fp32 / fp16 / bf16, clean and adversarial inputs
    min_parity_agreement_int8: float = MIN_AGREEMENT_INT8  # clean inputs
    min_parity_agreement_int8_adversarial: float = MIN_AGREEMENT_INT8_ADVERSARIAL
    max_clean_drop: float = 0.02
    max_robust_drop: float = 0.02
    max_p99_ms_batch1: float | None = None

    def __post_init__(self) -> None:
        for name in ("min_parity_agreement", "min_parity_agreement_int8", "min_parity_agreement_int8_adversarial",
                     "max_clean_drop", "max_robust_drop"):
            if not 0.0 <= getattr(self, name) <= 1.0:  # NaN fails this too
                raise ConfigError(f"gates.{name} is a fraction in [0, 1], got {getattr(self, name)}")
        if self.max_p99_ms_batch1 is not None and not 0.0 < self.max_p99_ms_batch1 < float("inf"):
            raise ConfigError(f"gates.max_p99_ms_batch1 must be a positive number of ms, got {self.max_p99_ms_batch1}")

    def parity_floor(self, precision: str, inputs: str) -> float:
        if precision != "int8":
            return self.min_parity_agreement
        return self.min_parity_agreement_int8 if inputs == "clean" else self.min_parity_agreement_int8_adversarial


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    description: str = ""
    runtime: Literal["onnxruntime", "tensorrt", "torch"] = "onnxruntime"
    providers: tuple[str, ...] = ("cpu",)
    precisions: tuple[str, ...] = ("fp32", "fp16", "int8")
    batch_sizes: tuple[int, ...] = (1, 64)
    warmup: int = 10
    iterations: int = 100
    jetson_model: str | None = None  # substring of /proc/device-tree/model that identifies the module
    attacks: AttackBudget = field(default_factory=AttackBudget)
    gates: Gates = field(default_factory=Gates)

    def __post_init__(self) -> None:
        if not self.batch_sizes or min(self.batch_sizes) < 1 or max(self.batch_sizes) > MAX_BATCH:
            raise ConfigError(f"profile {self.name}: batch_sizes must be in 1-{MAX_BATCH}")
        if not (0 <= self.warmup <= MAX_RUNS and 1 <= self.iterations <= MAX_RUNS):
            raise ConfigError(f"profile {self.name}: warmup in 0-{MAX_RUNS} and iterations in 1-{MAX_RUNS} are needed")


def profiles_dir() -> Path:
    from dfard_pipeline.configs import shipped_config

    return shipped_config("devices")


def list_profiles() -> list[str]:
    return sorted(p.stem for p in profiles_dir().glob("*.yaml")) + ["jetson"]


def load_profile(name: str) -> DeviceProfile:
    """A shipped profile by name, or a YAML file path of the user's own."""
    from dfard_pipeline.config import load_yaml

    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise UsageError(f"device profile file not found: {path}")
    else:
        path = profiles_dir() / f"{name}.yaml"
        if not path.is_file():
            raise UsageError(unknown_name_message("device", name, list_profiles()))
    return load_yaml(path, DeviceProfile)


def profile_for_jetson(model: str) -> str:
    """The shipped profile whose ``jetson_model`` matches a device-tree model string."""
    for name in list_profiles():
        if name == "jetson":
            continue
        profile = load_profile(name)
        if profile.jetson_model and profile.jetson_model.lower() in model.lower():
            return name
    raise UsageError(f"this Jetson ({model}) has no shipped profile; pass one of "
                     f"{', '.join(n for n in list_profiles() if n.startswith('jetson-'))} or a profile YAML")
