"""The memory bank: a ring of earlier batches, each with the teacher's logits on it."""

import pickle

import pytest
import torch

from dfard_pipeline.distill.memory_bank import MemoryBank


def _filled(values, capacity=2):
    bank = MemoryBank(capacity)
    for value in values:  # logits tell which batch a sample came from: value * 10
        bank.add(torch.full((4, 1, 2, 2), value), torch.full((4, 3), value * 10))
    return bank


def test_ring_keeps_the_latest_batches_and_samples_them_with_their_logits():
    assert MemoryBank(2).sample(3, torch.Generator()) is None
    bank = _filled((1.0, 2.0, 3.0))
    assert len(bank) == 2
    inputs, logits = bank.sample(50, torch.Generator().manual_seed(0))
    assert inputs.shape == (50, 1, 2, 2) and logits.shape == (50, 3)
    assert set(inputs.unique().tolist()) == {2.0, 3.0}
    assert torch.equal(logits, inputs[:, 0, 0, :1].expand(-1, 3) * 10)  # each sample's own logits
    empty = MemoryBank(0)
    empty.add(torch.zeros(4, 1, 2, 2), torch.zeros(4, 3))
    assert len(empty) == 0


def test_sampling_draws_as_a_concatenated_bank_would_and_sees_each_add():
    bank = _filled((1.0, 2.0), capacity=3)
    bank.batches[1] = bank.batches[1] + torch.arange(4.0).view(4, 1, 1, 1)  # tell rows apart
    bank.add(torch.full((4, 1, 2, 2), 5.0), torch.full((4, 3), 50.0))  # the pool is rebuilt after an add
    pool = torch.cat(bank.batches)
    index = torch.randint(len(pool), (20,), generator=torch.Generator().manual_seed(3))
    inputs, _ = bank.sample(20, torch.Generator().manual_seed(3))
    assert torch.equal(inputs, pool[index])
    bank.add(torch.full((4, 1, 2, 2), 7.0), torch.full((4, 3), 70.0))  # replaces the oldest (1.0)
    inputs, logits = bank.sample(200, torch.Generator().manual_seed(0))
    assert 7.0 in inputs.unique().tolist() and 1.0 not in inputs.unique().tolist()
    assert 70.0 in logits.unique().tolist()


def test_state_round_trip_and_checkpoints_without_logits():
    bank = _filled((1.0, 2.0, 3.0))
    bank.sample(5, torch.Generator())  # batches are views of the pool now: the state still holds each batch
    restored = MemoryBank(2)
    restored.load_state_dict(bank.state_dict())
    assert [b.tolist() for b in restored.batches] == [b.tolist() for b in bank.batches]
    assert restored._next == bank._next
    draws = [b.sample(8, torch.Generator().manual_seed(1)) for b in (bank, restored)]
    assert all(torch.equal(a, b) for a, b in zip(*draws, strict=True))

    old = {"batches": bank.state_dict()["batches"], "next": 1}  # saved before the bank kept logits
    with pytest.raises(KeyError):
        MemoryBank(2).load_state_dict(old)
    computed = MemoryBank(2)
    computed.load_state_dict(old, lambda x: x.flatten(1)[:, :3] * 10)
    _, logits = computed.sample(30, torch.Generator().manual_seed(0))
    assert set(logits.unique().tolist()) == {20.0, 30.0}


def test_mismatched_logits_are_refused():
    with pytest.raises(ValueError, match="4 samples but 3 logits"):
        MemoryBank(2).add(torch.zeros(4, 1, 2, 2), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="do not match"):
        MemoryBank(2).load_state_dict({"batches": [torch.zeros(4, 1, 2, 2)], "logits": [torch.zeros(2, 3)],
                                       "next": 1})


def test_a_sampled_banks_state_pickles_at_its_own_size():
    bank = MemoryBank(4)
    for value in range(4):
        bank.add(torch.full((64, 3, 8, 8), float(value)), torch.zeros(64, 10))
    bank.sample(2, torch.Generator())  # the stored batches are views of one pool now
    data = sum(b.nbytes for b in bank.batches) + sum(t.nbytes for t in bank.logits)
    # distributed checkpoints gather each rank's bank by pickling: a view would carry the whole pool
    assert len(pickle.dumps(bank.state_dict())) < 2 * data
