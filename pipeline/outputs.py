"""Where each command writes when ``--out`` is not given, the names of the files in a run folder, and
whether a command may write where it was asked: decided here, once, for the CLI, the stages of
``run`` and the library (export's default artifact path). Imports nothing heavy, so ``--help`` stays
fast."""

from __future__ import annotations

from pathlib import Path

TEACHER = Path("teacher.pt")  # dfard-pipeline teacher, and run's teacher stage
# the files of a distill run folder (their formats: artifacts.project_checkpoint, artifacts.generator_file)
STUDENT_FILE = "student.pt"
GENERATOR_FILE = "generator.pt"
DISTILL = Path("runs") / "distill"  # dfard-pipeline distill
SUFFIX = {"onnx": ".onnx", "tensorrt": ".engine"}  # export format -> artifact suffix


# the folders of a `run` folder, one per stage that writes more than one file
RUN_DISTILL = "distill"
RUN_EXPORT = "export"


def artifact_name(stem: str, precision: str, fmt: str) -> str:
    """``student`` + int8 + onnx -> ``student.int8.onnx``: the artifact name export and run use."""
    return f"{stem}.{precision}{SUFFIX[fmt]}"


def run_student(run: Path) -> Path:
    """RUN/distill/student.pt: the student a `run` folder's distill stage wrote."""
    return run / RUN_DISTILL / STUDENT_FILE


def run_artifact(run: Path, precision: str, fmt: str = "onnx") -> Path:
    """RUN/export/student.fp32.onnx and its kin: an artifact a `run` folder's export stage wrote."""
    return run / RUN_EXPORT / artifact_name("student", precision, fmt)


def export_out(student: Path, precision: str, fmt: str) -> Path:
    """Export's artifact beside the checkpoint it came from."""
    return student.with_name(artifact_name(student.stem, precision, fmt))


def verify_out(artifact: Path, device: str, data: str | None = None) -> Path:
    """verify.json and verify.md: a folder beside the artifact, named for it, the device profile (a
    profile file by its stem) and, for generator data, ``synthetic`` (a second verify of the same
    artifact on other data must not collide with the first); only letters, digits, ``.``, ``_``, ``-``."""
    name = f"verify-{artifact.name}-{device_label(device)}" + ("-synthetic" if data == "synthetic" else "")
    return artifact.with_name(safe_name(name))


def device_label(device: str) -> str:
    """A device profile as it appears in folder names: a profile file by its stem, a name as it is."""
    return Path(device).stem if device.endswith((".yaml", ".yml")) else device


def safe_name(name: str) -> str:
    """``name`` with anything but letters, digits, ``.``, ``_`` and ``-`` replaced: never a path."""
    import re

    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def run_out(config_path: Path) -> Path:
    """run's folder: ``runs/CONFIG_NAME``."""
    return Path("runs") / config_path.stem


def check_output(path: Path, overwrite: bool, inputs: tuple[Path, ...] = ()) -> Path:
    """Refuse, before any work, an output that exists (without ``overwrite``), that is one of the
    command's ``inputs``, or that cannot be written (missing or read-only folder)."""
    from dfard_pipeline.atomic import folder_writable
    from dfard_pipeline.errors import UsageError

    path = Path(path)
    for source in inputs:
        if source is not None and Path(source).resolve() == path.resolve():
            raise UsageError(f"{path} is also an input of this command; choose another output path")
    if path.is_dir():
        raise UsageError(f"{path} is a folder; name a file")
    if path.exists() and not overwrite:
        raise UsageError(f"{path} already exists; pass --overwrite to replace it")
    if not folder_writable(path.parent):  # a missing folder is made when the output is written
        raise UsageError(f"cannot write {path}: its folder is not writable")
    return path
