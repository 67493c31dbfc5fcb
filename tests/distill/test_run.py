"""The distill stage end to end on a tiny budget (seconds), with the real components."""

import json

import pytest
import torch

from dfard_pipeline.artifacts.project_checkpoint import write_checkpoint
from dfard_pipeline.checkpoint import load_teacher
from dfard_pipeline.config import PipelineConfig, load_yaml, with_overrides
from dfard_pipeline.distill import trainer as trainer_module
from dfard_pipeline.distill.run import run_distill
from dfard_pipeline.distill.trainer import Interrupted
from dfard_pipeline.errors import CheckpointError, UsageError, ValidationError

TINY = {"distill.epochs": 2, "distill.generator_steps": 2, "distill.student_steps": 2,
        "distill.batch_size": 16, "distill.probe_size": 16, "distill.attack_steps": 2,
        "distill.memory_bank_batches": 2, "distill.nz": 8, "distill.ngf": 8}


def tiny(**extra):
    # deterministic: the tests below compare runs bit for bit, which a GPU repeats only with the switch
    # on (seen failing on an H200 without it); on a CPU it changes nothing
    return with_overrides(PipelineConfig(), {**TINY, "distill.deterministic": True, **extra})


@pytest.fixture
def teacher_path(tmp_path, digits_teacher):
    return write_checkpoint(digits_teacher, tmp_path / "teacher.pt", kind="teacher", eps=0.1)


def student_state(run_dir):
    return torch.load(run_dir / "student.pt", weights_only=True)["state_dict"]


