"""The config schema: frozen dataclasses, one per pipeline stage.

Values are validated in ``__post_init__`` (ranges, incompatible options) so that a bad config
fails at load time with a message naming the field, never half-way through a run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, get_args

Device = Literal["auto", "cpu", "cuda"]
# auto: bf16 autocast where the device runs it natively, fp32 elsewhere (device.resolve_precision)
Precision = Literal["auto", "fp32", "bf16", "fp16"]
MemoryFormat = Literal["auto", "channels_last", "contiguous"]
# symmetric: int8 activations, the form TensorRT takes; cpu: uint8 activations, fastest on ONNX Runtime's CPU
# provider (export/int8.py). The one list of INT8 schemes: the config, export's options and checks read it.
Int8Scheme = Literal["symmetric", "cpu"]
INT8_SCHEMES = get_args(Int8Scheme)


def _positive(name: str, value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")


def _check_names(cfg) -> None:
    """Every registry name of the distill section, checked when the config is loaded, not minutes in
    after a teacher has trained (an unknown name lists the valid ones and the closest match). Checked
    against ``names.py``'s plain lists: no registry (and no torch) is imported here."""
    from dfard_pipeline.config.names import KINDS, REGISTRIES
    from dfard_pipeline.registry import unknown_name_message

    for key, names in REGISTRIES.items():
        if getattr(cfg, key) not in names:
            raise ValueError(f"distill.{key}: {unknown_name_message(KINDS[key], getattr(cfg, key), list(names))}")


def _check_model_names(section: str, **names: str | None) -> None:
    """Zoo architecture names, checked at load time (the closest match named)."""
    from dfard_pipeline.config.names import MODELS
    from dfard_pipeline.registry import unknown_name_message

    for key, name in names.items():
        if name is not None and name not in MODELS:
            raise ValueError(f"{section}.{key}: {unknown_name_message('model', name, list(MODELS))}")


def check_eps(name: str, value: float) -> None:
    """An L-inf radius for [0, 1] images: in (0, 1] (8/255 = 0.031 on CIFAR, 0.1 on digits)."""
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise ValueError(f"{name} must lie in (0, 1] for inputs in [0, 1], got {value}")


@dataclass(frozen=True)
class TeacherConfig:
    """How to obtain the teacher: a checkpoint, or adversarial training on a labelled set."""

    checkpoint: str | None = None  # when set, `run` skips the teacher stage
    # what a checkpoint file does not say itself (distill --teacher-arch / --input-shape): the zoo
    # architecture of a plain state_dict, the C,H,W input of a TorchScript or pickled model
    checkpoint_arch: str | None = None
    input_shape: tuple[int, ...] | None = None
    arch: str = "digits_cnn_teacher"
    dataset: str = "digits"  # digits | cifar10:PATH | cifar100:PATH | npz:PATH
    # pgd_at with attack_steps 1, a step of 1.25 eps and its random start is FGSM-RS "fast AT" (Wong et al. 2020)
    method: Literal["pgd_at", "trades"] = "trades"
    optimizer: Literal["adam", "sgd"] = "adam"  # sgd: momentum 0.9, nesterov; both on a one-cycle schedule
    epochs: int = 20
    batch_size: int = 128
    lr: float = 0.003
    weight_decay: float = 0.0005
    eps: float = 0.1  # L-inf radius in [0,1] pixel space
    attack_steps: int = 10
    attack_step_size: float = 0.025
    trades_beta: float = 6.0
    # "flip_crop": each training batch flipped and shifted at random (up to H/8 pixels) before its attack,
    # as CIFAR adversarial training does (pipeline/data/augment.py); "none": the images as they are
    augment: Literal["none", "flip_crop"] = "none"
    eval_n: int | None = None  # test images the closing evaluation attacks (a stratified subset; None: all)
    device: Device = "auto"
    precision: Precision = "auto"  # as distill.precision
    memory_format: MemoryFormat = "auto"  # as distill.memory_format
    deterministic: bool = False  # as distill.deterministic

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "lr", "eps", "attack_steps", "attack_step_size", "trades_beta"):
            _positive(f"teacher.{name}", getattr(self, name))
        if self.eval_n is not None:
            _positive("teacher.eval_n", self.eval_n)
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"teacher.weight_decay must be a finite number >= 0, got {self.weight_decay}")
        check_eps("teacher.eps", self.eps)
        if self.input_shape is not None and (len(self.input_shape) != 3 or min(self.input_shape) < 1):
            raise ValueError(f"teacher.input_shape must be C,H,W (three positive integers), "
                             f"got {list(self.input_shape)}")
        _check_model_names("teacher", arch=self.arch, checkpoint_arch=self.checkpoint_arch)


