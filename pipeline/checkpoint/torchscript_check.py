"""Decide whether a TorchScript archive is a pure tensor program before and after it is loaded.

``torch.jit.load`` compiles the archive's ``code/`` sources and, while unpickling the module tree,
calls every object's ``__setstate__``: code from the file runs inside the load, before anything
can look at the loaded graphs. So:

1. **before the load** the archive's directory is checked (``archive_members``: the bytes inspected
   are the bytes torch reads) and its code is read: a ``__setstate__`` anywhere is refused;
2. **after the load** every node of every block of every method of every submodule (inlined, so
   called functions are included) must be an allowed operation: TorchScript's control flow and
   containers (``prim::``, minus Python calls and RPC), and ``aten::`` operators whose string
   arguments are all of the pure kinds listed in ``_PURE_STRING_ARGUMENTS`` (a reduction's name, an
   einsum equation, a padding mode, ...). An operator that takes a file name (``aten::from_file``,
   ``aten::save``), any other namespace (custom or quantized kernels) and any operator a later torch
   adds with an unknown string argument are refused: the list says what is allowed, not what is not.
"""

from __future__ import annotations

import functools
import io
import re
import zipfile
from pathlib import Path

import torch

from dfard_pipeline.artifacts.torch_files import checked_members
from dfard_pipeline.errors import CheckpointError

# prim:: nodes that leave the program: a call back into Python, remote procedure calls.
_PRIM_DENIED = frozenset({"prim::PythonOp", "prim::rpc_async", "prim::rpc_sync", "prim::rpc_remote"})
# Names of aten string arguments that select a mode or are data, never a path or a handle.
_PURE_STRING_ARGUMENTS = frozenset({
    "self", "a", "b", "s", "l", "t", "el", "item", "dict", "key", "idx", "input", "inputs", "values", "string",
    "substr", "separator", "fillchar", "chars", "old", "new", "to_add", "message", "assert_msg", "api_name",
    "norm", "reduce", "rounding_mode", "mode", "interpolation", "driver", "UPLO", "approximate", "ord", "p",
    "side", "padding", "padding_side", "pad_mode", "equation", "indexing", "activation", "algorithm", "type",
    "device_type",
})
_SETSTATE = re.compile(rb"\b__setstate__\b")


@functools.cache
def _aten_allowed() -> frozenset[str]:
    """Every ``aten::`` operator none of whose overloads takes a string outside the pure kinds."""
    impure, names = set(), set()
    for schema in torch._C._jit_get_all_schemas():
        if not schema.name.startswith("aten::"):
            continue
        names.add(schema.name)
        for argument in schema.arguments:
            if "str" in str(argument.type) and argument.name not in _PURE_STRING_ARGUMENTS:
                impure.add(schema.name)
    return frozenset(names - impure)


def check_archive_code(path: Path, data: bytes) -> None:
    """Refuse an archive (``data``, the bytes of ``path``) whose code defines ``__setstate__`` (it would run
    inside ``torch.jit.load``)."""
    names = checked_members(path, data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in names:
            if "/code/" in name and name.endswith(".py") and _SETSTATE.search(archive.read(name)):
                raise CheckpointError(f"{path}: TorchScript code defines __setstate__ ({name.split('/', 1)[1]}), "
                                      "which runs while the file loads; a classifier does not need one; refused")


def disallowed_operations(module: torch.jit.ScriptModule) -> list[str]:
    """The operations in any method of ``module`` or its submodules that are not pure tensor work."""
    allowed_aten = _aten_allowed()
    found: set[str] = set()

    def walk(block) -> None:
        for node in block.nodes():
            kind = node.kind()
            namespace = kind.split("::", 1)[0]
            if (namespace == "prim" and kind in _PRIM_DENIED) or (namespace == "aten" and kind not in allowed_aten) \
                    or namespace not in ("prim", "aten"):
                found.add(kind)
            for inner in node.blocks():
                walk(inner)

    for _, submodule in module.named_modules():
        for name in submodule._c._method_names():
            walk(submodule._c._get_method(name).inlined_graph)
    return sorted(found)


def load_torchscript(path: Path, trust: bool = False) -> torch.jit.ScriptModule:
    """The TorchScript module in ``path`` when it is a pure tensor program (or the user trusts it); a
    ``CheckpointError`` otherwise."""
    data = path.read_bytes()  # one read: what is inspected is what is loaded
    checked_members(path, data)
    if not trust:
        check_archive_code(path, data)
    try:
        module = torch.jit.load(io.BytesIO(data), map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - the TorchScript loader raises RuntimeError for everything
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a loadable TorchScript file ({first})") from None
    denied = [] if trust else disallowed_operations(module)
    if denied:
        shown = ", ".join(denied[:4]) + (f" (+{len(denied) - 4} more)" if len(denied) > 4 else "")
        raise CheckpointError(f"{path}: TorchScript program calls {shown}, which a classifier does not need "
                              "(only tensor operations are allowed); pass --trust-checkpoint if you trust its source")
    return module
