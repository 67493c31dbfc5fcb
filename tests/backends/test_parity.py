import numpy as np
import pytest

from dfard_pipeline.backends.parity import compare_logits


def test_identical_logits_pass():
    ref = np.random.default_rng(0).normal(size=(50, 10))
    result = compare_logits(ref, ref.copy(), name="same", tolerance_rel=1e-4, min_agreement=0.999)
    assert result and result.max_abs == 0 and result.top1_agreement == 1.0 and result.failure() == ""


def test_logit_drift_fails_and_says_by_how_much():
    ref = np.random.default_rng(0).normal(size=(50, 10)) * 3
    result = compare_logits(ref, ref + 0.01, name="drift", tolerance_rel=1e-4, min_agreement=0.999)
    assert not result
    assert result.max_abs == pytest.approx(0.01)
    assert "x over" in result.failure() and "drift" in result.failure()


def test_flipped_decisions_fail_on_agreement_only_when_gated():
    ref = np.eye(10)[np.arange(100) % 10] * 5
    cand = ref.copy()
    cand[:5] = np.roll(cand[:5], 1, axis=1)  # 5 of 100 decisions change
    gated = compare_logits(ref, cand, name="x", tolerance_rel=None, min_agreement=0.99)
    assert gated.top1_agreement == pytest.approx(0.95) and not gated
    assert compare_logits(ref, cand, name="x")  # reported, not gated


def test_a_near_tie_is_not_counted_as_a_disagreement():
    ref = np.array([[1.0, 1.0 + 1e-6, 0.0]])
    cand = np.array([[1.0 + 1e-6, 1.0, 0.0]])
    result = compare_logits(ref, cand, name="tie", tolerance_rel=1e-4, min_agreement=0.999)
    assert result and result.ties == 1