@dataclass(frozen=True)
class FixedGeneratorWeights:
    """Baseline (non-AGB) weights of the generator's loss terms (DFAD/DeepInversion style)."""

    adv: float = 1.0
    bn: float = 1.0
    oh: float = 1.0
    ent: float = 5.0


@dataclass(frozen=True)
class DistillConfig:
    """Data-free adversarial robustness distillation (docs/method.md)."""

    student: str = "digits_cnn_student"
    method: str = "dfard"  # dfard | combo | combo+ita | combo+agb
    ita_rule: str = "agreement"  # temperature rule used when the method has ITA (measured best: ablation.md)
    # where tau acts: "all" (inner attack target and both loss terms), "outer" (the loss terms; the
    # inner PGD attacks sharp tau = 1 labels), "clean" (only the clean loss term)
    ita_scope: Literal["all", "outer", "clean"] = "clean"  # measured best (benchmarks/results/ablation.md)
    agb_rule: str = "scaled_fixed"  # generator balance rule used when it has AGB
    # the signal ITA and AGB read: the student's robust agreement with the teacher on the probe
    # ("absolute"), or that divided by the teacher's own robust agreement under the same attack on the
    # same samples, capped at 1 ("relative": a weak teacher's ceiling counts as full agreement)
    agreement: Literal["absolute", "relative"] = "absolute"
    student_loss: str = "rslad"  # rslad | ard
    generator_adv_loss: Literal["l1", "kl"] = "l1"
    # what the `adv` term compares: the student on x ("clean", DFAD) or on an FGSM step from x
    # against the student ("fgsm"): mines samples where the student's *robust* answer is wrong
    generator_adv_inputs: Literal["clean", "fgsm"] = "clean"
    # "flip_crop": every image the generator step and the student step feed the teacher and the student
    # is flipped and shifted at random first (pipeline/data/augment.py); "none": used as drawn
    synthetic_augment: Literal["none", "flip_crop"] = "none"
    epochs: int = 80  # the digits default (configs/digits.yaml states the same: a test holds them equal)
    generator_steps: int = 5  # N_G per epoch
    student_steps: int = 20  # N_S per epoch
    batch_size: int = 128
    conditional_generator: bool = False  # True: class embedding x z; False: DAFL argmax targets
    # which classes the conditional generator is asked for: "uniform", or "adaptive" (AGB, dfard only):
    # more of those the student keeps least under attack against the teacher (distill/class_balance.py)
    class_sampling: Literal["uniform", "adaptive"] = "uniform"
    # how the student loss weights each synthetic sample: all alike ("uniform"), or by its teacher class,
    # more where the student keeps least under attack against the teacher ("adaptive"; ITA, dfard only)
    class_weighting: Literal["uniform", "adaptive"] = "uniform"
    nz: int = 64
    ngf: int = 32
    student_optimizer: Literal["sgd", "adam"] = "adam"  # adam measured better on digits
    lr_student: float = 0.003
    lr_generator: float = 0.003
    eps: float = 0.1
    attack_steps: int = 5  # digits: 5 steps of 0.03 (CIFAR configs: 10 of 2/255)
    attack_step_size: float = 0.03
    adv_fraction: float = 5.0 / 6.0  # `a` in L_S
    fixed_tau: float = 1.0
    # the temperature of the adversarial loss term (and no other) where ITA does not set it (`ita_scope:
    # clean`, and every method without ITA): below 1 it sharpens the teacher's soft labels toward its answer
    adv_tau: float = 1.0
    tau_max: float = 10.0
    fixed_weights: FixedGeneratorWeights = field(default_factory=FixedGeneratorWeights)
    # the `bn` generator term: "auto" uses it whenever the teacher keeps BatchNorm statistics (any
    # format: eager, torch.export, TorchScript); "off" leaves it out (an ablation; still measured)
    feature_prior: Literal["auto", "off"] = "auto"
    agb_momentum: float = 0.9
    agb_beta_min: float = 0.1
    agb_beta_max: float = 0.9
    student_ema: float = 0.0  # decay of an EMA of student weights (0 = off); the EMA is the output
    probe_size: int = 256
    memory_bank_batches: int = 40  # one batch added per epoch; 0 disables the bank
    device: Device = "auto"
    precision: Precision = "auto"
    memory_format: MemoryFormat = "auto"  # auto: channels_last on CUDA and AVX2/AVX-512 CPUs (device.py)
    deterministic: bool = False  # same seed, same student on a GPU too, at some speed (device.set_deterministic)
    # the attacks differentiate the eval-mode student with each Conv->BatchNorm folded into one conv:
    # the same function with fewer passes (models/folded_bn.py); measured faster on an H200 in bf16 and
    # fp32 (benchmarks/results/step_profile_h200.md has the readings)
    fold_batchnorm: bool = True
    # CUDA only: the student step's PGD is captured once as a CUDA graph and replayed, one launch instead
    # of over a thousand per attack (attacks/graphed_pgd.py). Measured on an H200, the paper-scale bf16
    # student step faster (benchmarks/results/step_profile_h200_2026-11-28*.md has the readings); ignored on a CPU.
    cuda_graphs: bool = True
    checkpoint_minutes: float = 2.0
    eval_data: str | None = None  # only `digits`: report real test accuracy at the very end
    # labelled data whose train images replace the generator's samples (labels unused): robust
    # distillation *with* data (ARD/RSLAD style), the upper bound a data-free run is measured against
    data: str | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "generator_steps", "student_steps", "batch_size", "nz", "ngf",
                     "lr_student", "lr_generator", "eps", "attack_steps", "attack_step_size",
                     "probe_size", "checkpoint_minutes", "fixed_tau", "adv_tau"):
            _positive(f"distill.{name}", getattr(self, name))
        check_eps("distill.eps", self.eps)
        _check_names(self)
        if not 0.0 <= self.adv_fraction <= 1.0:
            raise ValueError(f"distill.adv_fraction must be in [0, 1], got {self.adv_fraction}")
        if self.tau_max < 1.0:
            raise ValueError(f"distill.tau_max must be >= 1, got {self.tau_max}")
        if not 0.0 < self.agb_beta_min <= self.agb_beta_max < 1.0:
            raise ValueError("distill.agb_beta_min/max must satisfy 0 < min <= max < 1")
        if not 0.0 <= self.student_ema < 1.0:
            raise ValueError(f"distill.student_ema must be in [0, 1), got {self.student_ema}")
        if not 0.0 <= self.agb_momentum < 1.0:
            raise ValueError(f"distill.agb_momentum must be in [0, 1), got {self.agb_momentum}")
        if self.class_sampling == "adaptive" and not self.conditional_generator:
            raise ValueError("distill.class_sampling: adaptive needs distill.conditional_generator: true "
                             "(an unconditional generator cannot be asked for a class)")
        if self.memory_bank_batches < 0:
            raise ValueError("distill.memory_bank_batches must be >= 0")
        if self.eval_data not in (None, "digits"):
            raise ValueError(f"distill.eval_data may only be 'digits' (got {self.eval_data!r}): "
                             "distill never reads a user's dataset")


