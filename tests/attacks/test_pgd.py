import pytest
import torch
from torch import nn

from dfard_pipeline.attacks.losses import cross_entropy, kl_to_soft_target
from dfard_pipeline.attacks.pgd import pgd, probe_attack


def _textbook_pgd(model, x, target, eps, step_size, steps, loss_fn, generator):
    """Madry et al.'s loop as first written here: step, project onto the ball, then onto [0, 1]."""
    noise = torch.rand(x.shape, generator=generator, device="cpu", dtype=torch.float32)
    x_adv = (x + (noise * 2 - 1) * eps).clamp_(0.0, 1.0)
    for _ in range(steps):
        x_adv.requires_grad_(True)
        (grad,) = torch.autograd.grad(loss_fn(model(x_adv).float(), target), x_adv)
        with torch.no_grad():
            x_adv = x_adv + step_size * grad.sign()
            x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp_(0.0, 1.0)
    return x_adv.detach()


@pytest.mark.parametrize("loss", ["ce", "kl"])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_pgd_is_bit_identical_to_the_textbook_loop(loss, layout):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 10)).eval()
    x = torch.rand(16, 3, 6, 6).to(memory_format=layout)
    x[:4] = 0.0  # images at the box's edges, where the two projections could differ
    x[4:8] = 1.0
    if loss == "ce":
        loss_fn, target = cross_entropy, torch.randint(0, 10, (16,))
    else:
        loss_fn, target = kl_to_soft_target, torch.softmax(torch.randn(16, 10), 1)
    ours = pgd(model, x, target, eps=0.1, step_size=0.03, steps=7, loss_fn=loss_fn,
               generator=torch.Generator().manual_seed(3))
    reference = _textbook_pgd(model, x, target, 0.1, 0.03, 7, loss_fn, torch.Generator().manual_seed(3))
    assert torch.equal(ours, reference)
    assert (ours - x).abs().max() <= 0.1 + 1e-6 and ours.min() >= 0 and ours.max() <= 1
    assert not torch.equal(ours, x)


def test_probe_attack_is_pgd_away_from_the_teachers_soft_labels_and_eps_0_moves_nothing():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 10)).eval()
    x, teacher = torch.rand(8, 3, 4, 4), torch.randn(8, 10)
    attack = {"eps": 8 / 255, "step_size": 3 / 255, "steps": 3}
    logits = probe_attack(model, x, teacher, **attack, generator=torch.Generator().manual_seed(1))
    x_adv = pgd(model, x, torch.softmax(teacher, 1), **attack, loss_fn=kl_to_soft_target,
                generator=torch.Generator().manual_seed(1))
    assert torch.equal(logits, model(x_adv).detach())
    assert kl_to_soft_target(logits, torch.softmax(teacher, 1)) > kl_to_soft_target(model(x), torch.softmax(teacher, 1))
    still = probe_attack(model, x, teacher, eps=0.0, step_size=3 / 255, steps=3)
    assert torch.allclose(still, model(x).detach())
