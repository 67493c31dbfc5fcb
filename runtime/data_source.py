"""The labelled set verify measures on: a real one (digits, cifar10:PATH, npz:PATH), or
``synthetic``: the distill run's generator labelled by the teacher, the data-free user's only option
(the report says so: accuracy on synthetic data is agreement with the teacher, not real accuracy)."""

from __future__ import annotations

from pathlib import Path

import torch

from dfard_pipeline.data import LabelledSet, load_dataset
from dfard_pipeline.errors import UsageError

SYNTHETIC_DEFAULT_N = 512


def _teacher(meta: dict, teacher: Path | None, trust: bool):
    """The teacher: ``--teacher``, else the one the student records (its ``meta``), read as distill
    read it (``teacher_hints``)."""
    from dfard_pipeline.checkpoint.teacher_loader import load_teacher, teacher_hints

    hints = teacher_hints(meta)
    if teacher is not None:
        return load_teacher(teacher, trust=trust, **hints)
    recorded = meta.get("teacher_path")
    if isinstance(recorded, str) and Path(recorded).is_file():
        return load_teacher(recorded, trust=trust, **hints)
    raise UsageError("--data synthetic labels generator samples with the teacher: pass --teacher PATH "
                     "(the student does not record a teacher that exists here)")


def load_verify_data(spec: str, n: int | None, reference_path: Path, reference_meta: dict, teacher: Path | None,
                     seed: int, trust_teacher: bool = False) -> tuple[LabelledSet, str | None]:
    """The first ``n`` samples of the set (all when None), and a note for the report, if any.
    ``reference_meta``: the loaded reference checkpoint's meta (which teacher, and how it was read)."""
    if n is not None and n < 1:
        raise UsageError(f"--n must be >= 1, got {n}")
    if spec != "synthetic":
        data = load_dataset(spec, "test")
        return data.subset(n, seed), None
    from dfard_pipeline.artifacts.generator_file import generator_beside, generator_samples, read_generator

    generator_path = generator_beside(reference_path)
    if not generator_path.is_file():
        raise UsageError(f"--data synthetic needs the distill run's generator beside the reference "
                         f"({generator_path} is missing)")
    generator = read_generator(generator_path)
    teacher = _teacher(reference_meta, teacher, trust_teacher)
    x = torch.from_numpy(generator_samples(generator, n or SYNTHETIC_DEFAULT_N, seed + 3))
    with torch.no_grad():
        y = teacher.module(x).argmax(1)
    note = ("data is synthetic: generator samples labelled by the teacher; accuracies are agreement with the "
            "teacher on those samples, not accuracy on real data")
    return LabelledSet("synthetic", x, y, teacher.contract.num_classes), note
