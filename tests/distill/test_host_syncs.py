"""The training steps' reads of values back to the host (on a GPU every read waits for all queued
work): counted on the CPU with the same counter benchmarks/step_profile.py uses."""

import pytest

from dfard_pipeline.distill.steps import add_to_bank, generator_step, student_step
from dfard_pipeline.profiling import HostSyncCounter, optimizer_steps

TINY = {"distill.batch_size": 16, "distill.probe_size": 16, "distill.attack_steps": 2, "distill.nz": 8,
        "distill.ngf": 8, "distill.memory_bank_batches": 2}


@pytest.mark.parametrize(("agb_rule", "generator_budget"),
                         [("scaled_fixed", 1), ("hardness_information", 1), ("gradient_balance", 2)])
def test_the_generator_step_reads_once_and_the_student_step_never(digits_trainer, agb_rule, generator_budget):
    trainer = digits_trainer({**TINY, "distill.agb_rule": agb_rule})
    c = trainer.ctx
    add_to_bank(c, trainer.bank, trainer.cfg.batch_size)
    generator_step(c, trainer.balance, trainer.opt_generator, trainer.scalers[0], "test")  # optimizer state exists
    student_step(c, trainer.bank, 2.0, trainer.opt_student, trainer.scalers[1])
    host_counters = optimizer_steps(trainer.opt_generator, trainer.opt_student)
    assert host_counters and all(t.device.type == "cpu" for t in host_counters)
    with HostSyncCounter(exclude=host_counters) as generator_reads:
        generator_step(c, trainer.balance, trainer.opt_generator, trainer.scalers[0], "test")
    with HostSyncCounter(exclude=host_counters) as student_reads:
        student_step(c, trainer.bank, 2.0, trainer.opt_student, trainer.scalers[1])
    # the generator reads its terms once (AGB weighs them on the host; gradient_balance also reads the
    # terms' gradient norms, once for all); the student step reads nothing: its loss waits on the
    # device for the trainer's once-per-epoch check (pending_losses.py)
    assert generator_reads.count <= generator_budget, generator_reads.by_kind
    assert student_reads.count == 0, student_reads.by_kind
