"""Small broken and malicious files for the hostile-input suite, made in the test's own folder.

Every code-running payload writes ``MARKER`` (a file in the current working directory) when it
is unpickled; a test that finds the marker has proved that code from a file ran.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import torch

MARKER = "PWNED_MARKER"


class Payload:
    """Unpickling this calls ``exec``: the classic pickle attack, harmless here (it writes MARKER)."""

    def __reduce__(self):
        return exec, (f"open({MARKER!r}, 'w').write('code ran')",)


def evil_pickle(path: Path) -> Path:
    torch.save({"model": Payload()}, path)
    return path


def exported_teacher(model: torch.nn.Module, path: Path) -> Path:
    """A genuine ``torch.export`` archive of ``model`` with a dynamic batch dimension."""
    program = torch.export.export(model, (torch.rand(2, *model.contract.shape),),
                                  dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    torch.export.save(program, str(path))
    return path


def _rewrite_zip(source: Path, target: Path, edit) -> Path:
    """Copy the archive member by member; ``edit(relative_name, bytes)`` returns new bytes, None to keep."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as new:
        for info in old.infolist():
            rel = info.filename.split("/", 1)[1]
            data = old.read(info.filename)
            changed = edit(rel, data)
            new.writestr(info.filename, data if changed is None else changed)
    target.write_bytes(buffer.getvalue())
    return target


def _pickled_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save(Payload(), buffer)
    return buffer.getvalue()


def pt2_with_pickled_weight(safe_pt2: Path, path: Path) -> Path:
    """The first weight marked ``use_pickle`` and replaced by a pickled payload."""
    config_name = "data/weights/model_weights_config.json"

    def edit(rel, data):
        if rel == config_name:
            config = json.loads(data)
            first = next(iter(config["config"].values()))
            first["use_pickle"] = True
            return json.dumps(config).encode()
        if rel == "data/weights/weight_0":
            return _pickled_bytes()
        return None

    return _rewrite_zip(safe_pt2, path, edit)


def pt2_with_pickled_sample_inputs(safe_pt2: Path, path: Path) -> Path:
    """Sample inputs replaced by a pickle that only a ``weights_only=False`` load accepts."""
    return _rewrite_zip(safe_pt2, path, lambda rel, data: _pickled_bytes() if rel.startswith(
        "data/sample_inputs/") else None)


def pt2_with_opaque_constant(safe_pt2: Path, path: Path) -> Path:
    """An "opaque object" constant, which torch.export.load restores with plain ``pickle.loads``."""
    def edit(rel, data):
        if rel == "data/constants/model_constants_config.json":
            return json.dumps({"config": {"evil": {"path_name": "opaque_obj_0", "is_param": False,
                                                   "use_pickle": False, "tensor_meta": None}}}).encode()
        return None

    target = _rewrite_zip(safe_pt2, path, edit)
    with zipfile.ZipFile(target, "a") as archive:
        root = archive.namelist()[0].split("/", 1)[0]
        archive.writestr(f"{root}/data/constants/opaque_obj_0", __import__("pickle").dumps(Payload()))
    return target


SYMPY_PAYLOAD = f"__import__('builtins').open({MARKER!r}, 'w').write('code ran') and Symbol('s77', positive=True)"


def pt2_with_shape_expression_payload(safe_pt2: Path, path: Path) -> Path:
    """No pickle at all: a symbolic-shape string that ``sympy.sympify`` evaluates as Python."""
    def edit(rel, data):
        if rel.startswith("models/") and rel.endswith(".json"):
            text = data.decode()
            return text.replace("Symbol('s77', positive=True, integer=True)", SYMPY_PAYLOAD, 1).encode()
        return None

    return _rewrite_zip(safe_pt2, path, edit)


def with_duplicate_member(source: Path, path: Path, member: str, first: bytes) -> Path:
    """``source`` with ``first`` stored under ``member``'s name *before* the original: torch reads the
    first of two equal names, Python's zipfile the last."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as new:
        root = old.namelist()[0].split("/", 1)[0]
        new.writestr(f"{root}/{member}", first)
        for info in old.infolist():
            new.writestr(info.filename, old.read(info.filename))
    path.write_bytes(buffer.getvalue())
    return path


def torchscript_writing(victim: Path, path: Path, where: str) -> Path:
    """A TorchScript classifier that overwrites ``victim`` through ``aten::from_file(shared=True)``:
    ``where`` is ``"if"`` (inside an if block of a submodule's forward) or ``"setstate"`` (in a
    submodule's ``__setstate__``, which runs inside ``torch.jit.load``)."""
    size = victim.stat().st_size
    writes = torch.jit.script(_FileWriter(str(victim), size) if where == "if" else _SetstateWriter(str(victim), size))
    model = torch.jit.script(_Wrapped(writes))
    model.save(str(path))
    return path


class _FileWriter(torch.nn.Module):
    def __init__(self, victim: str, size: int):
        super().__init__()
        self.victim, self.size = victim, size

    def forward(self, x):
        if x.sum() > -1.0:
            page = torch.from_file(self.victim, shared=True, size=self.size, dtype=torch.uint8)
            page.fill_(88)
            return x.flatten(1)[:, :10] + page[0].float() * 0
        return x.flatten(1)[:, :10]


class _SetstateWriter(torch.nn.Module):
    def __init__(self, victim: str, size: int):
        super().__init__()
        self.victim, self.size = victim, size

    def forward(self, x):
        return x.flatten(1)[:, :10]

    @torch.jit.export
    def __getstate__(self) -> tuple[str, int, bool]:
        return (self.victim, self.size, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[str, int, bool]) -> None:
        self.victim, self.training = state[0], state[2]
        page = torch.from_file(self.victim, shared=True, size=state[1], dtype=torch.uint8)
        self.size = int(page.fill_(88).sum().item()) * 0 + state[1]


class _Wrapped(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


def npz(path: Path, x: np.ndarray, y: np.ndarray | None = None) -> Path:
    arrays = {"x": x} if y is None else {"x": x, "y": y}
    np.savez(path, **arrays)
    return path


def object_npz(path: Path) -> Path:
    """An npz whose ``x`` is a pickled object array (loads only with allow_pickle=True)."""
    np.savez(path, x=np.array([Payload()], dtype=object), y=np.zeros(1, np.int64))
    return path


YAML_BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
distill: {epochs: *g}
"""

YAML_PYTHON_OBJECT = "distill:\n  epochs: !!python/object/apply:exec ['open(\"PWNED_MARKER\", \"w\")']\n"

YAML_DUPLICATE_KEYS = "distill:\n  epochs: 3\n  epochs: 300\n"
