"""The import layering the README's layout section promises:
files handed between stages are read through ``artifacts``, which imports no stage; ``runtime``
never imports ``export``; distill's run module imports neither export nor runtime."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("dfard_pipeline.distill", "dfard_pipeline.export", "dfard_pipeline.runtime", "dfard_pipeline.stages",
          "dfard_pipeline.cli", "dfard_pipeline.teacher")


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def modules_under(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", modules_under("pipeline/artifacts") + modules_under("pipeline/backends"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_low_layers_import_no_stage(path):
    assert not {m for m in imports_of(path) if m.startswith(STAGES)}


@pytest.mark.parametrize("path", modules_under("runtime"), ids=lambda p: str(p.relative_to(ROOT)))
def test_runtime_does_not_import_export(path):
    assert not {m for m in imports_of(path) if m.startswith("dfard_pipeline.export")}


@pytest.mark.parametrize("path", modules_under("pipeline/artifacts"), ids=lambda p: p.name)
def test_artifacts_do_not_import_the_loaders_built_on_them(path):
    assert not {m for m in imports_of(path) if m.startswith("dfard_pipeline.checkpoint")}


@pytest.mark.parametrize("path", modules_under("export"), ids=lambda p: str(p.relative_to(ROOT)))
def test_export_does_not_import_runtime(path):
    assert not {m for m in imports_of(path) if m.startswith("dfard_pipeline.runtime")}


def test_distill_run_imports_neither_export_nor_runtime():
    found = imports_of(ROOT / "pipeline" / "distill" / "run.py")
    assert not {m for m in found if m.startswith(("dfard_pipeline.export", "dfard_pipeline.runtime"))}


def test_export_reads_generators_through_artifacts():
    assert not {m for path in modules_under("export") for m in imports_of(path)
                if m.startswith("dfard_pipeline.distill")}


def test_every_project_import_names_a_module_that_exists():
    """Imports inside functions run late: a moved module must not leave one behind."""
    import importlib.util

    sources = [p for folder in ("pipeline", "export", "runtime", "configs") for p in modules_under(folder)]
    wanted = {m for path in sources for m in imports_of(path) if m.startswith("dfard_pipeline.")}
    assert wanted and not [m for m in sorted(wanted) if importlib.util.find_spec(m) is None]
