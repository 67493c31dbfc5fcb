"""Adversarial training of a robust teacher on a labelled set (how a user without a teacher
gets one, and how the demo gets its teacher).

``pgd_at``: Madry et al. 2018, cross-entropy on PGD examples. ``trades``: Zhang et al. 2019,
CE(clean) + beta * KL(f(x) || f(x_adv)), which keeps clean accuracy higher at equal robustness.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dfard_pipeline.attacks.losses import cross_entropy, kl_to_soft_target
from dfard_pipeline.attacks.pgd import pgd
from dfard_pipeline.config.schema import TeacherConfig
from dfard_pipeline.data import load_dataset
from dfard_pipeline.data.augment import augment
from dfard_pipeline.device import (
    autocast,
    check_precision,
    memory_format,
    precision_warning,
    resolve_device,
    resolve_precision,
    set_deterministic,
    to_device,
)
from dfard_pipeline.errors import UsageError, ValidationError
from dfard_pipeline.evaluation import RobustnessResult, evaluate_robustness
from dfard_pipeline.models import ZooModel, create_model
from dfard_pipeline.progress import bar as progress_bar
from dfard_pipeline.progress import log_line


@dataclass(frozen=True)
class TeacherResult:
    model: ZooModel
    test: RobustnessResult
    seconds: float
    precision: str = "fp32"  # what teacher.precision resolved to on this machine


def _adversarial_batch(model, x, y, cfg: TeacherConfig, generator) -> torch.Tensor:
    # the attack runs in the model's training mode's counterpart, eval (frozen BatchNorm statistics)
    model.eval()
    if cfg.method == "trades":
        with torch.no_grad():
            clean_probs = F.softmax(model(x), dim=1)
        # TRADES starts from a small Gaussian perturbation (0.001 std), as in the reference code.
        start = (x + 0.001 * to_device(torch.randn(x.shape, generator=generator), x.device)).clamp(0, 1)
        x_adv = pgd(model, start, clean_probs, eps=cfg.eps, step_size=cfg.attack_step_size,
                    steps=cfg.attack_steps, random_start=False, loss_fn=kl_to_soft_target)
        x_adv = torch.min(torch.max(x_adv, x - cfg.eps), x + cfg.eps)
    else:
        x_adv = pgd(model, x, y, eps=cfg.eps, step_size=cfg.attack_step_size,
                    steps=cfg.attack_steps, loss_fn=cross_entropy, generator=generator)
    model.train()
    return x_adv


def _loss(model, x, x_adv, y, cfg: TeacherConfig) -> torch.Tensor:
    if cfg.method == "trades":
        logits = model(torch.cat([x, x_adv]))
        clean, adv = logits[: len(x)], logits[len(x):]
        robust = F.kl_div(F.log_softmax(adv, 1), F.softmax(clean, 1), reduction="batchmean")
        return F.cross_entropy(clean, y) + cfg.trades_beta * robust
    return F.cross_entropy(model(x_adv), y)


def train_teacher(cfg: TeacherConfig, seed: int = 0, progress: bool = True) -> TeacherResult:
    """Train ``cfg.arch`` on ``cfg.dataset`` and evaluate it on the test split."""
    device = resolve_device(cfg.device)
    restore_flags = set_deterministic(cfg.deterministic)
    try:
        return _train(cfg, device, seed, progress)
    finally:
        restore_flags()


def _train(cfg: TeacherConfig, device: torch.device, seed: int, progress: bool) -> TeacherResult:
    torch.manual_seed(seed)
    train = load_dataset(cfg.dataset, "train")
    test = load_dataset(cfg.dataset, "test")
    model = create_model(cfg.arch, in_chans=train.shape[0], image_size=train.shape[1], num_classes=train.num_classes)
    model = model.to(device, memory_format=memory_format(device, cfg.memory_format))
    if model.contract.shape != train.shape:
        raise UsageError(f"{cfg.arch} expects {model.contract.shape} inputs, {cfg.dataset} has {train.shape}")
    precision = resolve_precision(device, cfg.precision)
    check_precision(device, precision)
    if (warning := precision_warning(device, precision)) is not None:
        log_line(True, f"warning: {warning}")
    layout = "channels_last" if memory_format(device, cfg.memory_format) == torch.channels_last else "NCHW"
    log_line(progress, f"teacher: {cfg.arch} on {train.name} ({len(train)} images), {precision}, {layout}")
    if cfg.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                                    weight_decay=cfg.weight_decay)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = -(-len(train) // cfg.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr,
                                                   total_steps=cfg.epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(seed)
    start_time = time.perf_counter()
    bar = progress_bar(progress, iterable=range(cfg.epochs), desc="teacher", unit="epoch")
    for epoch in bar:
        epoch_start = time.perf_counter()
        model.train()
        order = torch.randperm(len(train), generator=generator)
        total, seen = 0.0, 0
        for i in range(steps_per_epoch):
            idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            x, y = to_device(augment(cfg.augment, train.x[idx], generator), device), to_device(train.y[idx], device)
            with autocast(device, precision):
                x_adv = _adversarial_batch(model, x, y, cfg, generator)
                loss = _loss(model, x, x_adv, y, cfg).float()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            # one host sync per step, which the running mean below needs anyway; read once the
            # backward is queued, checked before the update is applied
            value = float(loss.detach())
            if not math.isfinite(value):
                raise ValidationError(f"teacher training diverged: non-finite loss ({value}) at epoch {epoch + 1}, "
                                      f"step {i + 1}; nothing was written (lower teacher.lr, or check the data)")
            optimizer.step()
            schedule.step()
            total, seen = total + value * len(x), seen + len(x)
        bar.set_postfix(loss=f"{total / seen:.3f}")
        log_line(progress, f"teacher epoch {epoch + 1}/{cfg.epochs}: loss {total / seen:.3f}, "
                           f"{time.perf_counter() - epoch_start:.1f} s/epoch")
    model.eval()
    test = test.subset(cfg.eval_n, seed)
    log_line(progress, f"teacher: evaluating on {len(test)} test images (FGSM, PGD-20, CW)")
    result = evaluate_robustness(model, test, cfg.eps, device=device, seed=seed)
    return TeacherResult(model.cpu(), result, time.perf_counter() - start_time, precision)
