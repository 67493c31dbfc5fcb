"""Our attacks are at least as strong as torchattacks' (the reference implementation)."""

import pytest
import torch

from dfard_pipeline.attacks import fgsm, pgd
from dfard_pipeline.data import load_dataset

torchattacks = pytest.importorskip("torchattacks", reason="torchattacks is the dev reference "
                                   "(README test command installs it with --no-deps)")


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def test_pgd20_and_fgsm_no_weaker_than_torchattacks(trained_student):
    test = load_dataset("digits", "test")
    x, y = test.x, test.y
    model, eps = trained_student, 0.1
    assert accuracy(model, x, y) > 0.9  # a real classifier, so the comparison means something
    ours_pgd = accuracy(model, pgd(model, x, y, eps=eps, steps=20,
                                   generator=torch.Generator().manual_seed(0)), y)
    torch.manual_seed(0)
    ref_pgd = accuracy(model, torchattacks.PGD(model, eps=eps, alpha=eps / 4, steps=20,
                                               random_start=True)(x, y), y)
    assert ours_pgd <= ref_pgd + 0.01
    ours_fgsm = accuracy(model, fgsm(model, x, y, eps=eps), y)
    ref_fgsm = accuracy(model, torchattacks.FGSM(model, eps=eps)(x, y), y)
    assert ours_fgsm == pytest.approx(ref_fgsm, abs=0.005)
    assert ours_pgd < accuracy(model, x, y) - 0.1  # the attack actually bites
