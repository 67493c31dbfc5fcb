"""Our quick suite is not weaker than AutoAttack (the authors' pyautoattack) on a robust digits model."""

import pytest
import torch

from dfard_pipeline.config.schema import TeacherConfig
from dfard_pipeline.data import load_dataset
from dfard_pipeline.runtime.autoattack import autoattack_examples
from dfard_pipeline.runtime.robustness import craft_transfer, evaluate_suite, run_square
from dfard_pipeline.teacher.train import train_teacher


@pytest.mark.slow
def test_quick_worst_case_is_within_two_points_of_autoattack():
    # a robust digits student: the student architecture, adversarially trained for a few epochs
    model = train_teacher(TeacherConfig(arch="digits_cnn_student", epochs=8, method="trades", device="cpu"),
                          seed=0, progress=False).model.eval()
    data = load_dataset("digits", "test").subset(50)
    x, y, eps = data.x, data.y, 0.1
    predict = lambda t: model(t).detach()  # noqa: E731
    transfer = craft_transfer(model, x, y, eps, pgd_steps=20, cw_steps=20, seed=0)
    with torch.no_grad():
        square, queries = run_square(predict, x, y, eps, queries=1000, p_init=0.3, seed=0)
        quick = evaluate_suite(predict, x, y, eps, {**transfer, "square": square}, queries)
    x_aa = autoattack_examples(model, x, y, eps, None, seed=0)
    assert float((x_aa - x).abs().max()) <= eps + 1e-6
    with torch.no_grad():
        autoattack = float((model(x_aa).argmax(1) == y).float().mean())
    assert quick.clean_accuracy >= 0.9 and autoattack >= 0.3, "the model must be robust for this to mean anything"
    assert quick.robust_accuracy <= autoattack + 0.02, (quick.robust_accuracy, autoattack)
