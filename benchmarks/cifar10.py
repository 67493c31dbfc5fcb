"""CIFAR-10 (JPEG copy): the method at the scale users work at, on 2 CPU cores, resumable.

    python benchmarks/cifar10.py --data folder:data/cifar10            # every run below
    python benchmarks/cifar10.py --data folder:data/cifar10 --runs teacher dfard-s0 combo-s0
    python benchmarks/cifar10.py --data folder:data/cifar10 --report   # tables from what is done

Runs, each with the preset's budget (configs/cifar10_cpu.yaml) unless its name says otherwise:
``teacher`` (ResNet-20, fast AT; shared), ``dfard-s{0,1,2}`` and ``combo-s{0,1,2}`` (ResNet-8,
data-free), ``withdata-s0`` (the same distillation on the real train images: the upper bound),
``at-s0`` (ResNet-8 adversarially trained on train, no teacher, the teacher's recipe),
``dfard4x-s0`` (4x the distill epochs), and, not in the default list, ``combo4x-s0`` (its combo twin)
and ``dfardrel-s0`` (ITA and AGB read the agreement relative to the teacher's own:
``distill.agreement: relative``); ``int8-s0`` (dfard-s0
exported to ONNX FP32 and INT8 and verified on ONNX Runtime with the standard suite). The preset's
distill choices one at a time, not in the default list and best run with ``--aa-n 0`` (``VARIANTS``):
``dfardnobank-s0`` (no memory bank), ``dfardatk1-s0`` / ``dfardatk5-s0`` (a 1- or 5-step attack),
``dfardgen6-s0`` (3x the generator steps), ``dfardouter-s0`` (ITA's tau on both loss terms),
``dfardard-s0`` (the ARD student loss), ``dfardgenfgsm-s0`` (the generator's ``adv`` term on an FGSM step),
``dfardsharp-s0`` (the adversarial term's teacher labels at tau 0.5; ``combosharp-s0`` its combo twin),
``dfardnorm-s0`` (AGB's normalising rule), ``dfardent-s0`` (ITA's entropy-matching rule),
``dfardbn4-s0``, ``dfardglr5-s0``, ``dfardgen10-s0`` and ``dfardoh5-s0`` (the generator's training: its
``bn`` term 4x, its learning rate 5x, 5x its steps, its ``oh`` term 5x), ``dfardb128-s0`` (batch 128
for half the epochs: the preset until 2026-12-07, whose table is archived in benchmarks/results/cifar10_b128*), and
``combob128-s0`` and ``withdatab128-s0``, its combo and with-data twins. Each run records where its
distill time went: ``metrics.jsonl``'s ``phase_seconds`` (probe, generator, student steps,
checkpoints), summed per run in the report.

Every model is measured on ``val`` (data the training never saw): clean and PGD-20 on all of it,
AutoAttack standard (pyautoattack) on a seeded class-stratified subset (``--aa-n``, 1000).
Work goes to ``--work`` (runs/cifar10_bench, outside git); a finished run is skipped, an
interrupted distill resumes from its checkpoint, AutoAttack runs in resumable class-balanced chunks
(``--aa-chunk``, 100 images) and is added to a finished run's result when that has fewer images
than ``--aa-n`` (rewritten after every chunk: a partial evaluation is a smaller stratified one, its
size in ``autoattack_n``; ``--aa-chunks K`` attacks at most K new chunks per run), each result is
written as it is made (benchmarks/results/cifar10/*.json) and the tables (benchmarks/results/cifar10.md) are rebuilt
from whatever results exist. One table holds one teacher: ``teacher.json`` keeps its weights hash,
each student result the hash of the teacher it was distilled from; a work folder without the teacher
(a fresh checkout) trains it again (seeded, so the same weights on the same torch and threads), and
a teacher with other weights stops the benchmark. Label every number "CIFAR-10 (JPEG copy)".
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from machine import command_line, describe, machine_info  # noqa: E402

PRESET = ROOT / "configs" / "cifar10_cpu.yaml"
RESULTS = HERE / "results" / "cifar10"
EPS = 8 / 255
AA_CHUNK = 100  # AutoAttack images per resumable piece (--aa-chunk; a few minutes each for ResNet-8 on 2 cores)
ALL_RUNS = ("teacher", "dfard-s0", "combo-s0", "withdata-s0", "at-s0", "dfard-s1", "combo-s1", "dfard-s2",
            "combo-s2", "int8-s0", "dfard4x-s0")


def cli(*args: str) -> None:
    """One dfard-pipeline command, its progress lines passed through; a failure stops the benchmark."""
    command = [sys.executable, "-m", "dfard_pipeline", *args]
    print("+ dfard-pipeline " + " ".join(args), file=sys.stderr, flush=True)
    subprocess.run(command, check=True)


def preset_section(section: str) -> dict:
    """One section of the preset every run starts from (``--preset``)."""
    import yaml

    return yaml.safe_load(PRESET.read_text())[section]


def preset(section: str, key: str):
    """One setting of the preset every run starts from (``--preset``)."""
    return preset_section(section)[key]


def method_of(kind: str) -> str:
    """The distill method a run kind belongs to: ``combo`` or ``withdata`` by its prefix, else ``dfard``."""
    return next((m for m in ("combo", "withdata") if kind.startswith(m)), "dfard")


def distill_args(name: str, work: Path, data: str) -> list[str]:
    """The distill command of a student run: method, seed, budget and (after ``@``) another student
    architecture than the preset's, from its name: ``dfard-s0``, ``combo-s1``, ``dfard@mobilenet_v2-s0``."""
    kind, seed = name.rsplit("-s", 1)
    kind, _, student = kind.partition("@")
    args = ["distill", "--config", str(variant_config(kind, work)), "--teacher", str(work / "teacher.pt"),
            "--out", str(work / name), "--seed", seed, "--quiet", *(["--student", student] if student else [])]
    method = method_of(kind)
    if method == "combo":
        args += ["--method", "combo"]
    if method == "withdata":
        args += ["--data", data]
    if kind.endswith("4x"):
        args += ["--epochs", str(4 * preset("distill", "epochs"))]
    if (work / name / "checkpoints" / "last.pt").is_file():
        args.append("--resume")
    return args