@dataclass(frozen=True)
class ExportTarget:
    format: Literal["onnx", "tensorrt"] = "onnx"
    precision: Literal["fp32", "fp16", "bf16", "int8"] = "fp32"
    int8_scheme: Int8Scheme = "symmetric"  # see export/int8.py


# the ONNX opsets the exporter writes, and how many INT8 calibration samples make sense (the
# generator draws them all into memory at once): one source for the config and the export command
OPSETS = (13, 23)
CALIBRATION_SAMPLES = (16, 65536)


def check_export_numbers(opset: int, calibration_samples: int, where: str = "export.") -> None:
    if not OPSETS[0] <= opset <= OPSETS[1]:
        raise ValueError(f"{where}opset {opset} is outside what the exporter writes ({OPSETS[0]}-{OPSETS[1]}; "
                         "18 is the default)")
    if not CALIBRATION_SAMPLES[0] <= calibration_samples <= CALIBRATION_SAMPLES[1]:
        raise ValueError(f"{where}calibration_samples must be in {CALIBRATION_SAMPLES[0]}-{CALIBRATION_SAMPLES[1]}, "
                         f"got {calibration_samples}")


@dataclass(frozen=True)
class ExportConfig:
    targets: tuple[ExportTarget, ...] = (ExportTarget("onnx", "fp32"), ExportTarget("onnx", "int8", "cpu"))
    opset: int = 18
    dynamic_batch: bool = True
    calibration_samples: int = 512

    def __post_init__(self) -> None:
        check_export_numbers(self.opset, self.calibration_samples)


@dataclass(frozen=True)
class VerifyConfig:
    devices: tuple[str, ...] = ("cpu",)
    data: str = "digits"
    n: int | None = None  # a seeded, class-stratified subset of the test set (None: all of it)

    def __post_init__(self) -> None:
        if self.n is not None and not 1 <= self.n <= 10_000_000:
            raise ValueError(f"verify.n must be in 1-10,000,000, got {self.n}")


@dataclass(frozen=True)
class PipelineConfig:
    """The whole pipeline. `seed` fixes every random draw of every stage."""

    seed: int = 0
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)

    def __post_init__(self) -> None:
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be an integer in [0, 2**63), got {self.seed}")
