"""The DFARD epoch loop: probe -> N_G generator steps -> N_S student steps, with resumable,
atomic checkpoints (every epoch and every ``checkpoint_minutes``) and Ctrl-C handling.

Resume restores models, optimizers, schedules, ITA/AGB state, every rank's memory bank and RNG
and the position inside the epoch, so an interrupted run continues on the same trajectory.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from dfard_pipeline.artifacts.torch_files import load_error, load_plain
from dfard_pipeline.atomic import save_torch_atomic
from dfard_pipeline.attacks.graphed_pgd import GraphedPGD
from dfard_pipeline.config.schema import DistillConfig
from dfard_pipeline.device import autocast_dtype, memory_format, resolve_precision
from dfard_pipeline.distill.balance import BALANCE_RULES
from dfard_pipeline.distill.class_balance import ClassBalance
from dfard_pipeline.distill.distributed import DistContext
from dfard_pipeline.distill.memory_bank import MemoryBank
from dfard_pipeline.distill.methods import METHODS
from dfard_pipeline.distill.pending_losses import PendingLosses
from dfard_pipeline.distill.phases import step_phase
from dfard_pipeline.distill.steps import (
    StepContext,
    add_to_bank,
    generator_step,
    run_probe,
    student_step,
    teacher_forward,
)
from dfard_pipeline.distill.student_loss import STUDENT_LOSSES
from dfard_pipeline.distill.teacher_stats import FeatureStatistics, feature_statistics
from dfard_pipeline.distill.temperature import TEMPERATURE_RULES
from dfard_pipeline.errors import CheckpointError, DfardError
from dfard_pipeline.models.folded_bn import FoldedEval
from dfard_pipeline.models.generator import Generator
from dfard_pipeline.progress import bar as progress_bar
from dfard_pipeline.progress import log_line


class Interrupted(DfardError):
    """Ctrl-C during training: the state was saved and the run can be resumed."""

    exit_code = 130


@dataclass
class LoopState:
    """Everything that changes during training besides model/optimizer weights."""

    epoch: int = 0
    step: int = 0  # position inside the epoch: 0 = probe, then generator, then student steps
    tau: float = 1.0
    agreement: float = 0.0
    teacher_agreement: float | None = None  # distill.agreement: relative only
    elapsed: float = 0.0
    accum: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    accum_health: dict = field(default_factory=dict)  # the epoch's probe: see Probe.health
    phase_seconds: dict = field(default_factory=dict)  # CPU only: where the epoch's time went, by phase


# With several ranks, whether a timed save is due is agreed by an all-reduce, which waits for the
# device; asked every this many steps, not every step.
_SAVE_POLL_STEPS = 10


class DistillTrainer:
    def __init__(self, cfg: DistillConfig, teacher: nn.Module, student: nn.Module, num_classes: int,
                 image_shape: tuple[int, int, int], device: torch.device, dist: DistContext,
                 seed: int, checkpoint_path: Path, fingerprint: str, progress: bool = True,
                 on_epoch: Callable[[list], None] | None = None, feature_stats: FeatureStatistics | None = None):
        if cfg.precision == "auto":  # run_distill resolves it first; a trainer built directly resolves it here
            cfg = replace(cfg, precision=resolve_precision(device, cfg.precision))
        self.cfg, self.dist, self.device = cfg, dist, device
        self.checkpoint_path, self.fingerprint = checkpoint_path, fingerprint
        self.progress, self.on_epoch = progress and dist.is_main, on_epoch
        self._started = time.monotonic()  # the run's clock origin, less any elapsed time resumed (fit)
        method = METHODS.get(cfg.method)
        self.temperature_rule = TEMPERATURE_RULES.get(method.temperature_rule(cfg))
        if feature_stats is None:  # the caller may already have tapped (and for TorchScript, converted) it
            teacher, feature_stats = feature_statistics(teacher, image_shape)
        bn_stats = feature_stats
        bn_prior = bn_stats.available and cfg.feature_prior == "auto"
        terms = ("adv", "bn", "oh", "ent") if bn_prior else ("adv", "oh", "ent")
        self.balance = BALANCE_RULES.get(method.balance_rule(cfg))(cfg, terms)
        self.class_uses = (method.class_sampling(cfg) == "adaptive", method.class_weighting(cfg) == "adaptive")
        self.class_balance = ClassBalance(num_classes, any(self.class_uses), cfg.agb_momentum)
        torch.manual_seed(seed + 1)  # the generator's initial weights, identical on every rank
        generator = Generator(cfg.nz, cfg.ngf, image_shape, num_classes, cfg.conditional_generator).to(device)
        # Teacher, student and generator share one layout so no step converts between them.
        self.memory_format = memory_format(device, cfg.memory_format)
        student = student.to(device, memory_format=self.memory_format)
        teacher.to(memory_format=self.memory_format)
        generator.to(memory_format=self.memory_format)
        student_train, generator_train = student, generator
        if dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [device.index] if device.type == "cuda" else None
            student_train = DDP(student, device_ids=ids)
            generator_train = DDP(generator, device_ids=ids)
        # Each rank draws different z, targets and PGD starts; the seed fixes all of them.
        rng = torch.Generator().manual_seed(seed * 1000 + dist.rank)
        # every call of the attack student runs under the step's autocast: its folded weights are kept in that dtype
        attack_dtype = autocast_dtype(cfg.precision)
        attack_student = FoldedEval.of(student, dtype=attack_dtype) if cfg.fold_batchnorm else student
        student_loss = STUDENT_LOSSES.get(cfg.student_loss)
        graphed_pgd = None
        if cfg.cuda_graphs and device.type == "cuda":
            graphed_pgd = GraphedPGD(attack_student, eps=cfg.eps, step_size=cfg.attack_step_size,
                                     steps=cfg.attack_steps, loss_fn=student_loss.inner_loss,
                                     autocast_dtype=attack_dtype)
        self.ctx = StepContext(cfg, teacher, student, attack_student, student_train, generator, generator_train,
                               bn_stats, student_loss, num_classes, device, dist, rng, bn_prior, graphed_pgd,
                               probe_attacks_teacher=self.class_balance.adaptive)
        # PyTorch's default foreach updates: fused ones measured no faster on an H200 (step_profile_h200.md)
        if cfg.student_optimizer == "adam":
            self.opt_student = torch.optim.Adam(student.parameters(), lr=cfg.lr_student, weight_decay=5e-4)
        else:
            self.opt_student = torch.optim.SGD(student.parameters(), lr=cfg.lr_student, momentum=0.9,
                                               weight_decay=5e-4, nesterov=True)
        self.opt_generator = torch.optim.Adam(generator.parameters(), lr=cfg.lr_generator, betas=(0.5, 0.999))
        self.schedule = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt_student, T_max=cfg.epochs)
        fp16 = cfg.precision == "fp16"
        self.scalers = [torch.amp.GradScaler(device.type, enabled=fp16) for _ in range(2)]
        self.bank = MemoryBank(cfg.memory_bank_batches)
        self.pending = PendingLosses(dist)  # student losses, read once per epoch and before a save
        # Weight averaging (Gowal et al. 2020) steadies robust training; the average is the output.
        self.student_ema = copy.deepcopy(student).eval().requires_grad_(False) if cfg.student_ema else None
        self.state = LoopState(tau=cfg.fixed_tau)

    # ----- checkpoints -------------------------------------------------------------------
    def state_dict(self) -> dict:
        c = self.ctx
        rng_states = self.dist.gather_objects(c.rng.get_state())
        s = self.state
        return {
            "fingerprint": self.fingerprint, "world_size": self.dist.world_size,
            "loop": {"epoch": s.epoch, "step": s.step, "tau": s.tau, "agreement": s.agreement,
                     "teacher_agreement": s.teacher_agreement, "elapsed": s.elapsed, "accum": s.accum,
                     "history": s.history,
                     "accum_health": s.accum_health, "phase_seconds": s.phase_seconds},
            "student": c.student.state_dict(), "generator": c.generator.state_dict(),
            "opt_student": self.opt_student.state_dict(), "opt_generator": self.opt_generator.state_dict(),
            "schedule": self.schedule.state_dict(), "balance": self.balance.state_dict(),
            "class_balance": self.class_balance.state_dict(),
            "bank": self.dist.gather_objects(self.bank.state_dict()),  # each rank keeps its own batches
            "rng": rng_states,
            "scalers": [sc.state_dict() for sc in self.scalers],
            "student_ema": None if self.student_ema is None else self.student_ema.state_dict(),
        }

    def save(self) -> None:
        self._read_pending()  # a non-finite loss stops the run here, before anything is written
        state = self.state_dict()  # collective: every rank takes part
        if self.dist.is_main:
            save_torch_atomic(state, self.checkpoint_path)
        self.dist.barrier()

    def resume(self) -> None:
        if not self.checkpoint_path.is_file():
            raise CheckpointError(f"--resume: no checkpoint at {self.checkpoint_path}")
        state = load_plain(self.checkpoint_path, lambda exc: f"--resume: {self.checkpoint_path} is unreadable "
                           f"({load_error(exc)}); start anew with --overwrite", map_location=self.device)
        if not isinstance(state, dict) or not {"fingerprint", "world_size", "loop"} <= set(state):
            raise CheckpointError(f"--resume: {self.checkpoint_path} is not a distill checkpoint; start anew with "
                                  "--overwrite")
        if state["fingerprint"] != self.fingerprint:
            raise CheckpointError("--resume: the checkpoint was made with a different teacher, "
                                  "student or config; resume with the same options or start anew "
                                  "with --overwrite")
        if state["world_size"] != self.dist.world_size:
            raise CheckpointError(f"--resume: checkpoint has {state['world_size']} ranks, this run "
                                  f"{self.dist.world_size}; resume with the same number of processes")
        try:
            self._restore(state)
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"--resume: {self.checkpoint_path} is damaged ({first}); start anew with "
                                  "--overwrite") from None

    def _restore(self, state: dict) -> None:
        c = self.ctx
        c.student.load_state_dict(state["student"])
        c.generator.load_state_dict(state["generator"])
        self.opt_student.load_state_dict(state["opt_student"])
        self.opt_generator.load_state_dict(state["opt_generator"])
        self.schedule.load_state_dict(state["schedule"])
        self.balance.load_state_dict(state["balance"])
        self.class_balance.load_state_dict(state.get("class_balance"))  # absent: a checkpoint from before it
        self._apply_class_balance()
        # one bank per rank; a checkpoint from before kept rank 0's alone, which every rank then takes
        bank = state["bank"][self.dist.rank] if isinstance(state["bank"], list) else state["bank"]
        # a checkpoint from before the bank kept the teacher's logits gets them computed now
        self.bank.load_state_dict(bank, lambda x: teacher_forward(c, x.to(self.device)))
        for scaler, scaler_state in zip(self.scalers, state["scalers"], strict=True):
            scaler.load_state_dict(scaler_state)
        c.rng.set_state(state["rng"][self.dist.rank].cpu())
        if self.student_ema is not None:
            self.student_ema.load_state_dict(state["student_ema"])
        self.state = LoopState(**state["loop"])

    # ----- the loop ------------------------------------------------------------------------
    def _save_due(self, last_save: float, step: int) -> bool:
        due = time.monotonic() - last_save > 60 * self.cfg.checkpoint_minutes
        if not self.dist.enabled:
            return due  # no tensor, no host sync per step
        if step % _SAVE_POLL_STEPS:
            return False  # the ranks agree on the step count, so they skip together
        # every rank saves together, or none; on the training device, which NCCL needs
        return bool(self.dist.mean(torch.tensor(float(due), device=self.device)) > 0)

    def fit(self) -> LoopState:
        cfg, s = self.cfg, self.state
        steps_per_epoch = 1 + cfg.generator_steps + cfg.student_steps
        total = cfg.epochs * steps_per_epoch
        bar = progress_bar(self.progress, total=total, initial=s.epoch * steps_per_epoch + s.step, desc="distill",
                           unit="step", dynamic_ncols=True)
        epoch_started = time.monotonic()
        last_save, self._started = time.monotonic(), time.monotonic() - s.elapsed
        try:
            while s.epoch < cfg.epochs:
                self._run_step(s, steps_per_epoch)
                s.elapsed = time.monotonic() - self._started
                bar.update(1)
                if s.step == 0:  # an epoch just ended
                    beta = getattr(self.balance, "beta", None)
                    bar.set_postfix(tau=f"{s.tau:.2f}", agree=f"{s.agreement:.2f}",
                                    beta="fixed" if beta is None else f"{beta:.2f}",
                                    loss=f"{s.history[-1]['loss_student']:.3f}")
                    record, seconds = s.history[-1], time.monotonic() - epoch_started
                    distance = record["health"].get("bn_distance")
                    log_line(self.progress, f"distill epoch {s.epoch}/{cfg.epochs}: tau {s.tau:.2f}, agreement "
                             f"{s.agreement:.2f}, student loss {record['loss_student']:.3f}, bn_distance "
                             f"{'-' if distance is None else f'{distance:.3f}'}, "
                             f"{steps_per_epoch / seconds:.1f} steps/s")
                    epoch_started = time.monotonic()
                    self._timed("checkpoint", self.save)
                    last_save = time.monotonic()
                elif self._save_due(last_save, s.step):
                    self._timed("checkpoint", self.save)
                    last_save = time.monotonic()
        except KeyboardInterrupt:
            bar.close()
            if not self.dist.enabled:  # a collective save cannot be trusted mid-signal across ranks
                self.save()
            raise Interrupted(f"interrupted at epoch {s.epoch + 1}, step {s.step}; state saved to "
                              f"{self.checkpoint_path}; continue with --resume") from None
        bar.close()
        self.dist.sync_buffers(self.ctx.student)
        self.dist.sync_buffers(self.ctx.generator)
        if self.student_ema is not None:
            self._copy_buffers()
        return s

    @property
    def final_student(self) -> nn.Module:
        """What the run outputs: the weight average when enabled, else the trained student."""
        return self.student_ema if self.student_ema is not None else self.ctx.student

    def _update_ema(self) -> None:
        if self.student_ema is None:
            return
        decay = self.cfg.student_ema
        with torch.no_grad():
            pairs = zip(self.student_ema.parameters(), self.ctx.student.parameters(), strict=True)
            for averaged, live in pairs:
                averaged.lerp_(live, 1.0 - decay)
        self._copy_buffers()

    def _copy_buffers(self) -> None:
        with torch.no_grad():
            for averaged, live in zip(self.student_ema.buffers(), self.ctx.student.buffers(), strict=True):
                averaged.copy_(live)

    def _timed(self, phase: str, work: Callable[[], object]) -> None:
        """Runs ``work``, adding its seconds to the epoch's ``phase``. Only on the CPU, where a step's
        work is done when its call returns: on a GPU the host would time kernel launches, not work."""
        if self.device.type != "cpu":
            work()
            return
        started = time.perf_counter()
        work()
        seconds = self.state.phase_seconds
        seconds[phase] = seconds.get(phase, 0.0) + time.perf_counter() - started

    def _run_step(self, s: LoopState, steps_per_epoch: int) -> None:
        self._timed(step_phase(s.step, self.cfg.generator_steps), lambda: self._step(s))
        s.step += 1
        if s.step == steps_per_epoch:
            self._read_pending()
            self._end_epoch(s)

    def _step(self, s: LoopState) -> None:
        cfg, c = self.cfg, self.ctx
        where = f"epoch {s.epoch + 1}, step {s.step}"
        if s.step == 0:
            probe = run_probe(c)
            s.agreement = probe.robust_agreement
            s.teacher_agreement = probe.teacher_agreement
            s.accum_health = probe.health()
            s.tau = float(self.temperature_rule(probe, cfg))
            self.balance.update({}, probe)
            self.class_balance.update(probe)
            self._apply_class_balance()
            s.accum = {"generator": {}, "student_loss": 0.0, "student_steps": 0, "generator_steps": 0}
        elif s.step <= cfg.generator_steps and c.real_images is not None:
            pass  # with real images (distill.data) there is no generator to train: its steps cost nothing
        elif s.step <= cfg.generator_steps:
            terms = generator_step(c, self.balance, self.opt_generator, self.scalers[0], where)
            for k, v in terms.items():
                s.accum["generator"][k] = s.accum["generator"].get(k, 0.0) + v
            s.accum["generator_steps"] += 1
            if s.step == cfg.generator_steps:
                add_to_bank(c, self.bank, cfg.batch_size)
        else:
            loss = student_step(c, self.bank, s.tau, self.opt_student, self.scalers[1])
            self.pending.add(loss, f"{where}, student loss '{cfg.student_loss}'")
            self._update_ema()

    def _apply_class_balance(self) -> None:
        """The class balance's current reading, where the run uses it: the generator's class draw
        (``class_sampling``), the student loss's class weights (``class_weighting``)."""
        sampling, weighting = self.class_uses
        self.ctx.class_probabilities = self.class_balance.probabilities() if sampling else None
        weights = self.class_balance.loss_weights() if weighting else None
        self.ctx.class_loss_weights = None if weights is None else torch.tensor(weights, device=self.device)

    def _read_pending(self) -> None:
        """Reads and checks the student losses queued since the last read (pending_losses.py)."""
        for value in self.pending.read():  # one by one, as each step used to add it: the same sum
            self.state.accum["student_loss"] += value
            self.state.accum["student_steps"] += 1

    def _end_epoch(self, s: LoopState) -> None:
        a = s.accum
        s.elapsed = time.monotonic() - self._started  # the epoch's last step included
        record = {
            "epoch": s.epoch + 1,
            "tau": s.tau,
            "robust_agreement": s.agreement,
            **({"teacher_agreement": s.teacher_agreement} if s.teacher_agreement is not None else {}),
            "agb_beta": getattr(self.balance, "beta", None),
            "weights": self.balance.weights(),
            **({"class_probabilities": self.class_balance.probabilities()} if self.class_balance.adaptive else {}),
            "loss_student": a["student_loss"] / max(1, a["student_steps"]),
            "generator_terms": {k: v / max(1, a["generator_steps"]) for k, v in a["generator"].items()},
            "health": s.accum_health,
            "lr_student": self.opt_student.param_groups[0]["lr"],
            "wall_time": s.elapsed,
            # seconds by phase (CPU only); "checkpoint" counts the saves since the previous record
            **({"phase_seconds": {k: round(v, 3) for k, v in s.phase_seconds.items()}} if s.phase_seconds else {}),
        }
        s.phase_seconds = {}
        s.history.append(record)
        self.schedule.step()
        s.epoch, s.step = s.epoch + 1, 0
        if self.on_epoch is not None and self.dist.is_main:
            self.on_epoch(s.history)