# Runs that change the preset's distill section, by kind: the settings changed and the report's label.
VARIANTS = {
    "dfardrel": ({"agreement": "relative"},
                 "dfard, agreement relative to the teacher's own (`distill.agreement: relative`)"),
    "dfardouter": ({"ita_scope": "outer"},
                   "dfard, ITA's tau on both loss terms (`distill.ita_scope: outer`; the inner attack at tau 1)"),
    "dfardard": ({"student_loss": "ard"},
                 "dfard with the ARD student loss (the teacher's argmax as the clean term's and the attack's label)"),
    "dfardgenfgsm": ({"generator_adv_inputs": "fgsm"},
                     "dfard, the generator's `adv` term on an FGSM step against the student"),
    "dfardsharp": ({"adv_tau": 0.5},
                   "dfard, the adversarial term's teacher labels sharpened (`distill.adv_tau: 0.5`)"),
    "combosharp": ({"adv_tau": 0.5}, "combo, the adversarial term's teacher labels sharpened (`distill.adv_tau: 0.5`)"),
    "dfardnorm": ({"agb_rule": "hardness_information"},
                  "dfard, AGB normalising each generator term by its running size (`agb_rule: hardness_information`)"),
    "dfardent": ({"ita_rule": "entropy_match"},
                 "dfard, ITA matching the teacher's entropy to the student's under attack (`ita_rule: entropy_match`)"),
    "dfardaug": ({"synthetic_augment": "flip_crop"},
                 "dfard, synthetic images flipped and shifted (`distill.synthetic_augment: flip_crop`)"),
    "comboaug": ({"synthetic_augment": "flip_crop"},
                 "combo, synthetic images flipped and shifted (`distill.synthetic_augment: flip_crop`)"),
    "dfardcond": ({"conditional_generator": True},
                  "dfard, a class-conditional generator (`distill.conditional_generator: true`), classes uniform"),
    "dfardcondcls": ({"conditional_generator": True, "class_sampling": "adaptive"},
                     "dfard, a class-conditional generator, AGB drawing more of the classes the student keeps "
                     "least (`distill.class_sampling: adaptive`)"),
    "combocond": ({"conditional_generator": True}, "combo, a class-conditional generator"),
    "dfardadv0": ({"fixed_weights": {"adv": 0.0}},
                  "dfard without the generator's hardness term (`distill.fixed_weights.adv: 0`)"),
    "dfardadv2": ({"fixed_weights": {"adv": 2.0}},
                  "dfard, the generator's hardness term at twice its weight (`distill.fixed_weights.adv: 2`)"),
    "dfardclsw": ({"class_weighting": "adaptive"},
                  "dfard, ITA weighting the student loss by class, more where the student keeps least "
                  "(`distill.class_weighting: adaptive`)"),
    "dfardbn4": ({"fixed_weights": {"bn": 4.0}},
                 "dfard, the generator's feature-statistics term at 4x its weight (`distill.fixed_weights.bn: 4`)"),
    "dfardglr5": ({"lr_generator": 0.005}, "dfard, the generator's learning rate 5x (`distill.lr_generator: 0.005`)"),
    "dfardgen10": ({"generator_steps": 10}, "dfard, 10 generator steps per 25 student steps (5x)"),
    "dfardoh5": ({"fixed_weights": {"oh": 5.0}},
                 "dfard, the generator's class-confidence term at 5x its weight (`distill.fixed_weights.oh: 5`)"),
    "dfardnobank": ({"memory_bank_batches": 0}, "no memory bank (every batch fresh, the teacher on all of it)"),
    "dfardatk1": ({"attack_steps": 1, "attack_step_size": 10 / 255}, "1-step attack (FGSM, random start, 10/255)"),
    "dfardatk5": ({"attack_steps": 5, "attack_step_size": 2 / 255}, "5-step attack (PGD-5, 2/255)"),
    "dfardgen6": ({"generator_steps": 6}, "6 generator steps per 25 student steps (3x)"),
    "dfardb128": ({"batch_size": 128, "epochs": 60}, "batch 128 for 60 epochs (the same images, half the steps)"),
    "combob128": ({"batch_size": 128, "epochs": 60}, "combo, batch 128 for 60 epochs"),
    "withdatab128": ({"batch_size": 128, "epochs": 60}, "upper bound with data, batch 128 for 60 epochs"),
}