def test_writes_the_run_folder(tmp_path, teacher_path, capsys):
    out = run_distill(tiny(), str(teacher_path), tmp_path / "runs" / "run", quiet=True)
    assert capsys.readouterr() == ("", "")  # a library call prints nothing: the result carries the summary
    assert out.summary and out.summary[0].startswith("distilled digits_cnn_student")
    for name in ("student.pt", "generator.pt", "metrics.jsonl", "config.resolved.yaml",
                 "checkpoints/last.pt"):
        assert (tmp_path / "runs" / "run" / name).is_file(), name
    lines = [json.loads(x) for x in (tmp_path / "runs" / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]
    for record in lines:
        assert 1.0 <= record["tau"] <= 10.0
        assert set(record["weights"]) == {"adv", "bn", "oh", "ent"}
        assert 0.0 <= record["robust_agreement"] <= 1.0 and record["wall_time"] > 0
    # where each epoch's time went, on the CPU: every phase timed, and together no more than the epoch
    first, second = lines
    assert {"probe", "generator", "student"} <= set(first["phase_seconds"])
    assert set(second["phase_seconds"]) == {"probe", "generator", "student", "checkpoint"}  # epoch 1's save
    assert 0 < sum(second["phase_seconds"].values()) <= second["wall_time"] - first["wall_time"] + 1e-3
    assert any(line.startswith("time by phase: student steps ") for line in out.summary)
    student = load_teacher(out.student)  # a student checkpoint loads like any project model
    assert student.contract.shape == (1, 8, 8) and student.eps == 0.1
    resolved = load_yaml(tmp_path / "runs" / "run" / "config.resolved.yaml", PipelineConfig)
    assert resolved == tiny()


def test_same_seed_same_student_and_other_seed_differs(tmp_path, teacher_path):
    config = tiny()  # deterministic: on a GPU the same seed repeats only with the switch on
    run_distill(config, str(teacher_path), tmp_path / "a", quiet=True)
    run_distill(config, str(teacher_path), tmp_path / "b", quiet=True)
    run_distill(with_overrides(config, {"seed": 1}), str(teacher_path), tmp_path / "c", quiet=True)
    a, b, c = (student_state(tmp_path / n) for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_both_memory_formats_train_the_same_student_up_to_rounding(tmp_path, teacher_path):
    """The layout changes kernels, not the maths: each layout is deterministic, and its student is
    a contiguous-loadable checkpoint whose weights stay near the other layout's."""
    states = {}
    for layout in ("channels_last", "contiguous"):
        config = tiny(**{"distill.memory_format": layout})
        runs = [run_distill(config, str(teacher_path), tmp_path / f"{layout}-{i}", quiet=True) for i in (0, 1)]
        assert [r.student for r in runs] == [tmp_path / f"{layout}-{i}" / "student.pt" for i in (0, 1)]
        first, repeat = (student_state(tmp_path / f"{layout}-{i}") for i in (0, 1))
        assert all(torch.equal(first[k], repeat[k]) for k in first)
        assert all(t.is_contiguous() for t in first.values())
        states[layout] = first
    a, b = states["channels_last"], states["contiguous"]
    for key in a:
        if a[key].is_floating_point():
            torch.testing.assert_close(a[key], b[key], rtol=0.05, atol=0.05, msg=key)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)"))])
def test_cuda_graphs_train_the_eager_student(tmp_path, teacher_path, device, monkeypatch):
    """distill.cuda_graphs replays the student step's PGD: on CUDA the same student up to rounding;
    on a CPU, where it does not apply, the same student bit for bit."""
    from dfard_pipeline.attacks.graphed_pgd import GraphedPGD

    replays = []
    original = GraphedPGD.__call__
    monkeypatch.setattr(GraphedPGD, "__call__", lambda self, *a: replays.append(1) or original(self, *a))
    states = {}
    for graphs in (False, True):
        config = tiny(**{"distill.device": device, "distill.cuda_graphs": graphs})
        run_distill(config, str(teacher_path), tmp_path / str(graphs), quiet=True)
        states[graphs] = student_state(tmp_path / str(graphs))
    eager, graphed = states[False], states[True]
    assert len(replays) == (0 if device == "cpu" else 2 * 2)  # epochs x student steps
    for key in eager:
        if device == "cpu":
            assert torch.equal(eager[key], graphed[key]), key
        elif eager[key].is_floating_point():
            torch.testing.assert_close(eager[key], graphed[key], rtol=0.05, atol=0.05, msg=key)


ADAPTIVE_CLASSES = {"distill.conditional_generator": True, "distill.class_sampling": "adaptive"}


@pytest.mark.parametrize("overrides", [{}, {"distill.student_ema": 0.9}, ADAPTIVE_CLASSES],
                         ids=["plain", "ema", "adaptive-classes"])
def test_interrupt_then_resume_matches_an_uninterrupted_run(tmp_path, teacher_path, monkeypatch, overrides):
    config = tiny(**overrides)
    run_distill(config, str(teacher_path), tmp_path / "straight", quiet=True)
    original = trainer_module.DistillTrainer._end_epoch
    calls = {"n": 0}

    def interrupt_after_first_epoch(self, state):
        original(self, state)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer_module.DistillTrainer, "_end_epoch", interrupt_after_first_epoch)
    with pytest.raises(Interrupted, match="--resume"):
        run_distill(config, str(teacher_path), tmp_path / "resumed", quiet=True)
    assert not (tmp_path / "resumed" / "student.pt").exists()
    run_distill(config, str(teacher_path), tmp_path / "resumed", resume=True, quiet=True)
    a, b = student_state(tmp_path / "straight"), student_state(tmp_path / "resumed")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_a_different_config(tmp_path, teacher_path):
    run_distill(tiny(), str(teacher_path), tmp_path / "run", quiet=True)
    with pytest.raises(CheckpointError, match="different teacher, student or config"):
        run_distill(tiny(**{"distill.lr_student": 0.5}), str(teacher_path), tmp_path / "run",
                    resume=True, quiet=True)


def test_existing_run_is_not_clobbered(tmp_path, teacher_path):
    run_distill(tiny(), str(teacher_path), tmp_path / "run", quiet=True)
    with pytest.raises(UsageError, match="--resume .* or --overwrite"):
        run_distill(tiny(), str(teacher_path), tmp_path / "run", quiet=True)


