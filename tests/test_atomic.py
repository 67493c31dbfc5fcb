import json
import math

import pytest

from dfard_pipeline.atomic import AlreadyThere, publish, strict_json, write_json_atomic


def test_publish_without_overwrite_never_replaces_what_another_writer_put_there(tmp_path):
    (tmp_path / "new").write_text("ours")
    (tmp_path / "out").write_text("theirs, written after our existence check")
    with pytest.raises(AlreadyThere):
        publish(tmp_path / "new", tmp_path / "out", overwrite=False)
    assert (tmp_path / "out").read_text() == "theirs, written after our existence check"
    publish(tmp_path / "new", tmp_path / "out", overwrite=True)
    assert (tmp_path / "out").read_text() == "ours" and not (tmp_path / "new").exists()
    (tmp_path / "second").write_text("2")
    publish(tmp_path / "second", tmp_path / "free", overwrite=False)
    assert (tmp_path / "free").read_text() == "2" and not (tmp_path / "second").exists()


def test_json_is_strict_no_nan_tokens(tmp_path):
    data = {"a": math.nan, "b": [1.0, math.inf, {"c": -math.inf}], "d": 0.5}
    assert strict_json(data) == {"a": None, "b": [1.0, None, {"c": None}], "d": 0.5}
    text = write_json_atomic(tmp_path / "x.json", data).read_text()
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text, parse_constant=lambda token: pytest.fail(f"non-standard token {token}"))