def variant_config(kind: str, work: Path) -> Path:
    """The preset, or for a kind in ``VARIANTS`` the preset with that kind's distill settings
    (written into the work folder as ``KIND.config.yaml``)."""
    if kind not in VARIANTS:
        return PRESET
    import yaml

    from dfard_pipeline.atomic import write_text_atomic

    config = yaml.safe_load(PRESET.read_text())
    config["distill"].update(VARIANTS[kind][0])
    path = work / f"{kind}.config.yaml"
    write_text_atomic(path, yaml.safe_dump(config, sort_keys=False))
    return path


def _trained(name: str, work: Path, path: Path, command: list[str]) -> tuple[Path, float | None]:
    """Run ``command`` unless ``path`` exists; the training seconds are kept beside the work folder's
    model (``NAME.train.json``) so that a later invocation still reports them (None: not recorded)."""
    record = work / f"{name}.train.json"
    if not path.is_file():
        started = time.perf_counter()
        cli(*command)
        record.write_text(json.dumps({"seconds": time.perf_counter() - started}))
    return path, json.loads(record.read_text())["seconds"] if record.is_file() else None


def train(name: str, work: Path, data: str) -> tuple[Path, float | None]:
    """The model file of run ``name`` and its training seconds, trained unless it is there already."""
    if name == "teacher":
        return _trained(name, work, work / "teacher.pt", ["teacher", "--config", str(PRESET), "--data", data, "--out",
                                                          str(work / "teacher.pt"), "--quiet"])
    if name.startswith("at-"):
        path = work / f"{name}.pt"
        return _trained(name, work, path, ["teacher", "--config", str(PRESET), "--data", data, "--arch",
                                           preset("distill", "student"),
                                           "--seed", name.rsplit("-s")[1], "--out", str(path), "--quiet"])
    path = work / name / "student.pt"
    if path.is_file() or not (work / name / "checkpoints" / "last.pt").is_file():
        return _trained(name, work, path, distill_args(name, work, data))
    # an interrupted distill resumes; its seconds are those of the last part only, so they are not recorded
    cli(*distill_args(name, work, data))
    return path, None


def model_weights(path: Path) -> str:
    """The sha256 of a model file's weights (not of the file: a re-saved checkpoint keeps it)."""
    from dfard_pipeline.artifacts.provenance import weights_sha256
    from dfard_pipeline.checkpoint import load_teacher

    return weights_sha256(load_teacher(path).module)


def shared_teacher(work: Path, data: str) -> str:
    """The weights hash of the teacher every student run distils from, trained first where the work
    folder lacks it (a fresh checkout has none). One table holds one teacher: where ``teacher.json``
    records another hash the benchmark stops (exit 2) rather than mix teachers; where it records none
    yet (results made before the hash was kept), this teacher's is recorded."""
    from dfard_pipeline.atomic import write_json_atomic

    path, _ = train("teacher", work, data)
    digest = model_weights(path)
    record = RESULTS / "teacher.json"
    result = json.loads(record.read_text()) if record.is_file() else None
    if result is not None and result.get("weights_sha256") is None:
        print(f"cifar10: {record} keeps no weights hash yet; recording {path}'s", file=sys.stderr)
        write_json_atomic(record, {**result, "weights_sha256": digest})
    elif result is not None and result["weights_sha256"] != digest:
        print(f"cifar10: {path} is not the teacher of the results in {RESULTS} (weights sha256 {digest[:12]}, "
              f"theirs {result['weights_sha256'][:12]}): bring that teacher back, or pass another --results",
              file=sys.stderr)
        sys.exit(2)
    return digest


def evaluate(model_path: Path, data: str, seed: int = 0) -> dict:
    """Clean and PGD-20 on all of val."""
    import torch

    from dfard_pipeline.attacks import ATTACKS
    from dfard_pipeline.checkpoint import load_teacher
    from dfard_pipeline.data import load_dataset

    model = load_teacher(model_path).module.eval()
    val = load_dataset(data, "test")
    generator = torch.Generator().manual_seed(seed)
    clean, pgd = [], []
    started = time.perf_counter()
    for start in range(0, len(val), 500):
        x, y = val.x[start:start + 500], val.y[start:start + 500]
        with torch.no_grad():
            clean.append(model(x).argmax(1) == y)
        x_adv = ATTACKS.get("pgd20")(model, x, y, EPS, generator=generator)
        with torch.no_grad():
            pgd.append(model(x_adv).argmax(1) == y)
    return {"clean": float(torch.cat(clean).float().mean()), "pgd20": float(torch.cat(pgd).float().mean()),
            "n": len(val), "eps": EPS, "eval_seconds": time.perf_counter() - started}