def test_a_second_distill_into_the_same_folder_is_refused(tmp_path, teacher_path):
    import os

    out = tmp_path / "run"
    lock = tmp_path / ".run.distill.lock"
    lock.write_text(str(os.getppid()))  # a live process (this test's parent) holds the folder
    with pytest.raises(UsageError, match="in use by another `dfard-pipeline distill`"):
        run_distill(tiny(), str(teacher_path), out, quiet=True)
    assert not out.exists() and lock.read_text() == str(os.getppid())
    lock.unlink()
    run_distill(tiny(), str(teacher_path), out, quiet=True)
    assert (out / "student.pt").is_file() and not lock.exists()


def test_with_data_the_student_learns_on_the_real_images(tmp_path, teacher_path, monkeypatch):
    from dfard_pipeline.distill import teacher_stats

    monkeypatch.setattr(teacher_stats, "HEALTH_RATIO_WARNING", -1.0)  # any generator would be warned about
    plain = run_distill(tiny(), str(teacher_path), tmp_path / "free", quiet=True)
    assert plain.warnings and "generator's samples stayed far" in plain.warnings[0]
    out = run_distill(tiny(**{"distill.data": "digits"}), str(teacher_path), tmp_path / "data", quiet=True)
    assert out.warnings == () and out.final["health_warning"] is None  # the generator's samples went unused
    records = [json.loads(x) for x in out.metrics.read_text().splitlines()]
    assert all(r["generator_terms"] == {} for r in records)  # no generator step ran
    free, real = student_state(tmp_path / "free"), student_state(tmp_path / "data")
    assert any(not torch.equal(free[k], real[k]) for k in free)  # the student learnt on other images


