"""The three kinds of step of a DFARD epoch: probe, generator step, student step.

They are plain functions over a ``StepContext`` so the loop in ``trainer.py`` only schedules
them. Shapes: synthetic batches (N, C, H, W) in [0, 1]; logits (N, K).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import nn

from dfard_pipeline.attacks.graphed_pgd import GraphedPGD
from dfard_pipeline.attacks.pgd import pgd, probe_attack
from dfard_pipeline.config.schema import DistillConfig
from dfard_pipeline.data.augment import augment
from dfard_pipeline.device import autocast, to_device
from dfard_pipeline.distill.distributed import DistContext
from dfard_pipeline.distill.generator_loss import HARDNESS_TERMS, generator_terms
from dfard_pipeline.distill.memory_bank import MemoryBank
from dfard_pipeline.distill.probe import Probe
from dfard_pipeline.distill.student_loss import StudentLoss
from dfard_pipeline.distill.teacher_stats import FeatureStatistics
from dfard_pipeline.errors import ValidationError
from dfard_pipeline.models.generator import Generator, sample_latent


@dataclass
class StepContext:
    cfg: DistillConfig
    teacher: nn.Module
    student: nn.Module  # the raw student
    attack_student: nn.Module  # its eval-mode forward for input gradients (folded BN or the student itself);
    # always called under autocast(device, cfg.precision): its folded weights may be kept in that dtype
    student_train: nn.Module  # what the student step calls (DDP wrapper or the raw student)
    generator: Generator  # raw generator (sampling)
    generator_train: nn.Module  # DDP wrapper or the raw generator
    bn_stats: FeatureStatistics
    student_loss: StudentLoss
    num_classes: int
    device: torch.device
    dist: DistContext
    rng: torch.Generator
    bn_prior: bool = True  # the bn generator term is used (False: measured for health only)
    graphed_pgd: GraphedPGD | None = None  # distill.cuda_graphs: the student step's PGD, replayed
    # distill.data: real images that replace the generator's (the upper bound with data, ARD/RSLAD style)
    real_images: torch.Tensor | None = None
    # distill.class_sampling: adaptive: the class probabilities the generator's targets are drawn with
    # (set after each probe; None: uniform), and whether the probe attacks the teacher too
    class_probabilities: list[float] | None = None
    probe_attacks_teacher: bool = False
    # distill.class_weighting: adaptive: per-class weights of the student loss (K,) on the device, by teacher
    # class (None: alike); set once per epoch, so no student step builds or copies them
    class_loss_weights: torch.Tensor | None = None


def eval_student(ctx: StepContext) -> nn.Module:
    """The student in eval mode, as the attacks differentiate it: folded weights brought up to date."""
    ctx.student.eval()
    refresh = getattr(ctx.attack_student, "refresh", None)
    if refresh is not None:
        refresh()
    return ctx.attack_student


@contextlib.contextmanager
def frozen(module: nn.Module):
    """Parameters temporarily excluded from autograd (no grads, no DDP hooks)."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)


# what every non-finite-loss error ends with (here and in pending_losses.py)
NON_FINITE_ADVICE = "the last good checkpoint is kept: lower the learning rates or use --precision fp32"


def check_finite(value: float, where: str) -> None:
    if not math.isfinite(value):
        raise ValidationError(f"non-finite loss ({float(value)}) at {where}; {NON_FINITE_ADVICE}")


