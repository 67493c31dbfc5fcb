"""Writing verify's outputs atomically: verify.json (the CI interface) and verify.md (for people)."""

from __future__ import annotations

from pathlib import Path

from dfard_pipeline.atomic import write_json_atomic, write_text_atomic
from dfard_pipeline.runtime.report import render_verify_md


def write_verify_outputs(result, out_dir: Path, json_copy: Path | None = None) -> tuple[Path, Path]:
    data = result.to_dict()
    out_dir.mkdir(parents=True, exist_ok=True)
    json_file = write_json_atomic(out_dir / "verify.json", data)
    md_file = write_text_atomic(out_dir / "verify.md", render_verify_md(result))
    if json_copy is not None:
        write_json_atomic(json_copy, data)
    return json_file, md_file
