"""verify.json is read back checked: the same result, and a file of another shape is refused by name."""

import json

import pytest

from dfard_pipeline.artifacts.verify_result import SCHEMA, VerifyResult, read_verify_result
from dfard_pipeline.errors import CheckpointError


def test_round_trip_and_verdict_from_the_gates(tmp_path):
    result = VerifyResult(True, {"gates": [{"name": "clean", "passed": True}, {"name": "p99", "passed": None}],
                                 "metrics": {"clean_accuracy": 0.9}})
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
    (json.dumps({"schema": SCHEMA, "passed": True, "gates": [{"name": "x"}]}), "gates are malformed"),
])
def test_other_files_are_refused(tmp_path, content, words):
    path = tmp_path / "verify.json"
    path.write_text(content)
    with pytest.raises(CheckpointError, match=words):
        read_verify_result(path)
