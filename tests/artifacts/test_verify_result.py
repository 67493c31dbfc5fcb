"""verify.json is one type: made with every section, written and read back as the same result, and a
file of another shape (a section missing or of the wrong type) is refused by name."""

import json

import pytest

from dfard_pipeline.artifacts.verify_result import (
    SCHEMA,
    SECTIONS,
    Accuracy,
    VerifyResult,
    make_result,
    read_verify_result,
)
from dfard_pipeline.errors import ResultFileError


def sections(**given):
    """Every section, minimal but well-formed, with ``given`` replacing some."""
    accuracy = {"clean_accuracy": 0.9, "robust_accuracy": 0.5, "attacks": {"square": 0.5}, "n": 10, "eps": 0.1}
    base = {"artifact": {"path": "a.onnx", "sha256": "0" * 64, "bytes": 10, "format": "onnx", "precision": "fp32"},
            "device": {"profile": "cpu", "emulated": False}, "data": {"spec": "digits", "name": "digits", "n": 10,
                                                                      "synthetic": False},
            "metrics": accuracy, "reference": {**accuracy, "whitebox_pgd": 0.5}, "parity": {}, "latency": {},
            "latency_samples_ms": {}, "resources": {}, "gates": [], "warnings": [], "robust_vs_whitebox_pgd": 0.0,
            "suite": "quick", "wall_time_s": 1.0}
    assert set(base) == set(SECTIONS)
    return {**base, **given}


def test_round_trip_and_verdict_from_the_gates(tmp_path):
    result = make_result(True, **sections(gates=[{"name": "clean", "passed": True}, {"name": "p99", "passed": None}]))
    path = tmp_path / "verify.json"
    path.write_text(json.dumps(result.to_dict()))
    back = read_verify_result(path)
    assert back == result and back.gates_passed and back.failed_gates == []
    assert back.to_dict() == result.to_dict() and isinstance(back.metrics, Accuracy)
    assert back.reference.extra == {"whitebox_pgd": 0.5} and back.artifact.precision == "fp32"
    failing = make_result(True, **sections(gates=[{"name": "robust", "passed": False}]))
    assert not failing.gates_passed and failing.failed_gates == ["robust"]


@pytest.mark.parametrize("content,words", [
    ("{", "not a readable verify result"),
    (json.dumps([1]), f"not a {SCHEMA}"),
    (json.dumps({"schema": "other", "passed": True, "gates": []}), f"not a {SCHEMA}"),
    (json.dumps({"schema": SCHEMA, "passed": "yes", "gates": []}), f"not a {SCHEMA}"),
    (json.dumps({"schema": SCHEMA, "passed": True, **sections(gates=[{"name": "x"}])}), "gates are malformed"),
    (json.dumps({"schema": SCHEMA, "passed": True, "gates": []}), "incomplete verify result"),
    (json.dumps({"schema": SCHEMA, "passed": True, **sections(metrics={"clean_accuracy": "high"})}),
     "metrics.clean_accuracy is not a number"),
    (json.dumps({"schema": SCHEMA, "passed": True, **sections(artifact={"path": "a.onnx"})}), "artifact has no sha256"),
    (json.dumps({"schema": SCHEMA, "passed": True, **sections(data={"spec": "d", "name": "d", "n": True,
                                                                   "synthetic": False})}), "data.n is not a int"),
    (json.dumps({"schema": SCHEMA, "passed": True, **sections(warnings=[3])}), "warnings are not a list of strings"),
])
def test_other_files_are_refused(tmp_path, content, words):
    path = tmp_path / "verify.json"
    path.write_text(content)
    with pytest.raises(ResultFileError, match=words):
        read_verify_result(path)


def test_headline_and_problems_are_views_of_the_result():
    result = make_result(False, **sections(
        wall_time_s=12.4, metrics={"clean_accuracy": 0.91, "robust_accuracy": 0.52, "attacks": {}, "n": 5, "eps": 0.1},
        reference={"clean_accuracy": 0.95, "robust_accuracy": 0.6, "attacks": {}, "n": 5, "eps": 0.1},
        latency={"1": {"p99_ms": 0.25}},
        gates=[{"name": "robust_accuracy_drop", "value": 0.08, "threshold": 0.03, "passed": False},
               {"name": "p99_ms_batch1", "value": 0.25, "threshold": 1.0, "passed": None, "note": "emulated"}],
        warnings=["synthetic data"]))
    assert result.headline() == ("FAILED on cpu: clean 91.00%, robust 52.00% (reference 60.00%), "
                                 "p99 b1 0.250 ms in 12 s")
    assert result.problems() == ["FAIL robust_accuracy_drop: 0.08 vs 0.03", "warning: synthetic data"]
    assert result.gates[1].note == "emulated" and result.gates[1].to_dict() == result.to_dict()["gates"][1]


def test_a_result_is_made_with_every_section_or_not_at_all():
    with pytest.raises(TypeError, match="missing"):
        make_result(True, gates=[])
    with pytest.raises(TypeError, match="unknown"):
        make_result(True, **sections(), surprise=1)
    with pytest.raises(TypeError, match="metrics.attacks is not a mapping"):
        make_result(True, **sections(metrics={"clean_accuracy": 1.0, "robust_accuracy": 1.0, "n": 1, "eps": 0.1}))
    assert list(make_result(True, **sections(), bundle={}).to_dict())[2:] == [*SECTIONS, "bundle"]
    assert isinstance(make_result(True, **sections()), VerifyResult)


def test_the_schema_table_in_the_docs_is_this_type():
    """docs/verify.md's verify.json table has one row per field of VerifyResult (no more, no fewer), and
    the rows of the fixed-key sections name each of their fields."""
    import re
    from dataclasses import fields
    from pathlib import Path

    from dfard_pipeline.artifacts.verify_result import OPTIONAL_SECTIONS, ArtifactInfo, DataInfo

    doc = (Path(__file__).resolve().parents[2] / "docs" / "verify.md").read_text()
    table = doc.split("| key | content |", 1)[1].split("\n\n", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)` \| (.*) \|$", table, flags=re.MULTILINE))
    assert list(rows) == ["schema", "passed", *SECTIONS, *OPTIONAL_SECTIONS]  # in the order verify.json has
    for section, kind in (("artifact", ArtifactInfo), ("data", DataInfo)):
        assert all(re.search(rf"\b{f.name}\b", rows[section]) for f in fields(kind)), rows[section]
    assert all(name in rows["metrics"] for name in ("clean_accuracy", "robust_accuracy", "attacks", "eps"))