def latent(ctx: StepContext, batch: int, uniform: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded (z, class targets) for the generator: drawn with the run's class probabilities, or
    uniformly (``uniform``: the probe, which measures every class alike)."""
    probabilities = None if uniform else ctx.class_probabilities
    return sample_latent(batch, ctx.cfg.nz, ctx.num_classes, ctx.rng, ctx.device, probabilities)


def synthesize(ctx: StepContext, batch: int, uniform: bool = False) -> torch.Tensor:
    """A fresh synthetic batch (no grad); generator BN runs on batch statistics. With ``distill.data``,
    a seeded draw of real images instead (their labels are never used: the teacher's logits teach)."""
    if ctx.real_images is not None:
        index = torch.randint(len(ctx.real_images), (batch,), generator=ctx.rng)
        return to_device(ctx.real_images[index], ctx.device)
    with torch.no_grad(), autocast(ctx.device, ctx.cfg.precision):
        return ctx.generator(*latent(ctx, batch, uniform)).float()


def teacher_forward(ctx: StepContext, x: torch.Tensor) -> torch.Tensor:
    """The teacher's float logits on ``x`` (no grad), as the student step and the memory bank use them."""
    with torch.no_grad(), autocast(ctx.device, ctx.cfg.precision):
        return ctx.teacher(x).float()


def add_to_bank(ctx: StepContext, bank: MemoryBank, batch: int) -> None:
    """A fresh synthetic batch into the memory bank, with the teacher's logits on it."""
    x = synthesize(ctx, batch)
    bank.add(x, teacher_forward(ctx, x))


def run_probe(ctx: StepContext) -> Probe:
    """Teacher logits on fresh samples and student logits on their adversarial versions."""
    cfg = ctx.cfg
    attacked = eval_student(ctx)
    x = synthesize(ctx, cfg.probe_size, uniform=True)
    ctx.bn_stats.enabled = True  # the health signal: how far the samples' feature statistics are
    try:
        with torch.no_grad(), autocast(ctx.device, cfg.precision):
            teacher_logits = ctx.teacher(x).float()
    finally:
        ctx.bn_stats.enabled = False
    distance = ctx.bn_stats.collect()
    student_adv_logits = _logits_under_probe_attack(ctx, attacked, x, teacher_logits)
    relative = cfg.agreement == "relative"
    attack_teacher = relative or ctx.probe_attacks_teacher
    teacher_adv_logits = _logits_under_probe_attack(ctx, ctx.teacher, x, teacher_logits) if attack_teacher else None
    layers = max(1, ctx.bn_stats.layers)
    return Probe(teacher_logits, student_adv_logits, ctx.dist.mean,
                 None if distance is None else distance.detach() / layers, teacher_adv_logits, relative)


def _logits_under_probe_attack(ctx: StepContext, model, x: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """``model``'s logits under the probe's attack (``attacks.pgd.probe_attack``) at the run's eps and
    steps: the student's robust agreement, and with ``distill.agreement: relative`` the teacher's own,
    the ceiling the student is measured against."""
    cfg = ctx.cfg
    with autocast(ctx.device, cfg.precision):
        return probe_attack(model, x, teacher_logits, eps=cfg.eps, step_size=cfg.attack_step_size,
                            steps=cfg.attack_steps, generator=ctx.rng)


def _fgsm_step(ctx: StepContext, student: nn.Module, x: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """x moved one FGSM step (eps) against the student; the step is detached, so the generator's
    gradient still flows through x."""
    probe = x.detach().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(student(probe).float(), teacher_logits.detach().argmax(1))
    (grad,) = torch.autograd.grad(loss, probe)
    return (x + ctx.cfg.eps * grad.sign()).clamp(0.0, 1.0)


def generator_step(ctx: StepContext, balance, optimizer, scaler, where: str) -> dict[str, float]:
    """One generator update on the balanced sum of its terms; returns the raw term values."""
    cfg = ctx.cfg
    ctx.generator_train.train()
    attacked = eval_student(ctx)
    z, targets = latent(ctx, cfg.batch_size)
    with autocast(ctx.device, cfg.precision), frozen(ctx.student):
        x = augment(cfg.synthetic_augment, ctx.generator_train(z, targets), ctx.rng)
        ctx.bn_stats.enabled = ctx.bn_prior
        try:
            teacher_logits = ctx.teacher(x)
        finally:
            ctx.bn_stats.enabled = False
        bn_loss = ctx.bn_stats.collect()
        student_logits = attacked(_fgsm_step(ctx, attacked, x, teacher_logits)
                                  if cfg.generator_adv_inputs == "fgsm" else x)
    if not cfg.conditional_generator:  # DAFL: each sample's own teacher class is its target
        targets = teacher_logits.detach().argmax(1)
    terms = generator_terms(teacher_logits, student_logits, targets, bn_loss, cfg.generator_adv_loss)
    values = ctx.dist.mean(torch.stack([terms[k].detach().float() for k in terms]))
    # One read of all terms (a host sync on a GPU), not one per term; the checks run on host floats.
    magnitudes = dict(zip(terms, values.tolist(), strict=True))
    for name, value in magnitudes.items():
        check_finite(value, f"{where}, generator term '{name}'")
    if balance.measure == "grad":
        norms = [torch.autograd.grad(terms[k], x, retain_graph=True)[0].float().norm() for k in terms]
        norms = ctx.dist.mean(torch.stack(norms))
        balance.update(dict(zip(terms, norms.tolist(), strict=True)), None)  # one read for all norms
    else:
        balance.update(magnitudes, None)
    weights = balance.weights()
    loss = sum(weights[k] * terms[k] for k in terms)
    magnitudes["total"] = sum(weights[k] * magnitudes[k] for k in terms)  # on the host: no second read
    optimizer.zero_grad(set_to_none=True)
    if balance.project_hardness:
        loss = _projected_surrogate(x, terms, weights)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return magnitudes


def _projected_surrogate(x: torch.Tensor, terms: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    """A loss whose gradient through the generator is J^T g, where g is the weighted hardness
    gradient on each image minus its component against the information gradient, plus the
    information gradient. Only its gradient is used (the logged total stays the weighted sum)."""
    hard = sum(weights[k] * terms[k] for k in terms if k in HARDNESS_TERMS)
    info = sum(weights[k] * terms[k] for k in terms if k not in HARDNESS_TERMS)
    g_hard, g_info = (torch.autograd.grad(part, x, retain_graph=True)[0].float() for part in (hard, info))
    dims = tuple(range(1, x.dim()))
    dot = (g_hard * g_info).sum(dims, keepdim=True)
    norm2 = (g_info * g_info).sum(dims, keepdim=True).clamp_min(1e-20)
    g_hard = g_hard - torch.where(dot < 0, dot / norm2, torch.zeros_like(dot)) * g_info
    return (x.float() * (g_hard + g_info).detach()).sum()


def _labelled_batch(ctx: StepContext, bank: MemoryBank) -> tuple[torch.Tensor, torch.Tensor]:
    """The student step's batch and the teacher's logits on it: fresh samples, and half the batch from
    the memory bank once it holds any. The bank's samples come with the teacher's logits, so the teacher
    runs on the fresh part only; with ``synthetic_augment`` it labels the augmented batch, all of it."""
    cfg = ctx.cfg
    from_bank = cfg.batch_size // 2 if len(bank) else 0
    fresh = synthesize(ctx, cfg.batch_size - from_bank)
    stored = bank.sample(from_bank, ctx.rng) if from_bank else None
    x = fresh if stored is None else torch.cat([fresh, to_device(stored[0], ctx.device)])
    if cfg.synthetic_augment != "none":
        x = augment(cfg.synthetic_augment, x, ctx.rng)
        return x, teacher_forward(ctx, x)
    teacher_logits = teacher_forward(ctx, fresh)
    if stored is not None:
        teacher_logits = torch.cat([teacher_logits, to_device(stored[1], ctx.device)])
    return x, teacher_logits


def student_step(ctx: StepContext, bank: MemoryBank, tau: float, optimizer, scaler) -> torch.Tensor:
    """One student update on adversarial versions of a synthetic batch (bank-mixed). Returns the loss
    on the device, unread: the caller checks it later (``pending_losses.py``), so the step never
    waits for the GPU."""
    cfg = ctx.cfg
    x, teacher_logits = _labelled_batch(ctx, bank)
    attacked = eval_student(ctx)  # the inner maximisation attacks the student as it is deployed
    with autocast(ctx.device, cfg.precision):
        inner_tau = tau if cfg.ita_scope == "all" else 1.0
        target = ctx.student_loss.inner_target(teacher_logits, inner_tau)
        if ctx.graphed_pgd is not None:  # the same attack on `attacked`, replayed from a CUDA graph
            x_adv = ctx.graphed_pgd(x, target, ctx.rng)
        else:
            x_adv = pgd(attacked, x, target, eps=cfg.eps, step_size=cfg.attack_step_size, steps=cfg.attack_steps,
                        loss_fn=ctx.student_loss.inner_loss, generator=ctx.rng)
    ctx.student_train.train()
    with autocast(ctx.device, cfg.precision):
        # One forward over [x_adv; x]: DDP needs exactly one forward per backward.
        logits = ctx.student_train(torch.cat([x_adv, x])).float()
    adv_logits, clean_logits = logits[: len(x)], logits[len(x):]
    sample_weights = None
    if ctx.class_loss_weights is not None:
        sample_weights = ctx.class_loss_weights[teacher_logits.argmax(1)]
    loss = ctx.student_loss.loss(adv_logits, clean_logits, teacher_logits, tau, cfg.adv_fraction,
                                 tau_adv=cfg.adv_tau if cfg.ita_scope == "clean" else tau,
                                 sample_weights=sample_weights)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.detach()
