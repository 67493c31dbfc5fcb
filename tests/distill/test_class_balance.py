import pytest
import torch

from dfard_pipeline.distill.class_balance import SHARE, ClassBalance
from dfard_pipeline.distill.probe import Probe
from dfard_pipeline.models.generator import class_counts, sample_latent


def _probe(teacher_class: list[int], student_keeps: list[bool], teacher_keeps: list[bool], classes: int = 3) -> Probe:
    """A probe whose teacher answers ``teacher_class`` on the clean samples; under attack the student and
    the teacher keep that answer where told to, and answer the next class otherwise."""
    answer = torch.tensor(teacher_class)

    def logits(keeps):
        chosen = torch.where(torch.tensor(keeps), answer, (answer + 1) % classes)
        return torch.nn.functional.one_hot(chosen, classes).float()

    return Probe(logits([True] * len(teacher_class)), logits(student_keeps), teacher_adv_logits=logits(teacher_keeps),
                 relative=False)


def test_the_probe_splits_what_student_and_teacher_keep_by_the_teachers_class():
    probe = _probe([0, 0, 1, 1, 1, 1], [False, True, True, True, False, False], [True, True, True, True, True, False])
    assert probe.class_keep_ratio() == [0.5, pytest.approx(2 / 3), None]  # class 2: no sample
    assert probe.agreement == probe.robust_agreement  # relative=False: the absolute agreement still drives ITA/AGB


def test_adaptive_draws_more_of_the_class_the_student_keeps_least_and_never_drops_one():
    balance = ClassBalance(3, adaptive=True, momentum=0.0)
    assert balance.probabilities() is None  # nothing measured yet: uniform
    balance.update(_probe([0, 0, 1, 1, 2, 2], [False, False, True, True, True, True], [True] * 6))
    p = balance.probabilities()
    assert p == pytest.approx([(1 - SHARE) / 3 + SHARE, (1 - SHARE) / 3, (1 - SHARE) / 3])
    assert sum(p) == pytest.approx(1.0) and min(p) > 0
    balance.update(_probe([0, 0, 1, 1, 2, 2], [True] * 6, [True] * 6))
    assert balance.probabilities() is None  # no deficit anywhere: uniform again


def test_the_running_average_keeps_a_class_the_probe_missed():
    balance = ClassBalance(3, adaptive=True, momentum=0.5)
    balance.update(_probe([0, 0, 1, 2], [False, False, True, True], [True] * 4))
    balance.update(_probe([1, 2], [True, True], [True, True]))  # no class-0 sample this time
    assert balance.keep_ratio == [0.0, 1.0, 1.0]
    balance.update(_probe([0, 1, 2], [True, True, True], [True, True, True]))
    assert balance.keep_ratio == [0.5, 1.0, 1.0]
    restored = ClassBalance(3, adaptive=True, momentum=0.5)
    restored.load_state_dict(balance.state_dict())
    assert restored.probabilities() == balance.probabilities()
    restored.load_state_dict(None)  # a checkpoint from before class sampling: nothing to restore
    assert restored.keep_ratio == [0.5, 1.0, 1.0]


def test_uniform_never_reads_the_probe():
    balance = ClassBalance(3, adaptive=False, momentum=0.0)
    balance.update(_probe([0], [False], [True]))
    assert balance.probabilities() is None


@pytest.mark.parametrize(("batch", "probabilities", "counts"), [
    (64, [0.1] * 10, [7, 7, 7, 7, 6, 6, 6, 6, 6, 6]),  # remainders tie: the lower classes get them
    (10, [0.55, 0.05, 0.4], [6, 0, 4]),
    (7, [1.0, 1.0], [4, 3]),  # unnormalised probabilities are normalised
])
def test_class_counts_round_by_largest_remainder(batch, probabilities, counts):
    assert class_counts(batch, probabilities).tolist() == counts


def test_sample_latent_draws_the_counts_shuffled_and_seeded():
    _, y = sample_latent(20, 4, 3, torch.Generator().manual_seed(0), torch.device("cpu"), [0.5, 0.25, 0.25])
    assert torch.bincount(y, minlength=3).tolist() == [10, 5, 5]
    assert not torch.equal(y, y.sort().values)  # shuffled
    again = sample_latent(20, 4, 3, torch.Generator().manual_seed(0), torch.device("cpu"), [0.5, 0.25, 0.25])[1]
    assert torch.equal(y, again)
