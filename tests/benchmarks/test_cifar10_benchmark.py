"""benchmarks/cifar10.py is resumable: a finished run is skipped, AutoAttack is added to a result that
lacks it (in chunks whose verdicts are kept), and the training time survives a later invocation.
On a tiny slice of the CIFAR-10 JPEG copy and a one-epoch preset; the real benchmark is never a test."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def bench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cifar10.py"), "--data",
                           f"folder:{tmp_path / 'c10'}", "--work", str(tmp_path / "work"), "--results",
                           str(tmp_path / "results"), "--preset", str(tmp_path / "tiny.yaml"), *args],
                          capture_output=True, text=True, timeout=600)


def tiny_benchmark(tmp_path: Path, cifar_jpeg_slice, **distill) -> None:
    """A slice of the CIFAR-10 JPEG copy (20 train, 4 val images per class) and the preset cut to
    one teacher epoch and one distill epoch of ``distill``'s steps."""
    cifar_jpeg_slice(tmp_path / "c10", "train", 20)
    cifar_jpeg_slice(tmp_path / "c10", "val", 4)
    preset = yaml.safe_load((ROOT / "configs" / "cifar10_cpu.yaml").read_text())
    preset["teacher"].update(epochs=1, eval_n=20)
    preset["distill"].update(epochs=1, **distill)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(preset))


@pytest.mark.slow
def test_the_benchmark_resumes_and_adds_autoattack_later(tmp_path, cifar_jpeg_slice):
    tiny_benchmark(tmp_path, cifar_jpeg_slice, student_steps=2, generator_steps=1, memory_bank_batches=2)

    first = bench(tmp_path, "--aa-n", "0", "--runs", "teacher", "dfard-s0")
    assert first.returncode == 0, first.stderr[-2000:]
    result = json.loads((tmp_path / "results" / "dfard-s0.json").read_text())
    assert result["n"] == 40 and 0 <= result["pgd20"] <= result["clean"] and result["autoattack"] is None
    assert result["train_seconds"] > 0 and "+ dfard-pipeline teacher" in first.stderr

    second = bench(tmp_path, "--aa-n", "12", "--runs", "dfard-s0")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "+ dfard-pipeline" not in second.stderr  # nothing retrained
    added = json.loads((tmp_path / "results" / "dfard-s0.json").read_text())
    assert added["autoattack_n"] == 12 and added["train_seconds"] == result["train_seconds"]
    assert added["autoattack"] <= added["autoattack_clean"] and added["pgd20"] == result["pgd20"]
    (images, robust, clean), = added["autoattack_chunks"]  # the per-chunk counts the report's floors compare on
    assert images == 12 and robust == round(added["autoattack"] * 12) and clean == round(added["autoattack_clean"] * 12)
    bits = "".join(f"{byte:08b}" for byte in bytes.fromhex(added["autoattack_robust"]))[:12]
    assert bits.count("1") == robust  # each image's verdict, for the report's paired test
    chunks = list((tmp_path / "work" / "autoattack" / "dfard-s0").glob("*/*.npz"))
    assert len(chunks) == 1

    third = bench(tmp_path, "--aa-n", "12", "--runs", "dfard-s0")
    assert third.returncode == 0 and "dfard-s0: done" in third.stderr
    assert "dfard" in (tmp_path / "results.md").read_text()


@pytest.mark.slow
def test_one_table_holds_one_teacher_across_fresh_checkouts(tmp_path, cifar_jpeg_slice):
    tiny_benchmark(tmp_path, cifar_jpeg_slice, student_steps=1, generator_steps=1, memory_bank_batches=1)
    results = tmp_path / "results"

    first = bench(tmp_path, "--aa-n", "0", "--runs", "teacher", "dfard-s0")
    assert first.returncode == 0, first.stderr[-2000:]
    digest = json.loads((results / "teacher.json").read_text())["weights_sha256"]
    assert json.loads((results / "dfard-s0.json").read_text())["teacher_weights_sha256"] == digest

    shutil.rmtree(tmp_path / "work")  # a fresh checkout: the teacher is trained again, to the same weights
    second = bench(tmp_path, "--aa-n", "0", "--runs", "combo-s0")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "+ dfard-pipeline teacher" in second.stderr
    assert json.loads((results / "combo-s0.json").read_text())["teacher_weights_sha256"] == digest

    record = json.loads((results / "teacher.json").read_text())
    (results / "teacher.json").write_text(json.dumps({**record, "weights_sha256": "0" * 64}))
    third = bench(tmp_path, "--aa-n", "0", "--runs", "combo-s1")
    assert third.returncode == 2 and "is not the teacher of the results" in third.stderr
    assert "Traceback" not in third.stderr and not (results / "combo-s1.json").exists()
