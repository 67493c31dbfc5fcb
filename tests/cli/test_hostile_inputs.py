"""The hostile-input suite: broken and malicious files and options, across every command.

Each case asserts the exit code, a one-line message naming the problem, no traceback, the file
tree (shared inputs and the case's own folder) byte for byte unchanged, and no marker file from a
code-running payload. Shared inputs are made once per module; each case runs in its own folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

import hostile_files as hf
import numpy as np
import onnx as onnx_lib
import pytest
import torch

from dfard_pipeline.artifacts.project_checkpoint import write_checkpoint
from dfard_pipeline.atomic import folder_writable
from dfard_pipeline.cli import main
from dfard_pipeline.models import create_model


@pytest.fixture(scope="module")
def inputs(digits_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile_inputs")
    run = root / "run"
    shutil.copytree(digits_run, run)
    with pytest.raises(SystemExit) as info:
        main(["export", "--checkpoint", str(run / "student.pt"), "--precision", "fp32", "--quiet"]) or sys.exit(0)
    assert info.value.code in (0, None)
    torch.manual_seed(0)
    teacher = create_model("digits_cnn_teacher").eval()
    write_checkpoint(teacher, root / "teacher.pt", kind="teacher", eps=0.1)
    safe = hf.exported_teacher(teacher, root / "safe.pt2")
    hf.pt2_with_pickled_weight(safe, root / "evil_weight.pt2")
    hf.pt2_with_pickled_sample_inputs(safe, root / "evil_sample.pt2")
    hf.pt2_with_opaque_constant(safe, root / "evil_opaque.pt2")
    hf.evil_pickle(root / "evil.pt")
    hf.pt2_with_shape_expression_payload(safe, root / "sympy.pt2")
    victim = root / "victim.txt"
    victim.write_text("a good file that a hostile teacher tries to overwrite\n")
    hf.torchscript_writing(victim, root / "writes_in_if.ts", "if")
    hf.torchscript_writing(victim, root / "writes_in_setstate.ts", "setstate")
    hf.with_duplicate_member(root / "teacher.pt", root / "dup_member.pt", "version", b"3\n")
    with zipfile.ZipFile(root / "outside.pt", "w") as archive, zipfile.ZipFile(root / "teacher.pt") as source:
        for info in source.infolist():
            archive.writestr(info.filename, source.read(info.filename))
        archive.writestr("../escaped", b"x")
    (root / "nan_gate.yaml").write_text(CPU_PROFILE.replace("max_clean_drop: 0.02", "max_clean_drop: .nan"))
    (root / "huge_batch.yaml").write_text(CPU_PROFILE.replace("batch_sizes: [1, 64]", "batch_sizes: [1, 64000000]"))
    np.savez_compressed(root / "bomb.npz", x=np.zeros((40000, 1, 32, 32), np.uint8), y=np.zeros(40000, np.int64))

    state = teacher.state_dict()
    state["features.0.0.weight"] = torch.zeros(7, 1, 3, 3)
    torch.save(state, root / "mismatch_sd.pt")
    payload = torch.load(root / "teacher.pt", weights_only=True)
    torch.save({k: v for k, v in payload.items() if k != "arch"}, root / "no_arch.pt")
    torch.save({**payload, "contract": {**payload["contract"], "shape": [1, 8]}}, root / "bad_contract.pt")
    nan_state = dict(payload["state_dict"])
    nan_state["head.1.weight"] = torch.full_like(nan_state["head.1.weight"], float("nan"))
    torch.save({**payload, "state_dict": nan_state}, root / "nan.pt")
    torch.jit.script(NanLogits()).save(str(root / "nan_logits.ts"))
    (root / "garbage.pt").write_bytes(os.urandom(256))
    (root / "empty.pt").write_bytes(b"")

    onnx = run / "student.fp32.onnx"
    manifest = json.loads((run / "student.fp32.onnx.json").read_text())
    for name, content in (("list", []), ("nocontract", {k: v for k, v in manifest.items() if k != "contract"}),
                          ("swapped", {**manifest, "artifact": {**manifest["artifact"], "sha256": "0" * 64}}),
                          ("shape", {**manifest, "contract": {**manifest["contract"], "shape": [1, 16, 16]}})):
        shutil.copy(onnx, root / f"{name}.onnx")
        (root / f"{name}.onnx.json").write_text(json.dumps(content))
    # an FP32 graph whose manifest says int8 (its sha256 right): it would be judged by the INT8 floors
    shutil.copy(run / "student.fp32.onnx", root / "fake_int8.onnx")
    (root / "fake_int8.onnx.json").write_text(json.dumps({**manifest, "export": {**manifest["export"],
                                                                                 "precision": "int8"}}))
    graph = onnx_lib.load(str(run / "student.fp32.onnx"))
    onnx_lib.save_model(graph, str(root / "ext.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="ext.onnx.data", size_threshold=0)
    data = bytearray((root / "ext.onnx.data").read_bytes())
    data[:64] = bytes(64)  # weights changed after the export; the .onnx's own sha256 still matches
    (root / "ext.onnx.data").write_bytes(bytes(data))
    ext_sha = hashlib.sha256((root / "ext.onnx").read_bytes()).hexdigest()
    (root / "ext.onnx.json").write_text(json.dumps({**manifest, "artifact": {**manifest["artifact"],
                                                                             "sha256": ext_sha}}))

    hf.npz(root / "empty.npz", np.zeros((0, 1, 8, 8), np.float32), np.zeros(0, np.int64))
    nan_x = np.random.default_rng(0).random((20, 1, 8, 8)).astype(np.float32)
    nan_x[3, 0, 2, 2] = np.nan
    hf.npz(root / "nan.npz", nan_x, np.arange(20) % 10)
    hf.npz(root / "mismatch.npz", np.zeros((20, 1, 8, 8), np.float32), np.zeros(19, np.int64))
    hf.object_npz(root / "object.npz")
    (root / "bomb.yaml").write_text(hf.YAML_BOMB)
    (root / "pyobj.yaml").write_text(hf.YAML_PYTHON_OBJECT)
    (root / "dup.yaml").write_text(hf.YAML_DUPLICATE_KEYS)
    return root


CPU_PROFILE = """name: hostile
runtime: onnxruntime
providers: [cpu]
batch_sizes: [1, 64]
gates: {min_parity_agreement: 0.99, max_clean_drop: 0.02, max_robust_drop: 0.02}
"""


class NanLogits(torch.nn.Module):
    def forward(self, x):
        return x.flatten(1)[:, :10] * float("nan")


def _tree(*folders: Path) -> dict[str, str]:
    out = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                out[str(path)] = "dir"
    return out


def _read_only_folder(tmp: Path) -> Path | None:
    if os.geteuid() != 0:
        folder = tmp / "read_only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    # root writes through file permissions; a pseudo-filesystem refuses new files even to root
    return next((Path(p) for p in ("/sys", "/proc") if Path(p).is_dir() and not folder_writable(p)), None)


def _existing(*names):
    def setup(inp, tmp):
        for name in names:
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text("a good earlier result\n")
    return setup


def _config(text: str):
    def setup(inp, tmp):
        (tmp / "c.yaml").write_text(text)
    return setup


def _bundle_exists(inp, tmp):
    (tmp / "b").mkdir()
    (tmp / "b" / "keep.txt").write_text("a good earlier bundle\n")


def _run_json(content: bytes):
    def setup(inp, tmp):
        (tmp / "r").mkdir()
        (tmp / "r" / "run.json").write_bytes(content)
    return setup


def _last_checkpoint(write):
    def setup(inp, tmp):
        (tmp / "d" / "checkpoints").mkdir(parents=True)
        write(tmp / "d" / "checkpoints" / "last.pt")
    return setup


ONNX = "{inp}/run/student.fp32.onnx"
PT2 = "is a torch.export program, and loading one runs Python"
VERIFY = ["verify", "--artifact", ONNX, "--out", "{tmp}/v", "--quiet"]
DISTILL = ["distill", "--out", "{tmp}/d", "--quiet"]
EXPORT = ["export", "--quiet", "--checkpoint"]
EXPORT_INT8 = [*EXPORT, "{inp}/run/student.pt", "--precision", "int8", "--out", "{tmp}/x.onnx"]

# (id, argv, setup, message); every case exits 2.
CASES = [
    # 1. no code runs from a file we read
    ("pickled-whole-model", [*DISTILL, "--teacher", "{inp}/evil.pt"], None, "pickled Python object"),
    ("pt2-pickled-weight", [*DISTILL, "--teacher", "{inp}/evil_weight.pt2"], None, PT2),
    ("pt2-pickled-sample-inputs", [*DISTILL, "--teacher", "{inp}/evil_sample.pt2"], None, PT2),
    ("pt2-opaque-constant", [*DISTILL, "--teacher", "{inp}/evil_opaque.pt2"], None, PT2),
    # round 2: a .pt2 with no pickle at all (sympy evaluates its shape strings), everywhere a teacher is read
    ("pt2-shape-expression-distill", [*DISTILL, "--teacher", "{inp}/sympy.pt2"], None, PT2),
    ("pt2-shape-expression-verify", [*VERIFY, "--data", "synthetic", "--teacher", "{inp}/sympy.pt2"], None, PT2),
    ("pt2-clean-needs-opt-in", [*DISTILL, "--teacher", "{inp}/safe.pt2"], None, PT2),
    # a zip directory that two readers read differently, or that escapes its folder
    ("zip-duplicate-member", [*DISTILL, "--teacher", "{inp}/dup_member.pt"], None, "two members named"),
    ("zip-member-outside", [*DISTILL, "--teacher", "{inp}/outside.pt"], None, "outside its folder"),
    ("zip-duplicate-member-export", [*EXPORT, "{inp}/dup_member.pt", "--out", "{tmp}/x.onnx"], None,
     "two members named"),
    # TorchScript that writes a file: inside an if block, and in __setstate__ (runs inside torch.jit.load)
    ("torchscript-from-file-in-if", [*DISTILL, "--teacher", "{inp}/writes_in_if.ts", "--input-shape", "1,8,8"],
     None, "aten::from_file"),
    ("torchscript-setstate", [*DISTILL, "--teacher", "{inp}/writes_in_setstate.ts", "--input-shape", "1,8,8"],
     None, "defines __setstate__"),
    ("npz-decompression-bomb", [*VERIFY, "--data", "npz:{inp}/bomb.npz"], None, "decompression bomb"),
    # round 2: good files destroyed, outputs outside their folder
    ("bundle-folder-holds-the-inputs", [*VERIFY[:3], "--bundle", "{inp}/run", "--overwrite"], None,
     "an input of this command"),
    ("remote-bundle-exists", [*VERIFY[:3], "--remote", "localhost:1", "--bundle", "{tmp}/b"], _bundle_exists,
     "already exists"),
    ("export-out-is-the-generator", [*EXPORT_INT8[:-1], "{inp}/run/generator.pt", "--overwrite"], None,
     "also an input"),
    ("run-device-path-outside", ["run", "{tmp}/c.yaml", "--out", "{tmp}/r"],
     _config("verify: {devices: ['../../outside.yaml']}\n"), "device profile file not found"),
    # round 2: verdicts that can be forged or are empty
    ("run-misspelled-device", ["run", "{tmp}/c.yaml", "--out", "{tmp}/r"], _config("verify: {devices: [cpuu]}\n"),
     "unknown device 'cpuu'"),
    ("manifest-precision-differs-from-graph", ["verify", "--artifact", "{inp}/fake_int8.onnx", "--checkpoint",
                                               "{inp}/run/student.pt", "--out", "{tmp}/v"], None,
     "is an fp32 graph but its manifest says int8"),
    ("profile-nan-gate", [*VERIFY, "--device", "{inp}/nan_gate.yaml"], None, "expected a finite number"),
    ("profile-huge-batch", [*VERIFY, "--device", "{inp}/huge_batch.yaml"], None, "batch_sizes must be in 1-4096"),
    ("config-nan-tau-max", [*DISTILL, "--teacher", "{inp}/teacher.pt", "--config", "{tmp}/c.yaml"],
     _config("distill: {tau_max: .nan}\n"), "expected a finite number"),
    ("config-nan-trades-beta", ["teacher", "--out", "{tmp}/t.pt", "--config", "{tmp}/c.yaml"],
     _config("teacher: {trades_beta: .nan}\n"), "expected a finite number"),
    ("run-config-bad-opset", ["run", "{tmp}/c.yaml", "--out", "{tmp}/r"], _config("export: {opset: 99}\n"),
     "opset 99 is outside"),
    ("run-config-huge-calibration", ["run", "{tmp}/c.yaml", "--out", "{tmp}/r"],
     _config("export: {calibration_samples: 100000000}\n"), "calibration_samples must be in 16-65536"),
    ("verify-against-another-checkpoint", [*VERIFY[:3], "--checkpoint", "{inp}/teacher.pt", "--out", "{tmp}/v"],
     None, "is not the checkpoint student.fp32.onnx was exported from"),
    # round 2: other
    ("remote-host-is-an-option", [*VERIFY[:3], "--remote=-Fevil_config"], None, "expected [USER@]HOST[:PORT]"),
    ("seed-negative", [*DISTILL, "--teacher", "{inp}/teacher.pt", "--seed", "-1"], None, "seed must be an integer"),
    ("seed-thousands-of-digits", [*DISTILL, "--teacher", "{inp}/teacher.pt", "--seed", "9" * 5000], None,
     "Invalid value for '--seed'"),
    ("yaml-integer-thousands-of-digits", [*DISTILL, "--teacher", "{inp}/teacher.pt", "--config", "{tmp}/c.yaml"],
     _config("seed: " + "9" * 5000 + "\n"), "not valid YAML"),
    ("yaml-nested-deeply", [*DISTILL, "--teacher", "{inp}/teacher.pt", "--config", "{tmp}/c.yaml"],
     _config("a: " + "[" * 50000 + "]" * 50000 + "\n"), "not valid YAML"),
    ("negative-weight-decay", ["teacher", "--out", "{tmp}/t.pt", "--config", "{tmp}/c.yaml"],
     _config("teacher: {weight_decay: -0.1}\n"), "weight_decay must be a finite number >= 0"),
    ("export-huge-calibration", [*EXPORT_INT8, "--calibration-samples", "100000000"], None,
     "calibration_samples must be in 16-65536"),
    ("export-student-pt2-pickled", [*EXPORT, "{inp}/evil_weight.pt2", "--out", "{tmp}/x.onnx"], None,
     "is a torch.export program"),
    ("export-student-pickled", [*EXPORT, "{inp}/evil.pt", "--out", "{tmp}/x.onnx"], None,
     "pickled Python object"),
    ("verify-teacher-pt2-pickled", [*VERIFY, "--data", "synthetic", "--teacher", "{inp}/evil_opaque.pt2"], None,
     PT2),
    ("calibration-generator-pickled", [*EXPORT_INT8, "--calibration", "{inp}/evil.pt"], None,
     "not a readable generator checkpoint"),
    ("calibration-npz-object-array", [*EXPORT_INT8, "--calibration", "npz:{inp}/object.npz"], None,
     "npz: cannot read"),
    ("yaml-python-object", [*DISTILL, "--teacher", "{inp}/teacher.pt", "--config", "{inp}/pyobj.yaml"], None,
     "not valid YAML"),
    ("resume-pickled-checkpoint", [*DISTILL, "--teacher", "{inp}/teacher.pt", "--resume"],
     _last_checkpoint(hf.evil_pickle), "is unreadable"),
    # 4. expected mistakes: one line, exit 2
    ("state-dict-size-mismatch", [*DISTILL, "--teacher", "{inp}/mismatch_sd.pt", "--teacher-arch",
                                  "digits_cnn_teacher"], None, "does not fit --teacher-arch digits_cnn_teacher"),
    ("checkpoint-missing-field", [*DISTILL, "--teacher", "{inp}/no_arch.pt"], None, "field 'arch' is missing"),
    ("checkpoint-bad-contract", [*DISTILL, "--teacher", "{inp}/bad_contract.pt"], None, "input contract"),
    ("checkpoint-garbage", [*DISTILL, "--teacher", "{inp}/garbage.pt"], None, "not a readable PyTorch checkpoint"),
    ("checkpoint-empty", [*DISTILL, "--teacher", "{inp}/empty.pt"], None, "not a readable PyTorch checkpoint"),
    ("export-damaged-student", [*EXPORT, "{inp}/no_arch.pt", "--out", "{tmp}/x.onnx"], None,
     "field 'arch' is missing"),
    ("manifest-is-a-list", ["verify", "--artifact", "{inp}/list.onnx", "--out", "{tmp}/v"], None,
     "not a dfard-pipeline export manifest"),
    ("manifest-without-contract", ["verify", "--artifact", "{inp}/nocontract.onnx", "--out", "{tmp}/v"], None,
     "lacks an input contract"),
    ("onnx-shape-differs-from-manifest", ["verify", "--artifact", "{inp}/shape.onnx", "--checkpoint",
                                          "{inp}/run/student.pt", "--out", "{tmp}/v"], None,
     "do not belong together"),
    ("npz-no-samples-verify", [*VERIFY, "--data", "npz:{inp}/empty.npz"], None, "holds no samples"),
    ("npz-no-samples-teacher", ["teacher", "--data", "npz:{inp}/empty.npz", "--out", "{tmp}/t.pt"], None,
     "holds no samples"),
    ("npz-labels-mismatch", [*VERIFY, "--data", "npz:{inp}/mismatch.npz"], None, "20 samples but y 19 labels"),
    ("yaml-bomb", [*DISTILL, "--teacher", "{inp}/teacher.pt", "--config", "{inp}/bomb.yaml"], None,
     "YAML aliases"),
    ("resume-not-a-checkpoint", [*DISTILL, "--teacher", "{inp}/teacher.pt", "--resume"],
     _last_checkpoint(lambda p: torch.save({"epoch": 3}, p)), "is not a distill checkpoint"),
    ("resume-truncated", [*DISTILL, "--teacher", "{inp}/teacher.pt", "--resume"],
     _last_checkpoint(lambda p: p.write_bytes(b"PK\x03\x04 truncated")), "is unreadable"),
    ("resume-and-overwrite", [*DISTILL, "--teacher", "{inp}/teacher.pt", "--resume", "--overwrite"], None,
     "contradict"),
    ("run-json-is-a-list", ["run", "--out", "{tmp}/r"], _run_json(b"[]"), "not a dfard-pipeline run record"),
    ("run-json-garbage", ["run", "--out", "{tmp}/r"], _run_json(b"\x00\xff{"), "not a dfard-pipeline run record"),
    ("run-json-bad-stages", ["run", "--out", "{tmp}/r"],
     _run_json(b'{"format": "dfard-pipeline.run", "stages": {"distill": [1]}}'), "must map stage names"),
    ("run-json-nested-deeply", ["run", "--out", "{tmp}/r"], _run_json(b"[" * 100000 + b"]" * 100000),
     "not a dfard-pipeline run record"),
    ("onnx-external-data-not-in-manifest", ["verify", "--artifact", "{inp}/ext.onnx", "--checkpoint",
                                            "{inp}/run/student.pt", "--out", "{tmp}/v"], None,
     "external data (ext.onnx.data) is not what its manifest records"),
    ("run-json-output-outside", ["run", "--out", "{tmp}/r"],
     _run_json(b'{"format": "dfard-pipeline.run", "stages": {"x": {"outputs": {"../../etc/passwd": "0"}}}}'),
     "outside the run folder"),
    # 5. non-finite and out-of-range values
    ("nan-pixels-verify", [*VERIFY, "--data", "npz:{inp}/nan.npz"], None, "NaN or inf"),
    ("nan-pixels-teacher", ["teacher", "--data", "npz:{inp}/nan.npz", "--out", "{tmp}/t.pt"], None, "NaN or inf"),
    ("nan-weights", [*DISTILL, "--teacher", "{inp}/nan.pt"], None, "non-finite weights"),
    ("nan-logits", [*DISTILL, "--teacher", "{inp}/nan_logits.ts", "--input-shape", "1,8,8"], None,
     "non-finite logits"),
    ("distill-eps-2", [*DISTILL, "--teacher", "{inp}/teacher.pt", "--eps", "2"], None, "(0, 1]"),
    ("teacher-eps-5", ["teacher", "--eps", "5", "--out", "{tmp}/t.pt"], None, "(0, 1]"),
    ("verify-eps-negative", [*VERIFY, "--eps", "-0.1"], None, "(0, 1]"),
    ("verify-eps-nan", [*VERIFY, "--eps", "nan"], None, "(0, 1]"),
    ("yaml-duplicate-keys", [*DISTILL, "--teacher", "{inp}/teacher.pt", "--config", "{inp}/dup.yaml"], None,
     "duplicate key 'epochs'"),
    # 2. and 3. nothing good destroyed, nothing written by a refusal
    ("verify-json-exists", [*VERIFY, "--json", "{tmp}/ci.json"], _existing("ci.json"), "already exists"),
    ("verify-out-exists", VERIFY, _existing("v/verify.json"), "already exists"),
    ("verify-json-is-the-artifact", [*VERIFY, "--json", ONNX, "--overwrite"], None, "also an input"),
    ("export-out-is-the-student", [*EXPORT, "{inp}/run/student.pt", "--out", "{inp}/run/student.pt",
                                   "--overwrite"], None, "also an input"),
    ("export-out-exists", [*EXPORT, "{inp}/run/student.pt", "--out", "{tmp}/x.onnx"],
     _existing("x.onnx"), "already exists"),
    ("export-manifest-exists", [*EXPORT, "{inp}/run/student.pt", "--out", "{tmp}/x.onnx"],
     _existing("x.onnx.json"), "already exists"),
    ("teacher-out-exists", ["teacher", "--out", "{tmp}/t.pt"], _existing("t.pt"), "already exists"),
    ("teacher-config-beside-exists", ["teacher", "--out", "{tmp}/t.pt"], _existing("t.config.yaml"),
     "already exists"),
    ("distill-out-holds-a-run", [*DISTILL, "--teacher", "{inp}/teacher.pt"], _existing("d/student.pt"),
     "already holds a distill run"),
    ("run-only-export-on-empty-folder", ["run", "--out", "{tmp}/r", "--only", "export"], None,
     "run the earlier stages first"),
    ("run-from-verify-on-empty-folder", ["run", "--out", "{tmp}/r", "--from", "verify"], None,
     "run the earlier stages first"),
]


@pytest.mark.parametrize(("argv", "setup", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_is_refused_in_one_line(inputs, tmp_path, monkeypatch, capsys, argv, setup, message):
    monkeypatch.chdir(tmp_path)  # a payload that runs writes its marker here
    if setup is not None:
        setup(inputs, tmp_path)
    before = _tree(inputs, tmp_path)
    args = [a.format(inp=inputs, tmp=tmp_path) for a in argv]
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert "Traceback" not in err
    assert not (tmp_path / hf.MARKER).exists(), "code from a file ran"
    assert _tree(inputs, tmp_path) == before


def test_read_only_output_folder_is_refused_before_any_work(inputs, tmp_path, capsys):
    folder = _read_only_folder(tmp_path)
    if folder is None:
        pytest.skip("no folder here refuses new files to this user")
    for args in (["export", "--checkpoint", str(inputs / "run" / "student.pt"), "--out", str(folder / "x.onnx")],
                 ["teacher", "--out", str(folder / "t.pt")],
                 ["verify", "--artifact", str(inputs / "run" / "student.fp32.onnx"), "--out", str(folder / "v")],
                 ["distill", "--teacher", str(inputs / "teacher.pt"), "--out", str(folder / "d" / "run")]):
        with pytest.raises(SystemExit) as info:
            main(args)
        err = capsys.readouterr().err
        assert info.value.code == 2 and "not writable" in err and "Traceback" not in err, (args, err)
        assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("variable", ["DFARD_DISTILL_TRUST_CHECKPOINT", "DFARD_VERIFY_TRUST_CHECKPOINT"])
def test_the_environment_cannot_switch_on_trust(inputs, tmp_path, monkeypatch, capsys, variable):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, "1")
    command = variable.split("_")[1].lower()
    args = ([*DISTILL, "--teacher", "{inp}/evil.pt"] if command == "distill"
            else [*VERIFY, "--data", "synthetic", "--teacher", "{inp}/sympy.pt2"])
    with pytest.raises(SystemExit) as info:
        main([a.format(inp=inputs, tmp=tmp_path) for a in args])
    assert info.value.code == 2 and "--trust-checkpoint" in capsys.readouterr().err
    assert not (tmp_path / hf.MARKER).exists(), "code from a file ran"


@pytest.mark.parametrize("command", ["export", "teacher", "distill", "verify"])
def test_the_environment_cannot_switch_on_overwrite(inputs, tmp_path, monkeypatch, capsys, command):
    monkeypatch.setenv(f"DFARD_{command.upper()}_OVERWRITE", "1")
    args = {"export": [*EXPORT, "{inp}/run/student.pt", "--out", "{tmp}/x.onnx"],
            "teacher": ["teacher", "--out", "{tmp}/x.onnx"],
            "distill": [*DISTILL[:-1], "--teacher", "{inp}/teacher.pt", "--out", "{tmp}"],
            "verify": [*VERIFY[:3], "--out", "{tmp}", "--json", "{tmp}/x.onnx"]}[command]
    (tmp_path / "x.onnx").write_text("a good earlier result\n")
    (tmp_path / "student.pt").write_text("a good earlier result\n")
    before = _tree(tmp_path)
    with pytest.raises(SystemExit) as info:
        main([a.format(inp=inputs, tmp=tmp_path) for a in args])
    err = capsys.readouterr().err
    assert info.value.code == 2 and ("already" in err), err
    assert _tree(tmp_path) == before


def test_safe_pt2_loads_only_with_the_opt_in_and_trusted_pickles_load_on_request(inputs, tmp_path, monkeypatch):
    from dfard_pipeline.checkpoint import load_teacher

    monkeypatch.chdir(tmp_path)
    loaded = load_teacher(inputs / "safe.pt2", trust=True)
    assert loaded.source_format == "torch_export" and loaded.contract.shape == (1, 8, 8)
    assert not (tmp_path / hf.MARKER).exists()
    # The opt-in really is what it says: with it, the payload runs (this is why it is an opt-in).
    with pytest.raises(Exception):  # noqa: B017 - the payload's module is not a model: any failure after it ran
        load_teacher(inputs / "evil_weight.pt2", trust=True)
    assert (tmp_path / hf.MARKER).exists()