def round_robin(y) -> list[int]:
    """Indices of ``y`` taking the first image of every class, then the second of every class, and so
    on: every run of ``AA_CHUNK`` images is about class-balanced, so the chunks done so far are a
    stratified subset of the whole (the subset itself is sorted by class)."""
    rank, seen = [], {}
    for label in y.tolist():
        rank.append(seen.get(label, 0))
        seen[label] = rank[-1] + 1
    return sorted(range(len(rank)), key=lambda i: (rank[i], int(y[i])))


def autoattack(model_path: Path, data: str, aa_n: int, chunks: Path, new_chunks: int | None = None, seed: int = 0):
    """AutoAttack standard (pyautoattack) on ``aa_n`` seeded class-stratified val images, in chunks of
    ``AA_CHUNK`` whose per-image verdicts are kept in ``chunks``: an interrupted evaluation resumes at
    the first chunk not done; at most ``new_chunks`` are attacked in this call (None: all). Yields the
    result over the chunks done so far after each chunk (the chunks are class-balanced, see
    ``round_robin``), so a partial evaluation is a smaller stratified one. AutoAttack judges each
    image on its own, so chunks measure what one call would (only the attacks' random starts
    differ). Chunk files are named by the model's sha256."""
    import numpy as np
    import torch

    from dfard_pipeline.artifacts.provenance import file_sha256
    from dfard_pipeline.checkpoint import load_teacher
    from dfard_pipeline.data import load_dataset
    from dfard_pipeline.runtime.autoattack import autoattack_examples

    model = load_teacher(model_path).module.eval()
    subset = load_dataset(data, "test").subset(aa_n, seed)
    order = torch.tensor(round_robin(subset.y))
    x_all, y_all = subset.x[order], subset.y[order]
    chunks = chunks / file_sha256(model_path)[:12]
    chunks.mkdir(parents=True, exist_ok=True)
    counts, seconds = [], 0.0  # per chunk, in order (the same images for every model): images, robust, clean
    verdicts = []  # per chunk, each image's AutoAttack verdict, for the paired comparison in the report
    budget = len(y_all) if new_chunks is None else new_chunks
    total = -(-len(y_all) // AA_CHUNK)
    for index, start in enumerate(range(0, len(y_all), AA_CHUNK)):
        done = chunks / f"n{len(y_all)}_s{seed}_c{AA_CHUNK}_{index:03d}.npz"
        if not done.is_file():
            if budget <= 0:
                return
            budget -= 1
            x, y = x_all[start:start + AA_CHUNK], y_all[start:start + AA_CHUNK]
            began = time.perf_counter()
            x_aa = autoattack_examples(model, x, y, EPS, None, seed)
            with torch.no_grad():
                ok_clean, ok_aa = (model(x).argmax(1) == y).numpy(), (model(x_aa).argmax(1) == y).numpy()
            np.savez(done.with_suffix(".tmp.npz"), clean=ok_clean, robust=ok_aa,
                     seconds=time.perf_counter() - began)
            done.with_suffix(".tmp.npz").replace(done)
            print(f"  AutoAttack chunk {index + 1}/{total}: {ok_aa.mean():.1%} "
                  f"({time.perf_counter() - began:.0f} s)", file=sys.stderr, flush=True)
        with np.load(done) as saved:
            counts.append([len(saved["robust"]), int(saved["robust"].sum()), int(saved["clean"].sum())])
            seconds += float(saved["seconds"])
            verdicts.append(saved["robust"].astype(bool))
        images, robust, clean = (sum(column) for column in zip(*counts, strict=True))
        yield {"autoattack": robust / images, "autoattack_clean": clean / images, "autoattack_n": images,
               "autoattack_seconds": seconds, "autoattack_chunks": [list(c) for c in counts],
               "autoattack_robust": np.packbits(np.concatenate(verdicts)).tobytes().hex()}


def int8_run(work: Path, data: str) -> dict:
    """dfard-s0 exported to ONNX FP32 and INT8 (data-free calibration), verified on ONNX Runtime with
    the preset's verify settings (standard suite, its n)."""
    n = preset("verify", "n")
    student, _ = train("dfard-s0", work, data)
    out = {}
    for precision in ("fp32", "int8"):
        artifact = work / "int8-s0" / f"student.{precision}.onnx"
        if not artifact.is_file():
            extra = ["--int8-scheme", "cpu"] if precision == "int8" else []
            cli("export", "--checkpoint", str(student), "--precision", precision, "--out", str(artifact), "--quiet",
                *extra)
        verify_dir = work / "int8-s0" / f"verify-{precision}"
        if not (verify_dir / "verify.json").is_file():
            try:
                cli("verify", "--artifact", str(artifact), "--checkpoint", str(student), "--data", data, "--n",
                    str(n), "--suite", "standard", "--out", str(verify_dir), "--quiet")
            except subprocess.CalledProcessError as exc:  # a failed gate exits 1 and still writes verify.json
                if exc.returncode != 1:
                    raise
        result = json.loads((verify_dir / "verify.json").read_text())
        out[precision] = {"clean": result["metrics"]["clean_accuracy"], "robust": result["metrics"]["robust_accuracy"],
                          "attacks": result["metrics"]["attacks"], "passed": result["passed"],
                          "reference_robust": result["reference"]["robust_accuracy"], "n": result["metrics"]["n"]}
    return out


def distill_phases(run_dir: Path) -> dict | None:
    """Where a distill run's time went, from its ``metrics.jsonl`` (a CPU run made since the trainer
    records ``phase_seconds``; None otherwise): seconds by phase over all epochs (checkpoint: every save
    but the last), the run's wall seconds, and its student and generator step counts."""
    import yaml

    from dfard_pipeline.distill.phases import phase_totals

    metrics = run_dir / "metrics.jsonl"
    records = [json.loads(line) for line in metrics.read_text().splitlines()] if metrics.is_file() else []
    seconds = phase_totals(records)
    if seconds is None:
        return None
    steps = yaml.safe_load((run_dir / "config.resolved.yaml").read_text())["distill"]
    return {"seconds": seconds, "wall": records[-1]["wall_time"],
            "student_steps": steps["student_steps"] * len(records),
            "generator_steps": steps["generator_steps"] * len(records)}


def run_one(name: str, work: Path, data: str, aa_n: int, aa_chunks: int | None = None) -> None:
    """Train (unless done), then clean and PGD-20 on val, then AutoAttack on ``aa_n`` images; a result
    that exists is skipped, or only its AutoAttack part is added when it has fewer images than asked."""
    from dfard_pipeline.atomic import write_json_atomic

    target = RESULTS / f"{name}.json"
    result = json.loads(target.read_text()) if target.is_file() else None
    if result is not None and (name == "int8-s0" or ((result.get("autoattack_n") or 0) >= aa_n
                                                     and (not aa_n or "autoattack_robust" in result))):
        print(f"{name}: done ({target})", file=sys.stderr)
        return
    if result is None:
        started = time.perf_counter()
        if name == "int8-s0":
            result = {"name": name, "teacher_weights_sha256": shared_teacher(work, data), **int8_run(work, data)}
        else:
            teacher = None if name == "teacher" or name.startswith("at-") else shared_teacher(work, data)
            model, seconds = train(name, work, data)
            result = {"name": name, "train_seconds": seconds, **evaluate(model, data),
                      "autoattack": None, "autoattack_clean": None, "autoattack_n": 0}
            if name == "teacher":
                result["weights_sha256"] = model_weights(model)
            elif teacher is not None:
                result["teacher_weights_sha256"] = teacher
            phases = distill_phases(work / name)
            if phases:
                result["distill_phases"] = phases
        result.update(seconds=time.perf_counter() - started, machine=machine_info(), command=command_line())
        write_json_atomic(target, result)
    if aa_n and name != "int8-s0":
        model, _ = train(name, work, data)
        for so_far in autoattack(model, data, aa_n, work / "autoattack" / name, aa_chunks):  # kept after every chunk
            result.update(so_far, aa_machine=machine_info(), aa_command=command_line())
            write_json_atomic(target, result)
    print(f"{name}: {json.dumps({k: v for k, v in result.items() if 'machine' not in k and 'command' not in k})}",
          file=sys.stderr)


def _mean(rows: list[dict], key: str) -> str:
    values = [r[key] * 100 for r in rows if r.get(key) is not None]
    if not values:
        return "not run"
    if len(values) == 1:
        return f"{values[0]:.1f} (1 seed)"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f} ({len(values)} seeds)"


