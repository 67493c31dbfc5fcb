import pytest
import torch

from dfard_pipeline.distill import trainer as trainer_module
from dfard_pipeline.distill.memory_bank import MemoryBank
from dfard_pipeline.distill.steps import add_to_bank, teacher_forward

TINY_WITH_BANK = {"distill.batch_size": 8, "distill.nz": 8, "distill.ngf": 8, "distill.memory_bank_batches": 2}


class _RecordingGroup:
    """Stands in for a two-rank process group: records what the trainer all-reduces."""
    enabled, world_size = True, 2

    def __init__(self):
        self.reduced: list[torch.Tensor] = []

    def mean(self, value):
        self.reduced.append(value)
        return value


def test_ranks_agree_on_a_timed_save_every_few_steps_on_the_training_device(digits_trainer):
    trainer = digits_trainer({"distill.checkpoint_minutes": 1e-9})
    group = trainer.dist = _RecordingGroup()
    poll = trainer_module._SAVE_POLL_STEPS
    due = [step for step in range(1, 3 * poll + 1) if trainer._save_due(0.0, step)]
    assert due == [poll, 2 * poll, 3 * poll]  # a save is due at every step; the ranks are asked every `poll`
    assert len(group.reduced) == 3
    # NCCL reduces device tensors only: the flag lives where training does
    assert all(t.device == trainer.device for t in group.reduced)


def test_a_checkpoint_whose_bank_has_no_logits_resumes_with_the_teachers(digits_trainer):
    saved = digits_trainer(TINY_WITH_BANK)
    for _ in range(2):
        add_to_bank(saved.ctx, saved.bank, 8)
    state = saved.state_dict()
    (bank,) = state["bank"]  # one rank's
    assert torch.equal(bank["logits"][0], teacher_forward(saved.ctx, bank["batches"][0]))
    del bank["logits"]  # as a checkpoint from before the bank kept them
    resumed = digits_trainer(TINY_WITH_BANK)
    resumed._restore(state)
    for batch, logits in zip(resumed.bank.batches, resumed.bank.logits, strict=True):
        assert torch.equal(logits, teacher_forward(resumed.ctx, batch))


class _SecondOfTwoRanks:
    """Rank 1 of two: what it gathers from rank 0 is ``rank0[type]`` (its own object otherwise)."""
    enabled, world_size, rank, is_main = True, 2, 1, False

    def __init__(self, rank0: dict):
        self.rank0 = rank0

    def gather_objects(self, obj):
        return [self.rank0.get(type(obj), obj), obj]


def test_every_rank_resumes_its_own_memory_bank(digits_trainer):
    saved = digits_trainer(TINY_WITH_BANK)
    add_to_bank(saved.ctx, saved.bank, 8)
    rank0_bank = MemoryBank(2)
    rank0_bank.add(torch.zeros(8, 1, 8, 8), torch.zeros(8, 10))
    saved.dist = _SecondOfTwoRanks({dict: rank0_bank.state_dict()})
    state = saved.state_dict()
    assert len(state["bank"]) == 2
    resumed = digits_trainer(TINY_WITH_BANK)
    resumed.dist = saved.dist
    resumed._restore(state)
    assert torch.equal(resumed.bank.batches[0], saved.bank.batches[0])  # its own, not rank 0's zeros
    state["bank"] = state["bank"][0]  # a checkpoint from before: rank 0's bank alone, taken by every rank
    resumed._restore(state)
    assert torch.equal(resumed.bank.batches[0], torch.zeros(8, 1, 8, 8))


def test_the_class_balance_is_checkpointed_and_steers_the_resumed_draws(digits_trainer):
    adaptive = {**TINY_WITH_BANK, "distill.conditional_generator": True, "distill.class_sampling": "adaptive"}
    saved = digits_trainer(adaptive)
    saved.class_balance.keep_ratio = [0.5] + [1.0] * 9
    state = saved.state_dict()
    resumed = digits_trainer(adaptive)
    resumed._restore(state)
    assert resumed.class_balance.keep_ratio == saved.class_balance.keep_ratio
    assert resumed.ctx.class_probabilities == saved.class_balance.probabilities() != [0.1] * 10
    del state["class_balance"]  # a checkpoint from before class sampling resumes uniform
    fresh = digits_trainer(adaptive)
    fresh._restore(state)
    assert fresh.ctx.class_probabilities is None


def test_class_weighting_weights_the_student_loss_and_leaves_the_draw_uniform(digits_trainer):
    saved = digits_trainer({**TINY_WITH_BANK, "distill.class_weighting": "adaptive"})
    saved.class_balance.keep_ratio = [0.5] + [1.0] * 9
    resumed = digits_trainer({**TINY_WITH_BANK, "distill.class_weighting": "adaptive"})
    resumed._restore(saved.state_dict())
    weights = resumed.ctx.class_loss_weights.tolist()
    assert weights == pytest.approx([10 * (0.05 + 0.5)] + [10 * 0.05] * 9) and resumed.ctx.class_probabilities is None
