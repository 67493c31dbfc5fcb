import torch

from dfard_pipeline.runtime.robustness import craft_transfer, evaluate_suite


def _linear_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)).eval()


def test_transfer_suite_with_and_without_cw():
    model = _linear_model()
    x = torch.rand(12, 1, 4, 4)
    y = model(x).argmax(1)
    full = craft_transfer(model, x, y, 0.1, pgd_steps=5, cw_steps=5, seed=0)
    short = craft_transfer(model, x, y, 0.1, pgd_steps=5, cw_steps=0, seed=0)
    assert set(full) == {"pgd5", "cw"} and set(short) == {"pgd5"}
    assert torch.equal(full["pgd5"], short["pgd5"])  # same seed, same PGD examples
    assert (short["pgd5"] - x).abs().max() <= 0.1 + 1e-6
    predict = lambda t: model(t).detach()  # noqa: E731
    result = evaluate_suite(predict, x, y, 0.1, short)
    assert result.clean_accuracy == 1.0 and set(result.attacks) == {"pgd5"}
    assert result.robust_accuracy == result.attacks["pgd5"]
