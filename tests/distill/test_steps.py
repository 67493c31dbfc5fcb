"""The student step's use of the memory bank: the teacher runs on the fresh half only, and the
loss sees the bank's stored logits for the other half."""

import dataclasses

import torch

from dfard_pipeline.distill.memory_bank import MemoryBank
from dfard_pipeline.distill.steps import student_step, synthesize, teacher_forward

TINY = {"distill.batch_size": 8, "distill.attack_steps": 1, "distill.nz": 8, "distill.ngf": 8,
        "distill.memory_bank_batches": 2}


def _step_with_a_planted_bank(digits_trainer, monkeypatch, overrides: dict, class_loss_weights=None, seen=None):
    """One student step with a bank whose stored logits the teacher would never give (all 7): the
    inputs of every teacher forward, and the teacher logits the loss saw (its keyword arguments into
    ``seen``, when given)."""
    trainer = digits_trainer({**TINY, **overrides})
    c = trainer.ctx
    c.class_loss_weights = None if class_loss_weights is None else torch.tensor(class_loss_weights)
    bank = MemoryBank(2)
    bank.add(synthesize(c, 8), torch.full((8, 10), 7.0))
    inputs, losses = [], []
    hook = c.teacher.register_forward_hook(lambda module, args, out: inputs.append(args[0]))

    def record(adv_logits, clean_logits, teacher_logits, *args, **kwargs):
        losses.append(teacher_logits)
        if seen is not None:
            seen.update(kwargs)
        return adv_logits.sum() * 0 + clean_logits.sum() * 0

    monkeypatch.setattr(c, "student_loss", dataclasses.replace(c.student_loss, loss=record))
    try:
        student_step(c, bank, 1.0, trainer.opt_student, trainer.scalers[1])
    finally:
        hook.remove()
    (teacher_logits,) = losses
    return c, inputs, teacher_logits


def test_the_teacher_runs_on_the_fresh_half_and_the_bank_brings_its_own_logits(digits_trainer, monkeypatch):
    _, inputs, teacher_logits = _step_with_a_planted_bank(digits_trainer, monkeypatch, {})
    assert [len(x) for x in inputs] == [4]  # 8 - 8 // 2 fresh samples
    assert teacher_logits.shape == (8, 10)
    assert torch.equal(teacher_logits[4:], torch.full((4, 10), 7.0))
    assert not torch.equal(teacher_logits[:4], torch.full((4, 10), 7.0))


def test_the_adversarial_term_takes_adv_tau_unless_ita_sets_it(digits_trainer, monkeypatch):
    seen = []

    def record(adv_logits, clean_logits, teacher_logits, tau, adv_fraction, tau_adv=None, sample_weights=None):
        seen.append((tau, tau_adv))
        assert sample_weights is None  # uniform classes: every sample alike
        return adv_logits.sum() * 0 + clean_logits.sum() * 0

    for scope in ("clean", "outer"):
        trainer = digits_trainer({**TINY, "distill.adv_tau": 0.5, "distill.ita_scope": scope})
        c = trainer.ctx
        monkeypatch.setattr(c, "student_loss", dataclasses.replace(c.student_loss, loss=record))
        student_step(c, MemoryBank(2), 3.0, trainer.opt_student, trainer.scalers[1])
    assert seen == [(3.0, 0.5), (3.0, 3.0)]  # clean: ITA's tau on the clean term, adv_tau on the other


def test_with_flip_crop_the_teacher_labels_the_augmented_batch_bank_half_included(digits_trainer, monkeypatch):
    c, inputs, teacher_logits = _step_with_a_planted_bank(digits_trainer, monkeypatch,
                                                          {"distill.synthetic_augment": "flip_crop"})
    (seen,) = inputs
    assert len(seen) == 8  # one teacher forward, on all of it: the bank's stored logits are of unaugmented images
    assert not torch.any(teacher_logits == 7.0)
    assert torch.equal(teacher_logits, teacher_forward(c, seen))  # in the step's precision: bf16 where auto picks it


def test_class_loss_weights_weigh_each_sample_by_its_teacher_class(digits_trainer, monkeypatch):
    weights = [float(k + 1) for k in range(10)]
    seen = {}
    _, _, teacher_logits = _step_with_a_planted_bank(digits_trainer, monkeypatch, {}, weights, seen)
    expected = torch.tensor(weights)[teacher_logits.argmax(1)]
    assert torch.equal(seen["sample_weights"], expected)
    assert torch.equal(expected[4:], torch.full((4,), 1.0))  # the bank's planted logits tie: class 0, weight 1
