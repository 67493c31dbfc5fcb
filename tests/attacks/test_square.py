"""Square (black-box) is a real attack: inside the eps-ball, query-bounded, and no weaker than
torchattacks' Square (the reference) at the same budget."""

import pytest
import torch

from dfard_pipeline.attacks.square import square_linf
from dfard_pipeline.data import load_dataset


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def test_square_stays_in_the_ball_and_within_budget(trained_student):
    student = trained_student
    test = load_dataset("digits", "test").subset(64)
    calls = []

    def predict(x):
        calls.append(len(x))
        with torch.no_grad():
            return student(x)

    rounds = []
    x_adv, queries = square_linf(predict, test.x, test.y, eps=0.1, n_queries=50, on_query=rounds.append)
    assert sum(rounds) == 49  # progress accounts for every round, also when all images fall early
    assert (x_adv - test.x).abs().max() <= 0.1 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    assert queries.max() <= 50 and sum(calls) == int(queries.sum())  # each query is one image forward
    assert accuracy(student, x_adv, test.y) < accuracy(student, test.x, test.y)


def test_square_no_weaker_than_torchattacks(trained_student):
    student = trained_student
    torchattacks = pytest.importorskip("torchattacks", reason="torchattacks is the dev reference "
                                       "(README test command installs it with --no-deps)")
    test = load_dataset("digits", "test").subset(200)
    x, y, eps, queries = test.x, test.y, 0.1, 300

    def predict(t):
        with torch.no_grad():
            return student(t)

    ours, _ = square_linf(predict, x, y, eps=eps, n_queries=queries, p_init=0.3)
    reference = torchattacks.Square(student, norm="Linf", eps=eps, n_queries=queries, p_init=0.3, seed=0)(x, y)
    ours_acc, ref_acc = accuracy(student, ours, y), accuracy(student, reference, y)
    assert ours_acc <= ref_acc + 0.01, (ours_acc, ref_acc)