def robust_verdicts(result: dict) -> list[bool]:
    """Each AutoAttack image's verdict (robust or not), in the chunks' order, from a result."""
    import numpy as np

    packed = np.frombuffer(bytes.fromhex(result["autoattack_robust"]), dtype=np.uint8)  # np.packbits in autoattack()
    return np.unpackbits(packed)[:result["autoattack_n"]].astype(bool).tolist()


def seed_of(result: dict) -> str:
    """The seed in a result's run name: ``"2"`` for ``dfard-s2``."""
    return result["name"].rsplit("-s", 1)[1]


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact binomial p-value of ``wins`` against ``losses`` at 1/2 (ties left out)."""
    n = wins + losses
    return min(1.0, 2 * sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2**n)


def mcnemar(a: list[bool], b: list[bool]) -> tuple[int, int, float]:
    """The exact McNemar test of two models on the same images: images only ``a`` holds, images only
    ``b`` holds, and the two-sided p-value (the sign test of those discordant images)."""
    only_a = sum(x and not y for x, y in zip(a, b, strict=True))
    only_b = sum(y and not x for x, y in zip(a, b, strict=True))
    return only_a, only_b, sign_test(only_a, only_b)


def paired_lines(dfard: list[dict], combo: list[dict]) -> list[str]:
    """Per seed, dfard against combo on the same AutoAttack images (the images both have so far), and
    all seeds' discordant images pooled (a sign test that treats each seed's images as further pairs)."""
    by_seed = {seed_of(r): r for r in combo if "autoattack_robust" in r}
    lines, pooled = [], [0, 0]
    for d in dfard:
        seed = seed_of(d)
        c = by_seed.get(seed)
        if "autoattack_robust" not in d or c is None:
            continue
        n = min(d["autoattack_n"], c["autoattack_n"])  # a partial evaluation's chunks are the full one's first
        only_d, only_c, p = mcnemar(robust_verdicts(d)[:n], robust_verdicts(c)[:n])
        pooled[0], pooled[1] = pooled[0] + only_d, pooled[1] + only_c
        lines.append(f"- seed {seed}, {n} images: {only_d} only dfard holds, {only_c} only combo "
                     f"holds (exact McNemar p = {p:.2f})")
    if len(lines) > 1:
        lines.append(f"- all {len(lines)} seeds pooled: {pooled[0]} vs {pooled[1]} (sign test p = "
                     f"{sign_test(*pooled):.2f})")
    return lines


def _autoattack(rows: list[dict]) -> str:
    """The AutoAttack cell: the mean and on how many images (fewer than asked while it accumulates)."""
    sizes = sorted({r["autoattack_n"] for r in rows if r.get("autoattack") is not None})
    cell = _mean(rows, "autoattack")
    return cell if not sizes else f"{cell}, n {'/'.join(map(str, sizes))}"


def ablation_lines(groups: dict[str, list[dict]]) -> list[str]:
    """The preset's distill choices changed one at a time (the kinds of ``VARIANTS`` but ``dfardrel``),
    each against the preset's run of its method (``dfard``, ``combo`` or ``withdata``) with the same
    seed and teacher: clean and PGD-20 on all of val, and the distill time."""
    bases = {(m, seed_of(r)): r for m in ("dfard", "combo", "withdata") for r in groups.get(m, [])}
    rows = [(kind, r) for kind in VARIANTS if kind != "dfardrel" for r in groups.get(kind, [])
            if (method_of(kind), seed_of(r)) in bases]
    if not rows:
        return []
    dfards = [r for (m, _), r in bases.items() if m == "dfard"]
    spread = f"; the {len(dfards)} seeds of dfard: PGD-20 {_mean(dfards, 'pgd20')}" if len(dfards) > 1 else ""
    lines = ["", f"## The preset's distill choices, one at a time (the shared teacher, PGD-20 on all 5,000 val "
                 f"images{spread})", "",
             "| changed | run | clean | PGD-20 | PGD-20 minus the preset's run of its method and seed | distill time |",
             "| --- | --- | --- | --- | --- | --- |"]
    times = stage_times()
    for key in sorted({(method_of(kind), seed_of(r)) for kind, r in rows}):
        base = bases[key]
        lines.append(f"| nothing: the preset | {base['name']} | {base['clean']:.1%} | {base['pgd20']:.1%} "
                     f"| | {f'see `{times}`' if times else 'not timed'} |")
    for kind, r in rows:
        minutes = f"{r['train_seconds'] / 60:.1f} min{on_cores(r)}" if r.get("train_seconds") else "not recorded"
        base = bases[method_of(kind), seed_of(r)]
        lines.append(f"| {VARIANTS[kind][1]} | {r['name']} | {r['clean']:.1%} | {r['pgd20']:.1%} | "
                     f"{(r['pgd20'] - base['pgd20']) * 100:+.1f} | {minutes} |")
    return lines


def on_cores(result: dict) -> str:
    """`` (1 thread of 2 cores)`` where a run trained with fewer threads than the machine has (two runs
    side by side, one thread each): its times are not the preset's, which has the machine to itself."""
    machine = result.get("machine") or {}
    threads, cores = machine.get("torch_threads"), machine.get("cores")
    if not (threads and cores and threads < cores):
        return ""
    return f" ({threads} thread{'s' * (threads != 1)} of {cores} cores)"


