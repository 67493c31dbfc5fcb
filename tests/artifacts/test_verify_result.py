"""verify.json is read back checked: the same result, and a file of another shape is refused by name."""

import json

import pytest

from dfard_pipeline.artifacts.verify_result import SCHEMA, SECTIONS, VerifyResult, make_result, read_verify_result
from dfard_pipeline.errors import ResultFileError


def sections(**given):
    return {name: given.get(name, {}) for name in SECTIONS}


def test_round_trip_and_verdict_from_the_gates(tmp_path):
    result = make_result(True, **sections(gates=[{"name": "clean", "passed": True}, {"name": "p99", "passed": None}],
                                          metrics={"clean_accuracy": 0.9}))
    path = tmp_path / "verify.json"
    path.write_text(json.dumps(result.to_dict()))
    back = read_verify_result(path)
    assert back == result and back.gates_passed and back.failed_gates == []
    failing = VerifyResult(True, {"gates": [{"name": "robust", "passed": False}]})
    assert not failing.gates_passed and failing.failed_gates == ["robust"]


@pytest.mark.parametrize("content,words", [
    ("{", "not a readable verify result"),
    (json.dumps([1]), f"not a {SCHEMA}"),
    (json.dumps({"schema": "other", "passed": True, "gates": []}), f"not a {SCHEMA}"),
    (json.dumps({"schema": SCHEMA, "passed": "yes", "gates": []}), f"not a {SCHEMA}"),
    (json.dumps({"schema": SCHEMA, "passed": True, **sections(gates=[{"name": "x"}])}), "gates are malformed"),
    (json.dumps({"schema": SCHEMA, "passed": True, "gates": []}), "incomplete verify result"),
])
def test_other_files_are_refused(tmp_path, content, words):
    path = tmp_path / "verify.json"
    path.write_text(content)
    with pytest.raises(ResultFileError, match=words):
        read_verify_result(path)


def test_headline_and_problems_are_views_of_the_result():
    result = VerifyResult(False, {
        "device": {"profile": "cpu"}, "wall_time_s": 12.4,
        "metrics": {"clean_accuracy": 0.91, "robust_accuracy": 0.52}, "reference": {"robust_accuracy": 0.6},
        "latency": {"1": {"p99_ms": 0.25}},
        "gates": [{"name": "robust_accuracy_drop", "value": 0.08, "threshold": 0.03, "passed": False},
                  {"name": "p99_ms_batch1", "value": 0.25, "threshold": 1.0, "passed": None, "note": "emulated"}],
        "warnings": ["synthetic data"]})
    assert result.headline() == ("FAILED on cpu: clean 91.00%, robust 52.00% (reference 60.00%), "
                                 "p99 b1 0.250 ms in 12 s")
    assert result.problems() == ["FAIL robust_accuracy_drop: 0.08 vs 0.03", "warning: synthetic data"]
    assert result.gates[1].note == "emulated" and result.gates[1].to_dict() == result.data["gates"][1]


def test_a_result_is_made_with_every_section_or_not_at_all():
    with pytest.raises(TypeError, match="missing"):
        make_result(True, gates=[])
    with pytest.raises(TypeError, match="unknown"):
        make_result(True, **sections(), surprise=1)
    assert list(make_result(True, **sections(), bundle={}).to_dict())[2:] == [*SECTIONS, "bundle"]
