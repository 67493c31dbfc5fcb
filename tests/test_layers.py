"""The import layering, declared over module names and checked on every import statement of the
package (top-level and inside functions):

    cli (and ``python -m dfard_pipeline``) > stages > {distill, export, runtime, teacher}
        > {backends, evaluation} > checkpoint > artifacts > {models, attacks, config, data}
        > utilities (the modules directly in dfard_pipeline)

A module may import its own package and any lower layer, never a higher one; the packages of one
layer are independent of each other (export never imports runtime, nor runtime export). The device
script (``runtime/on_device.py``) is imported by no other layer's module."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"pipeline": "dfard_pipeline", "export": "dfard_pipeline.export", "runtime": "dfard_pipeline.runtime"}
LAYERS = (
    ("__main__",),
    ("cli",),
    ("stages",),
    ("distill", "export", "runtime", "teacher"),
    ("backends", "evaluation"),  # how a model file runs; white-box robustness of a PyTorch model
    ("checkpoint",),  # loading teachers and students, built on the file formats below
    ("artifacts",),  # the files stages hand each other: formats, writers, checked readers
    ("models", "attacks", "config", "data"),
)
# declared exceptions, each with its reason: none may be added to pass a test
ALLOWED: dict[tuple[str, str], str] = {}


def package_of(module: str) -> str | None:
    """The layered package a ``dfard_pipeline...`` module belongs to; None for the utilities."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and any(parts[1] in layer for layer in LAYERS) else None


def rank(package: str | None) -> int:
    return len(LAYERS) if package is None else next(i for i, layer in enumerate(LAYERS) if package in layer)


def sources() -> list[tuple[str, Path]]:
    out = []
    for folder, prefix in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if folder == "pipeline" and parts[:1] in (["export"], ["runtime"]):
                continue
            out.append((".".join([prefix, *parts]), path))
    return out


def imports_of(path: Path, module: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:  # relative: resolve against this module
            base = module.split(".")[: -node.level]
            names.add(".".join(base + ([node.module] if node.module else [])))
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n.startswith("dfard_pipeline")}


def violations(module: str, imported: set[str]) -> list[str]:
    own = package_of(module)
    found = []
    for name in sorted(imported):
        other = package_of(name)
        if other == own or other is None or (module, name) in ALLOWED:
            if name.startswith("dfard_pipeline.runtime.on_device") and own != "runtime":
                found.append(f"{module} imports the device script {name}")
            continue
        if rank(other) < rank(own) or (rank(other) == rank(own) and other != own) or own is None:
            found.append(f"{module} ({own or 'utility'}) imports {name} ({other})")
    return found


@pytest.mark.parametrize(("module", "path"), sources(), ids=[m for m, _ in sources()])
def test_each_module_imports_only_lower_layers(module, path):
    assert not violations(module, imports_of(path, module))


def test_the_checker_catches_the_cycles_it_exists_for():
    assert violations("dfard_pipeline.attacks.square", {"dfard_pipeline.runtime.on_device"})
    assert violations("dfard_pipeline.config.schema", {"dfard_pipeline.distill.methods"})
    assert violations("dfard_pipeline.runtime.verify", {"dfard_pipeline.export.api"})
    assert violations("dfard_pipeline.errors", {"dfard_pipeline.models"})
    assert not violations("dfard_pipeline.stages.definitions", {"dfard_pipeline.export.api", "dfard_pipeline.errors"})


def test_every_project_import_names_a_module_that_exists():
    """Imports inside functions run late: a moved module must not leave one behind."""
    import importlib.util

    wanted = {m for module, path in sources() for m in imports_of(path, module)}
    assert wanted and not [m for m in sorted(wanted) if importlib.util.find_spec(m) is None]


def test_only_the_cli_prints():
    """Library code returns results and reports progress through a callback; only ``cli/`` prints
    (``progress.py`` draws the bars, the device script is a program of its own). Quieting a third
    party's logger is allowed; a logger of our own is a second output channel."""
    exempt = ("dfard_pipeline.cli", "dfard_pipeline.__main__", "dfard_pipeline.progress",
              "dfard_pipeline.runtime.on_device")
    found = []
    for module, path in sources():
        if module.startswith(exempt):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("print", "click.echo", "click.secho"):
                found.append(f"{module}:{node.lineno} {ast.unparse(node.func)}")
            if isinstance(node, ast.Import) and any(alias.name == "click" for alias in node.names) or (
                    isinstance(node, ast.ImportFrom) and node.module == "click"):
                found.append(f"{module}:{node.lineno} imports click")
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "logging.getLogger" and node.args and \
                    ast.unparse(node.args[0]) == "__name__":  # a logger of our own writes output
                found.append(f"{module}:{node.lineno} logs")
    assert not found, found