def phase_lines(results: dict[str, dict]) -> list[str]:
    """Where each run's distill time went, for the runs that recorded it: seconds per student and per
    generator step, and each phase's share of the distill's wall time (other: logging, the progress
    line, the epoch's bookkeeping)."""
    from dfard_pipeline.distill.phases import PHASES

    timed = [r for r in results.values() if r.get("distill_phases")]
    if not timed:
        return []
    lines = ["", "## Where the distill time went (the trainer's own clock, summed over the run's epochs)", "",
             "| run | distill wall | student step | generator step | student | generator | probe | checkpoints | "
             "other |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in timed:
        p, wall = r["distill_phases"], r["distill_phases"]["wall"]
        s = {k: p["seconds"].get(k, 0.0) for k in PHASES}
        per_generator = f"{s['generator'] / p['generator_steps']:.2f} s" if p["generator_steps"] else "none"
        shares = " | ".join(f"{v / wall:.0%}" for v in (*s.values(), wall - sum(s.values())))
        lines.append(f"| {r['name']} | {wall / 60:.1f} min{on_cores(r)} | {s['student'] / p['student_steps']:.2f} s | "
                     f"{per_generator} | {shares} |")
    return lines


def stage_times() -> str | None:
    """The file with the table's preset's uncontended stage times (``RESULTS_preset.md`` beside the
    results, written by ``cifar10_preset.py``), None where that preset was never timed as one run."""
    name = f"{RESULTS.name}_preset.md"
    return name if (RESULTS.parent / name).is_file() else None


def preset_label() -> str:
    """The preset the table was made with, as the report names it: its path in the repository and
    its distill batch and epochs (the budget the issue's floors are read at)."""
    name = PRESET.relative_to(ROOT) if PRESET.is_relative_to(ROOT) else PRESET.name
    distill = preset_section("distill")
    return (f"`{name}` (distill: batch {distill['batch_size']}, {distill['epochs']} epochs of "
            f"{distill['student_steps']} student steps)")


def report() -> str:
    from dfard_pipeline.atomic import write_text_atomic

    results = {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))}
    if not results:
        text = "# CIFAR-10 (JPEG copy)\n\nNo run of `benchmarks/cifar10.py` has finished yet.\n"
        write_text_atomic(RESULTS.with_suffix(".md"), text)
        return text
    times = stage_times()
    lines = ["# CIFAR-10 (JPEG copy): data-free robust distillation on 2 CPU cores", "",
             "Made by `benchmarks/cifar10.py` (each row's command and machine are in "
             f"`benchmarks/results/{RESULTS.name}/<run>.json`). Teacher ResNet-20 (272 k parameters, fast AT on "
             f"train), students ResNet-8 (78 k), the budgets of {preset_label()}; eps 8/255. Clean and PGD-20 on "
             "the 5,000 val images; AutoAttack standard on a seeded class-stratified subset, n images (it "
             "accumulates in class-balanced chunks (of 100 images unless `--aa-chunk` says otherwise), so an n "
             "below `--aa-n` is a partial, still stratified, "
             "evaluation; \"not run\" where none has run yet). Train time: "
             "wall minutes of the training command as the benchmark ran it (\"not recorded\" for a model trained "
             "before the benchmark kept times, or resumed); " + (
                 f"the preset's uncontended stage times are in `benchmarks/results/{times}`."
                 if times else "this preset was never timed as one `run`."), "",
             "| model | runs | clean | PGD-20 | AutoAttack | train time |", "| --- | --- | --- | --- | --- | --- |"]
    groups: dict[str, list[dict]] = {}
    for name, result in results.items():
        if name != "int8-s0":
            groups.setdefault(name.rsplit("-s", 1)[0], []).append(result)
    labels = {"teacher": "teacher (ResNet-20, fast AT)", "dfard": "**dfard** (ITA + AGB), data-free",
              "combo": "combo (fixed tau, fixed weights), data-free",
              "withdata": "upper bound: the same, on real train images",
              "at": "ResNet-8 adversarially trained, no teacher", "dfard4x": "dfard, 4x the distill epochs",
              "combo4x": "combo, 4x the distill epochs", "dfardb128": "dfard, batch 128 for 60 epochs",
              "combob128": VARIANTS["combob128"][1], "withdatab128": VARIANTS["withdatab128"][1],
              "dfardrel": VARIANTS["dfardrel"][1]}
    for group in ("teacher", "dfard", "combo", "withdata", "at", "dfard4x", "combo4x", "dfardb128", "combob128",
                  "withdatab128", "dfardrel",
                  *sorted(g for g in groups if "@" in g)):
        labels.setdefault(group, f"{group.split('@')[0]} into {group.split('@')[-1]}, data-free")
        rows = groups.get(group)
        if rows:
            timed = [r for r in rows if r.get("train_seconds") is not None]
            marks = {on_cores(r) for r in timed}
            mark = marks.pop() if len(marks) == 1 else " (some on fewer threads than cores)" * any(marks)
            trained = (f"{statistics.mean(r['train_seconds'] for r in timed) / 60:.0f} min{mark}" if timed
                       else "not recorded")
            lines.append(f"| {labels[group]} | {', '.join(r['name'] for r in rows)} | {_mean(rows, 'clean')} | "
                         f"{_mean(rows, 'pgd20')} | {_autoattack(rows)} | {trained} |")
    lines += ablation_lines(groups)
    lines += phase_lines(results)
    if "int8-s0" in results:
        r = results["int8-s0"]
        lines += ["", "ONNX Runtime (CPU), dfard-s0, verify's standard suite on 1,000 stratified val images "
                  "(transfer PGD-20, CW, APGD-CE from the PyTorch student; Square on the runtime):", "",
                  "| artifact | clean | runtime robust (worst case) | verify |", "| --- | --- | --- | --- |"]
        for precision in ("fp32", "int8"):
            row = r[precision]
            lines.append(f"| {precision} | {row['clean']:.1%} | {row['robust']:.1%} | "
                         f"{'PASSED' if row['passed'] else 'FAILED'} |")
        delta = (r["int8"]["robust"] - r["fp32"]["robust"]) * 100
        lines.append(f"\nINT8 minus FP32 runtime robust accuracy: {delta:+.1f} points.")
    teacher, dfard, combo, withdata = (groups.get(k) for k in ("teacher", "dfard", "combo", "withdata"))
    if teacher and dfard:
        t, d = teacher[0], {key: statistics.mean(r[key] for r in dfard) for key in ("clean", "pgd20")}
        lines += ["", f"## The floors of issue 24 with PGD-20 in place of AutoAttack (mean over {len(dfard)} dfard "
                      "seeds; a proxy until AutoAttack has run on every model: PGD-20 overstates robustness)", "",
                  f"- robust: dfard PGD-20 {d['pgd20']:.1%} = {d['pgd20'] / t['pgd20']:.2f}x the teacher's "
                  f"{t['pgd20']:.1%} (floor 0.5x, on AutoAttack)",
                  f"- clean: dfard {d['clean']:.1%} = {d['clean'] / t['clean']:.2f}x the teacher's {t['clean']:.1%} "
                  "(floor 0.7x)"]
        if combo:
            c = statistics.mean(r["pgd20"] for r in combo)
            lines.append(f"- dfard minus combo, PGD-20: {(d['pgd20'] - c) * 100:+.1f} points over {len(dfard)} and "
                         f"{len(combo)} seeds (floor +1, on AutoAttack)")
        if withdata:
            lines.append(f"- the data-free gap (upper bound with data minus dfard), PGD-20: "
                         f"{(withdata[0]['pgd20'] - d['pgd20']) * 100:+.1f} points; clean "
                         f"{(withdata[0]['clean'] - d['clean']) * 100:+.1f}")
    attacked = lambda rows: [r for r in rows or [] if r.get("autoattack_chunks")]  # noqa: E731
    if attacked(teacher) and attacked(dfard):
        t, ds, cs, ws = attacked(teacher)[0], attacked(dfard), attacked(combo), attacked(withdata)
        common = min(len(r["autoattack_chunks"]) for r in [t, *ds, *cs, *ws])
        on_common = lambda r: (sum(c[1] for c in r["autoattack_chunks"][:common])  # noqa: E731
                               / sum(c[0] for c in r["autoattack_chunks"][:common]))
        n = sum(c[0] for c in t["autoattack_chunks"][:common])
        d = statistics.mean(on_common(r) for r in ds)
        lines += ["", f"## Against the floors of issue 24 on AutoAttack ({n} images, the same for every model: the "
                      "chunks all of them have; mean over the seeds that have AutoAttack)", "",
                  f"- AutoAttack: dfard {d:.1%} = {d / on_common(t):.2f}x the teacher's {on_common(t):.1%} "
                  f"(floor 0.5x; {len(ds)} of {len(dfard)} dfard seeds)"]
        if cs:
            c = statistics.mean(on_common(r) for r in cs)
            lines.append(f"- dfard minus combo, AutoAttack: {(d - c) * 100:+.1f} points over {len(ds)} and {len(cs)} "
                         "seeds (floor +1)")
        if ws:
            lines.append(f"- the data-free gap (upper bound minus dfard), AutoAttack: "
                         f"{(on_common(ws[0]) - d) * 100:+.1f} points")
        paired = paired_lines(ds, cs)
        if paired:
            lines += ["", "AutoAttack per image, dfard against combo of the same seed on the same images:", "",
                      *paired]
        paired = paired_lines(attacked(groups.get("dfard4x")), attacked(groups.get("combo4x")))
        if paired:
            lines += ["", "The same at 4x the distill epochs:", "", *paired]
        paired = paired_lines(attacked(groups.get("dfardb128")), attacked(groups.get("combob128")))
        if paired:
            lines += ["", "The same at batch 128 for 60 epochs:", "", *paired]
    renamed = [f"{r['name']} (as {r['renamed_from']})" for r in results.values() if r.get("renamed_from")]
    if renamed:
        lines += ["", "Run under another name, as a variant of an earlier preset whose distill settings were then "
                      "made the preset's (each result's `command` is the one that ran): " + ", ".join(renamed)]
    machines = sorted({describe(r["machine"]).split(", 20")[0].removeprefix("Machine: ") for r in results.values()})
    lines += ["", "Machines: " + "; ".join(machines), ""]
    text = "\n".join(lines)
    write_text_atomic(RESULTS.with_suffix(".md"), text)
    return text


