import numpy as np
import pytest

from dfard_pipeline.worst_case import summarise


def test_an_image_is_robust_only_when_every_attack_and_the_clean_image_are_right():
    correct = {"clean": [1, 1, 1, 0], "pgd": [1, 0, 1, 0], "square": [1, 1, 0, 1]}
    summary = summarise(correct)
    assert summary == {"clean_accuracy": 0.75, "robust_accuracy": 0.25, "attacks": {"pgd": 0.5, "square": 0.75},
                       "n": 4}
    # the worst case is per sample, not the lowest attack accuracy (that would be 0.5 here)
    assert summary["robust_accuracy"] < min(summary["attacks"].values())
    with pytest.raises(ValueError, match="judged"):
        summarise({"clean": np.ones(3, bool), "pgd": np.ones(2, bool)})


def test_the_device_script_runs_the_same_rule_as_the_package():
    import inspect

    from dfard_pipeline.runtime import on_device

    assert on_device.summarise is summarise and "summarise(correct)" in inspect.getsource(on_device.evaluate)
