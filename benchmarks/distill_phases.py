"""Where a distill epoch's time goes, timed on the real training loop: a few epochs of the CIFAR-10
CPU preset and of its one-change variants (``VARIANTS`` of benchmarks/cifar10.py), interleaved and
repeated, each epoch's ``phase_seconds`` read back from the run (probe, generator steps, student
steps, checkpoints; recorded by the trainer on a CPU).

    python benchmarks/distill_phases.py --teacher runs/cifar10_bench/teacher.pt
    python benchmarks/distill_phases.py --teacher T.pt --variants preset dfardatk1 dfardb128 --epochs 4 --repeat 2

No data is read (distill is data-free); the teacher is any checkpoint of the preset's shape, e.g.
the one benchmarks/cifar10.py trained. The first epoch of every run is a warm-up and left out; each
cell is the median over the remaining epochs of all repeats. "Full distill" scales the median epoch
to the variant's own epoch count. Writes benchmarks/results/distill_phases.{md,json} unless
``--json`` names the file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cifar10  # noqa: E402
from cifar10 import VARIANTS  # noqa: E402
from machine import command_line, describe, machine_info  # noqa: E402

from dfard_pipeline.atomic import write_json_atomic, write_text_atomic  # noqa: E402
from dfard_pipeline.distill.phases import PHASES  # noqa: E402

PRESET = cifar10.PRESET  # configs/cifar10_cpu.yaml unless --preset


def variant_config(kind: str):
    """The preset (``--preset``) with ``kind``'s distill settings; ``preset``: unchanged."""
    from dfard_pipeline.config import PipelineConfig, load_yaml, with_overrides

    changes = {} if kind == "preset" else VARIANTS[kind][0]
    return with_overrides(load_yaml(PRESET, PipelineConfig), {f"distill.{k}": v for k, v in changes.items()})


def time_variant(kind: str, teacher: Path, epochs: int, seed: int) -> list[dict]:
    """The epochs after the first of one run cut to ``epochs``: each one's wall and phase seconds."""
    from dfard_pipeline.config import with_overrides
    from dfard_pipeline.distill.run import run_distill

    config = with_overrides(variant_config(kind), {"distill.epochs": epochs, "distill.device": "cpu", "seed": seed})
    with tempfile.TemporaryDirectory() as out:
        run_distill(config, str(teacher), Path(out) / "run", quiet=True)
        records = [json.loads(line) for line in (Path(out) / "run" / "metrics.jsonl").read_text().splitlines()]
    walls = [r["wall_time"] for r in records]
    return [{"seconds": b - a, **r["phase_seconds"]} for a, b, r in zip(walls, walls[1:], records[1:], strict=False)]


def summarise(kind: str, runs: list[list[dict]]) -> dict:
    """Medians of a variant's timed epochs (``runs``: each run's epochs): per epoch, per student and per
    generator step, the full distill at the variant's own epoch count, and each run's own median
    epoch (the machine's speed drifts between runs: their spread is the measurement's noise)."""
    d = variant_config(kind).distill
    epochs = [e for run in runs for e in run]
    median = {key: statistics.median(e.get(key, 0.0) for e in epochs) for key in ("seconds", *PHASES)}
    return {"variant": kind, "label": "the preset" if kind == "preset" else VARIANTS[kind][1],
            "batch": d.batch_size, "epochs_timed": len(epochs), "epoch_seconds": median["seconds"],
            "epoch_seconds_by_run": [statistics.median(e["seconds"] for e in run) for run in runs],
            "student_step": median["student"] / d.student_steps,
            "generator_step": median["generator"] / d.generator_steps if d.generator_steps else None,
            "phase_seconds": {k: median[k] for k in PHASES},
            "other_seconds": median["seconds"] - sum(median[k] for k in PHASES),
            "full_distill_minutes": median["seconds"] * d.epochs / 60, "epochs_full": d.epochs}


def ratio_lines(rows: list[dict]) -> list[str]:
    """Each variant's full distill over the preset's, run by run: repeat k of both ran minutes apart."""
    base = next((r for r in rows if r["variant"] == "preset"), None)
    if base is None:
        return []
    lines = []
    for r in rows:
        if r is not base:
            ratios = [v * r["epochs_full"] / (b * base["epochs_full"])
                      for v, b in zip(r["epoch_seconds_by_run"], base["epoch_seconds_by_run"], strict=True)]
            lines.append(f"- {r['label']}: " + ", ".join(f"{x:.2f}x" for x in ratios))
    return ["", "Full distill against the preset's, repeat by repeat (each repeat ran every variant in turn):",
            "", *lines] if lines else []


def markdown(rows: list[dict], meta: dict) -> str:
    lines = ["# Where a distill epoch's time goes (the CIFAR-10 CPU preset, the real training loop)", "",
             f"Command: `{meta['command']}`  ", describe(meta["machine"]), "", f"Meanwhile: {meta['note']}", "",
             "| variant | batch | epoch | epoch, each run | student step | generator step | probe | checkpoints | "
             "other | full distill (epochs) |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        p = r["phase_seconds"]
        generator = "none" if r["generator_step"] is None else f"{r['generator_step']:.2f} s"
        each = " / ".join(f"{s:.1f}" for s in r["epoch_seconds_by_run"])
        lines.append(f"| {r['label']} | {r['batch']} | {r['epoch_seconds']:.2f} s | {each} s | "
                     f"{r['student_step']:.3f} s | {generator} | {p['probe']:.2f} s | {p['checkpoint']:.2f} s | "
                     f"{r['other_seconds']:.2f} s | {r['full_distill_minutes']:.1f} min ({r['epochs_full']}) |")
    lines += ["", f"Medians over {meta['epochs'] - 1} timed epochs of each of {meta['repeat']} runs per variant "
              "(the first epoch of each run left out), variants interleaved; probe and checkpoints per epoch, "
              "other = the epoch minus its phases.", *ratio_lines(rows), ""]
    return "\n".join(lines)


def main() -> None:
    global PRESET
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", type=Path, required=True, help="a teacher of the preset's input shape")
    parser.add_argument("--variants", nargs="+", default=["preset", "dfardatk1", "dfardnobank", "dfardb128"],
                        choices=["preset", *(k for k in VARIANTS if cifar10.method_of(k) == "dfard")])
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run, the first not timed (at least 2)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--note", default="", help="what else ran on the machine meanwhile")
    parser.add_argument("--preset", type=Path, default=PRESET, help="the config the variants change")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "distill_phases.json")
    args = parser.parse_args()
    PRESET = args.preset.resolve()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch is a warm-up")
    timed: dict[str, list[list[dict]]] = {kind: [] for kind in args.variants}
    for repeat in range(args.repeat):
        for kind in args.variants:
            print(f"distill_phases: {kind}, run {repeat + 1}/{args.repeat}", file=sys.stderr, flush=True)
            timed[kind].append(time_variant(kind, args.teacher, args.epochs, seed=repeat))
    rows = [summarise(kind, runs) for kind, runs in timed.items()]
    meta = {"command": command_line(), "machine": machine_info(), "note": args.note or "not stated",
            "epochs": args.epochs, "repeat": args.repeat}
    write_json_atomic(args.json, {**meta, "rows": rows, "epochs_raw": timed})
    text = markdown(rows, meta)
    write_text_atomic(args.json.with_suffix(".md"), text)
    print(text)


if __name__ == "__main__":
    main()