def main() -> None:
    global PRESET, RESULTS, AA_CHUNK
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="folder:data/cifar10", help="CIFAR-10 with train/ and val/ (or test/)")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "cifar10_bench")
    parser.add_argument("--runs", nargs="+", default=list(ALL_RUNS),
                        help=f"which runs, in order (default: all of {', '.join(ALL_RUNS)}); `dfard@ARCH-sN` distills "
                             "into another zoo student")
    parser.add_argument("--aa-n", type=int, default=1000)
    parser.add_argument("--aa-chunk", type=int, default=AA_CHUNK,
                        help="AutoAttack images per resumable chunk (100: minutes each on 2 CPU cores; a GPU "
                             "wants larger ones)")
    parser.add_argument("--aa-chunks", type=int, default=None,
                        help="attack at most this many new AutoAttack chunks per run in this invocation, "
                             "so that several models advance together (default: all)")
    parser.add_argument("--preset", type=Path, default=PRESET, help="the config every run starts from")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where each run's result JSON goes")
    parser.add_argument("--report", action="store_true", help="only rebuild the tables from the results")
    args = parser.parse_args()
    PRESET, RESULTS, AA_CHUNK = args.preset.resolve(), args.results, args.aa_chunk
    if not args.report:
        args.work.mkdir(parents=True, exist_ok=True)
        for name in args.runs:
            run_one(name, args.work, args.data, args.aa_n, args.aa_chunks)
    print(report())


if __name__ == "__main__":
    main()