def test_distill_never_reads_a_dataset(tmp_path, teacher_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("distill read a dataset")

    monkeypatch.setattr("dfard_pipeline.data.load_dataset", forbidden)
    monkeypatch.setattr("dfard_pipeline.data.digits.load_digits_split", forbidden)
    monkeypatch.setattr("sklearn.datasets.load_digits", forbidden)
    run_distill(tiny(), str(teacher_path), tmp_path / "run", quiet=True)
    assert (tmp_path / "run" / "student.pt").exists()


def test_nan_loss_stops_with_step_and_term(tmp_path, teacher_path, monkeypatch):
    from dfard_pipeline.distill import steps

    real = steps.generator_terms

    def poisoned(*args, **kwargs):
        terms = real(*args, **kwargs)
        terms["bn"] = terms["bn"] * float("nan")
        return terms

    monkeypatch.setattr(steps, "generator_terms", poisoned)
    with pytest.raises(ValidationError, match=r"epoch 1, step 1, generator term 'bn'"):
        run_distill(tiny(), str(teacher_path), tmp_path / "run", quiet=True)


@pytest.mark.parametrize(("minutes", "steps_run"), [(2.0, 4), (1e-9, 3)])
def test_nan_student_loss_stops_naming_its_step_and_keeps_the_last_good_checkpoint(tmp_path, teacher_path,
                                                                                   monkeypatch, minutes, steps_run):
    """Student losses are read at the end of each epoch and before every save (pending_losses.py). A
    NaN at epoch 2's first student step (step 3: probe, 2 generator steps, then students) reaches the
    weights in memory; the error names that step, not a later one, and the checkpoint on disk holds
    finite weights from before it. With the default checkpoint interval the epoch's next student step
    still runs (read at the epoch's end); with saves due at every step, the save after step 3 reads
    first and nothing runs after it."""
    import dataclasses

    from dfard_pipeline.distill.student_loss import STUDENT_LOSSES

    real = STUDENT_LOSSES.get("rslad")
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss = real.loss(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(trainer_module.STUDENT_LOSSES, "get", lambda name: dataclasses.replace(real, loss=poisoned))
    with pytest.raises(ValidationError, match=r"non-finite loss \(nan\) at epoch 2, step 3, student loss 'rslad'"):
        run_distill(tiny(**{"distill.checkpoint_minutes": minutes}), str(teacher_path), tmp_path / "run",
                    quiet=True)
    assert calls["n"] == steps_run
    [checkpoint] = tmp_path.rglob("last.pt")
    state = torch.load(checkpoint, weights_only=True)
    assert state["loop"]["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in state["student"].values() if t.is_floating_point())
    assert not (tmp_path / "run" / "student.pt").exists()


@pytest.mark.parametrize("method", ["combo", "combo+ita", "combo+agb"])
def test_baseline_methods_run_and_use_their_rules(tmp_path, teacher_path, method):
    run_distill(tiny(**{"distill.method": method}), str(teacher_path), tmp_path / "run", quiet=True)
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    cfg = PipelineConfig().distill
    if "ita" not in method:
        assert record["tau"] == cfg.fixed_tau
    if "agb" not in method:
        assert record["weights"]["ent"] == cfg.fixed_weights.ent


def test_relative_agreement_attacks_the_teacher_on_the_probe_and_logs_its_agreement(tmp_path, teacher_path):
    run_distill(tiny(**{"distill.agreement": "relative"}), str(teacher_path), tmp_path / "run", quiet=True)
    for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        assert 0.0 <= record["teacher_agreement"] <= 1.0
        relative = min(1.0, record["robust_agreement"] / max(record["teacher_agreement"], 1e-6))
        assert record["tau"] == pytest.approx(1.0 + 9.0 * (1.0 - relative))
    run_distill(tiny(), str(teacher_path), tmp_path / "absolute", quiet=True)
    assert "teacher_agreement" not in (tmp_path / "absolute" / "metrics.jsonl").read_text()


@pytest.mark.parametrize(("key", "other"), [("agreement", {"distill.agreement": "relative"}),
                                             ("synthetic_augment", {"distill.synthetic_augment": "flip_crop"}),
                                             ("class_sampling", ADAPTIVE_CLASSES),
                                             ("class_weighting", {"distill.class_weighting": "adaptive"})])
def test_a_checkpoint_from_before_a_later_setting_still_resumes(monkeypatch, key, other):
    """``distill.agreement``, ``synthetic_augment``, ``class_sampling`` and ``class_weighting`` came after
    checkpoints were written: at their defaults they leave the fingerprint as it was, set otherwise they
    change it."""
    from dfard_pipeline.distill import run as run_module

    before = run_module.to_dict
    now = run_module._fingerprint(tiny(), "sha", 1)
    assert run_module._fingerprint(tiny(**other), "sha", 1) != now
    monkeypatch.setattr(run_module, "to_dict", lambda config: {k: v for k, v in before(config).items() if k != key})
    assert run_module._fingerprint(tiny(), "sha", 1) == now


@pytest.mark.parametrize("overrides", [ADAPTIVE_CLASSES, {"distill.class_weighting": "adaptive"}],
                         ids=["sampling", "weighting"])
def test_adaptive_classes_steer_dfard_and_leave_combo_uniform(tmp_path, teacher_path, overrides):
    config = tiny(**overrides, **{"distill.epochs": 3})
    run_distill(config, str(teacher_path), tmp_path / "dfard", quiet=True)
    records = [json.loads(line) for line in (tmp_path / "dfard" / "metrics.jsonl").read_text().splitlines()]
    for record in records:  # the probe attacked the teacher too; the agreement ITA and AGB read is still absolute
        assert 0.0 <= record["teacher_agreement"] <= 1.0
        assert record["agb_beta"] == pytest.approx(min(0.9, max(0.1, record["robust_agreement"])))
        p = record["class_probabilities"]
        assert p is None or (len(p) == 10 and sum(p) == pytest.approx(1.0) and min(p) > 0)
    assert any(record["class_probabilities"] is not None for record in records)
    run_distill(with_overrides(config, {"distill.method": "combo"}), str(teacher_path), tmp_path / "combo", quiet=True)
    text = (tmp_path / "combo" / "metrics.jsonl").read_text()
    assert "class_probabilities" not in text and "teacher_agreement" not in text


@pytest.mark.slow
def test_kill_9_then_resume_finishes(tmp_path, teacher_path):
    import signal
    import subprocess
    import sys
    import time

    import yaml

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"distill": {
        "epochs": 40, "generator_steps": 2, "student_steps": 5, "batch_size": 32, "probe_size": 16,
        "attack_steps": 2, "nz": 8, "ngf": 8, "device": "cpu"}}))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "dfard_pipeline", "distill", "--teacher", str(teacher_path),
           "--out", str(out), "--config", str(config), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (out / "checkpoints" / "last.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "student.pt").exists(), "killed too late: the run had already finished"
    done_before = len((out / "metrics.jsonl").read_text().splitlines())
    resumed = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == list(range(1, 41))
    assert done_before >= 1 and (out / "student.pt").exists()


def test_weight_average_is_the_output(tmp_path, teacher_path):
    run_distill(tiny(), str(teacher_path), tmp_path / "plain", quiet=True)
    run_distill(tiny(**{"distill.student_ema": 0.5}), str(teacher_path), tmp_path / "ema", quiet=True)
    plain, averaged = student_state(tmp_path / "plain"), student_state(tmp_path / "ema")
    weights = [k for k in plain if k.endswith("weight")]
    assert not all(torch.equal(plain[k], averaged[k]) for k in weights)
    assert all(torch.equal(plain[k], averaged[k]) for k in plain if "running" in k)


def test_out_that_is_a_file_is_refused(tmp_path, teacher_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        run_distill(tiny(), str(teacher_path), tmp_path / "file", quiet=True)


def test_generator_adv_term_on_fgsm_inputs_runs(tmp_path, teacher_path):
    terms = {}
    for inputs in ("clean", "fgsm"):
        out = run_distill(tiny(**{"distill.generator_adv_inputs": inputs}), str(teacher_path), tmp_path / inputs,
                          quiet=True)
        terms[inputs] = json.loads(out.metrics.read_text().splitlines()[0])["generator_terms"]["adv"]
    # the same seed, the first epoch: only what the adv term compares on differs, so its value must too;
    # an FGSM step against the student can only widen the teacher-student disagreement the term negates
    assert terms["fgsm"] != terms["clean"] and terms["fgsm"] < terms["clean"] < 0.0, terms


def test_flip_crop_runs_end_to_end_and_changes_what_the_generator_step_measures(tmp_path, teacher_path):
    terms = {}
    for kind in ("none", "flip_crop"):
        out = run_distill(tiny(**{"distill.synthetic_augment": kind}), str(teacher_path), tmp_path / kind, quiet=True)
        terms[kind] = json.loads(out.metrics.read_text().splitlines()[0])["generator_terms"]
        assert out.student.is_file()
    assert terms["flip_crop"]["oh"] != terms["none"]["oh"], terms  # the teacher saw other images


def _tree(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_overwrite_interrupted_leaves_the_old_run_exactly_and_resume_swaps_it_in(tmp_path, teacher_path, monkeypatch):
    from dfard_pipeline.distill.run import staging_dir

    run_dir = tmp_path / "run"
    run_distill(tiny(), str(teacher_path), run_dir, quiet=True)
    old = _tree(run_dir)
    original = trainer_module.DistillTrainer._end_epoch

    def interrupt(self, state):
        original(self, state)
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer_module.DistillTrainer, "_end_epoch", interrupt)
    new_config = tiny(**{"seed": 1})
    with pytest.raises(Interrupted, match=r"\.run\.overwrite"):
        run_distill(new_config, str(teacher_path), run_dir, overwrite=True, quiet=True)
    assert _tree(run_dir) == old  # byte for byte: the good run is untouched
    assert (staging_dir(run_dir) / "checkpoints" / "last.pt").is_file()
    monkeypatch.setattr(trainer_module.DistillTrainer, "_end_epoch", original)
    run_distill(new_config, str(teacher_path), run_dir, resume=True, quiet=True)
    assert not staging_dir(run_dir).exists() and not run_dir.with_name(".run.replaced").exists()
    run_distill(new_config, str(teacher_path), tmp_path / "straight", quiet=True)
    a, b = student_state(run_dir), student_state(tmp_path / "straight")
    assert all(torch.equal(a[k], b[k]) for k in a)  # the resumed overwrite is the seed-1 run


@pytest.mark.slow
def test_overwrite_that_fails_keeps_the_old_run(tmp_path, teacher_path, monkeypatch):
    run_dir = tmp_path / "run"
    run_distill(tiny(), str(teacher_path), run_dir, quiet=True)
    old = _tree(run_dir)

    def diverge(*args, **kwargs):
        raise ValidationError("non-finite loss (nan) at epoch 1, step 3")

    monkeypatch.setattr(trainer_module, "student_step", diverge)
    with pytest.raises(ValidationError):
        run_distill(tiny(**{"seed": 2}), str(teacher_path), run_dir, overwrite=True, quiet=True)
    assert _tree(run_dir) == old


@pytest.mark.parametrize("fmt", ["pt2", "torchscript"])
def test_portable_teachers_distill_with_a_finite_bn_term(tmp_path, digits_teacher, fmt):
    example = torch.rand(2, 1, 8, 8)
    if fmt == "pt2":
        program = torch.export.export(digits_teacher, (example,),
                                      dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
        torch.export.save(program, str(tmp_path / "teacher.pt2"))
        path = tmp_path / "teacher.pt2"
    else:
        torch.jit.trace(digits_teacher, example).save(str(tmp_path / "teacher.ts"))
        path = tmp_path / "teacher.ts"
    said = []
    out = run_distill(tiny(**{"teacher.input_shape": [1, 8, 8]}), str(path), tmp_path / "run", quiet=True,
                      log=said.append, trust=fmt == "pt2")
    assert any(line.startswith("feature-statistics prior: bn over 3 BatchNorm layers") for line in said), said
    records = [json.loads(line) for line in out.metrics.read_text().splitlines()]
    for record in records:
        assert set(record["weights"]) == {"adv", "bn", "oh", "ent"}
        bn = record["generator_terms"]["bn"]
        assert bn > 0 and bn == bn and bn != float("inf")
        assert record["health"]["bn_distance"] > 0 and 0 < record["health"]["class_coverage"] <= 1
    prior = torch.load(out.student, weights_only=True)["metrics"]["feature_prior"]
    assert prior["prior"] == "bn" and prior["layers"] == 3 and prior["used"] is True


def test_a_teacher_without_batch_norm_is_warned_about(tmp_path):
    class LayerNormTeacher(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.LayerNorm(32),
                                            torch.nn.ReLU(), torch.nn.Linear(32, 10))

        def forward(self, x):
            return self.body(x)

    program = torch.export.export(LayerNormTeacher().eval(), (torch.rand(2, 1, 8, 8),),
                                  dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    torch.export.save(program, str(tmp_path / "teacher.pt2"))
    said = []
    out = run_distill(tiny(), str(tmp_path / "teacher.pt2"), tmp_path / "run", quiet=True, log=said.append,
                      trust=True)
    warning = [line for line in said if line.startswith("warning: no feature-statistics prior")]
    assert len(warning) == 1 and "layer_norm" in warning[0] and "weaker student" in warning[0]
    record = json.loads(out.metrics.read_text().splitlines()[-1])
    assert set(record["weights"]) == {"adv", "oh", "ent"} and record["health"]["bn_distance"] is None
    assert torch.load(out.student, weights_only=True)["metrics"]["feature_prior"]["prior"] is None
