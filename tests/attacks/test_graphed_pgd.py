"""The CUDA-graph PGD replays the eager attack, and sees weights updated in place. The replay tests
need a CUDA GPU (benchmarks/gpu_session.sh runs them on a lent one); on a CPU only the refusal runs."""

import pytest
import torch
from torch import nn

from dfard_pipeline.attacks.graphed_pgd import GraphedPGD
from dfard_pipeline.attacks.losses import kl_to_soft_target
from dfard_pipeline.attacks.pgd import pgd
from dfard_pipeline.device import set_deterministic
from dfard_pipeline.models import create_model
from dfard_pipeline.models.folded_bn import FoldedEval

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)")
ATTACK = {"eps": 8 / 255, "step_size": 2 / 255, "steps": 5, "loss_fn": kl_to_soft_target}


def test_refuses_cpu_tensors():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 10))
    with pytest.raises(ValueError, match="CUDA"):
        GraphedPGD(model, **ATTACK)(torch.rand(2, 3, 2, 2), torch.softmax(torch.randn(2, 10), 1), None)


# ops that read a device value on the host or size their output by the data: not capturable
_SYNCING = {"_local_scalar_dense", "item", "nonzero", "masked_select", "unique", "_unique2", "bincount",
            "repeat_interleave"}


@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
@pytest.mark.parametrize("loss", ["kl", "ce"])
def test_the_captured_body_is_eager_pgd_and_never_syncs(dtype, loss):
    """The attack a graph captures, run eagerly on the CPU: the same bits as ``pgd`` under the
    step's autocast for the same start, and no op that waits for the device or sizes by data."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from dfard_pipeline.attacks.losses import cross_entropy
    from dfard_pipeline.attacks.pgd import start_noise

    torch.manual_seed(0)
    folded = FoldedEval.of(create_model("digits_cnn_student").eval(), dtype=dtype)
    x = torch.rand(4, 1, 8, 8)
    attack = {**ATTACK, "steps": 2}
    if loss == "ce":
        attack["loss_fn"], target = cross_entropy, torch.randint(0, 10, (4,))
    else:
        target = torch.softmax(torch.randn(4, 10), 1)
    graphed = GraphedPGD(folded, **attack, autocast_dtype=dtype)
    seen = set()

    class Ops(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.add(func._overloadpacket.__name__)
            return func(*args, **(kwargs or {}))

    with Ops():
        body = graphed._attack(x, target, start_noise(x, torch.Generator().manual_seed(5)))
    with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
        eager = pgd(folded, x, target, generator=torch.Generator().manual_seed(5), **attack)
    assert torch.equal(body, eager)
    assert "convolution" in seen and not seen & _SYNCING, seen & _SYNCING


@pytest.fixture
def deterministic():
    restore = set_deterministic(True)
    yield
    restore()


def _student_and_batch(batch=32):
    torch.manual_seed(0)
    student = create_model("resnet18", in_chans=3, image_size=32).cuda().to(memory_format=torch.channels_last)
    with torch.no_grad():  # non-trivial running statistics, as after some training
        student.train()(torch.rand(64, 3, 32, 32, device="cuda"))
    student.eval()
    x = torch.rand(batch, 3, 32, 32, device="cuda").to(memory_format=torch.channels_last)
    target = torch.softmax(torch.randn(batch, 10, device="cuda") * 3, 1)
    return student, x, target


def _close(a, b):
    """Replays run the eager kernels: the same result, allowing a rare sign flip of a gradient
    within rounding of zero."""
    same = (a == b).float().mean().item()
    assert same > 0.999, f"only {same:.4%} of pixels equal"
    assert (a - b).abs().max().item() <= 2 * 2 * ATTACK["step_size"] + 1e-6


@needs_cuda
@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
def test_replay_matches_eager_and_follows_in_place_updates(deterministic, dtype):
    student, x, target = _student_and_batch()
    folded = FoldedEval.of(student)
    graphed = GraphedPGD(folded, **ATTACK, autocast_dtype=dtype)

    def eager(seed, inputs=x):
        with torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
            return pgd(folded, inputs, target, generator=torch.Generator().manual_seed(seed), **ATTACK)

    first = graphed(x, target, torch.Generator().manual_seed(1))
    _close(first, eager(1))
    again = graphed(x, target, torch.Generator().manual_seed(1))
    assert torch.equal(first, again)  # the returned tensor is the caller's, not the graph's buffer
    other = torch.rand_like(x)  # new content, same shape: the same graph, copied-in inputs
    _close(graphed(other, target, torch.Generator().manual_seed(2)), eager(2, other))
    # a training step moves the weights and running statistics in place; refresh refolds in place
    with torch.no_grad():
        for p in student.parameters():
            p.mul_(0.9).add_(0.01)
        student.train()(torch.rand(64, 3, 32, 32, device="cuda"))
    student.eval()
    folded.refresh()
    moved = graphed(x, target, torch.Generator().manual_seed(1))
    _close(moved, eager(1))
    assert not torch.equal(moved, first)
    assert graphed.captured == 1


@needs_cuda
def test_one_graph_per_input_shape(deterministic):
    student, x, target = _student_and_batch()
    graphed = GraphedPGD(FoldedEval.of(student), **ATTACK)
    graphed(x, target, None)
    graphed(x[:8], target[:8], None)
    graphed(x, target, None)
    assert graphed.captured == 2
