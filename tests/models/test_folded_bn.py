"""The folded eval-mode student computes the same function and input gradient as the live model."""

import copy

import pytest
import torch
from torch import nn

from dfard_pipeline.models import create_model
from dfard_pipeline.models.folded_bn import FoldedEval


def _with_random_statistics(model: nn.Module, shape) -> nn.Module:
    """Running statistics from a few batches and affine parameters away from 1 and 0, as after training."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 0.5
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0.0, 0.2)
    with torch.no_grad():
        for _ in range(3):
            model.train()(torch.rand(8, *shape))
    return model.eval()


@pytest.mark.parametrize("name,shape,pairs", [("digits_cnn_student", (1, 8, 8), 3), ("resnet18", (3, 32, 32), 20),
                                              ("mobilenet_v2", (3, 32, 32), 52)])
def test_same_logits_and_input_gradient_and_follows_updates(name, shape, pairs):
    torch.manual_seed(0)
    model = _with_random_statistics(create_model(name, in_chans=shape[0], image_size=shape[1]), shape)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = FoldedEval.of(model)
    assert folded.folded_pairs == pairs
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the live model untouched
    for _ in range(3):
        x = torch.rand(8, *shape, requires_grad=True)
        reference, out = model(x), folded(x)
        torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-4)
        # Input gradients per sample, against float64: the folded student's are as exact as the live
        # one's. A pre-activation within rounding of a ReLU kink can switch sides between two float32
        # orders of summation and move one sample's gradient (seen: 1 % of its norm), so the median
        # sample is judged; the logits above are judged everywhere.
        exact = copy.deepcopy(model).double()
        x64 = x.detach().double().requires_grad_(True)
        g64 = torch.autograd.grad(exact(x64).square().sum(), x64)[0].flatten(1)
        g_ref, g_out = (torch.autograd.grad(y.square().sum(), x)[0].double().flatten(1) for y in (reference, out))
        error, live_error = ((g - g64).norm(dim=1) / g64.norm(dim=1) for g in (g_out, g_ref))
        assert error.median() < max(1e-5, 3 * live_error.median()), error
        with torch.no_grad():  # a training step changed weights and statistics: refresh follows them
            for p in model.parameters():
                p.mul_(1 + 0.01 * torch.randn_like(p))
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.add_(0.01)
        folded.refresh()
    assert not any(p.requires_grad for p in folded.parameters() if all(p is not q for q in model.parameters()))


def test_models_without_pairs_or_not_traceable_are_returned_as_they_are():
    plain = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)

        def forward(self, x):
            return self.bn(self.conv(x)) if x.sum() > 0 else x  # data-dependent: fx cannot trace it

    for model in (plain, Branchy()):
        assert FoldedEval.of(model) is model


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_weights_kept_in_the_autocast_dtype_give_the_same_bits_with_fewer_ops(layout):
    """Autocast rounds fp32 folded weights to bf16 at every call; rounding them once at refresh is the
    same rounding, so outputs and input gradients agree bit for bit, without the cast kernels."""
    from dfard_pipeline.profiling import FlopCounter

    torch.manual_seed(0)
    model = _with_random_statistics(create_model("resnet18", in_chans=3, image_size=32), (3, 32, 32))
    model.to(memory_format=layout)
    fp32_weights, bf16_weights = FoldedEval.of(model), FoldedEval.of(model, dtype=torch.bfloat16)
    x = torch.rand(4, 3, 32, 32).to(memory_format=layout)
    results = []
    for folded in (fp32_weights, bf16_weights):
        with FlopCounter() as counted:
            probe = x.clone().requires_grad_(True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = folded(probe)
            (grad,) = torch.autograd.grad(out.float().square().sum(), probe)
        results.append((out, grad, counted.ops))
    (out_a, grad_a, ops_a), (out_b, grad_b, ops_b) = results
    assert torch.equal(out_a, out_b) and torch.equal(grad_a, grad_b)
    assert ops_b <= ops_a - fp32_weights.folded_pairs  # at least one cast per folded conv saved
    with torch.no_grad():  # refresh rounds the updated weights the same way
        for p in model.parameters():
            p.mul_(0.9)
    fp32_weights.refresh()
    bf16_weights.refresh()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(fp32_weights(x), bf16_weights(x))
