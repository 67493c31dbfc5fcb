"""run.json: typed stage records written atomically, read back the same, and refused when damaged."""

import json

import pytest

from dfard_pipeline.artifacts.run_manifest import RunManifest, StageRecord
from dfard_pipeline.errors import UsageError


def test_stage_records_round_trip_and_the_cache_follows_the_outputs(tmp_path):
    manifest = RunManifest(tmp_path)
    manifest.config = {"path": "x.yaml", "sha256": "abc"}
    manifest.mark("teacher", "skipped", reason="the config names a teacher checkpoint")
    manifest.start("distill", "fp1", {"teacher": "sha"})
    out = tmp_path / "student.pt"
    out.write_bytes(b"weights")
    manifest.finish("distill", [out], notes={"epochs": 3})
    back = RunManifest(tmp_path)
    assert back.to_dict() == manifest.to_dict() and back.config == manifest.config
    record = back.stage("distill")
    assert (record.status, record.fingerprint, record.notes) == ("done", "fp1", {"epochs": 3})
    assert list(record.outputs) == ["student.pt"] and record.started and record.ended
    assert back.stage("teacher").reason.startswith("the config") and back.stage("export") == StageRecord()
    assert back.is_cached("distill", "fp1") and not back.is_cached("distill", "fp2")
    out.write_bytes(b"other weights")
    assert not back.is_cached("distill", "fp1")


@pytest.mark.parametrize("stages, words", [
    ({"distill": {"status": "finished"}}, "status 'finished' is not one of"),
    ({"distill": {"outputs": {"../x": "ab"}}}, "outside the run folder"),
    ({"distill": {"notes": []}}, "'notes' must be a mapping"),
])
def test_damaged_records_are_refused_never_replaced(tmp_path, stages, words):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"format": "dfard-pipeline.run", "stages": stages}))
    before = path.read_text()
    with pytest.raises(UsageError, match=words):
        RunManifest(tmp_path)
    assert path.read_text() == before
