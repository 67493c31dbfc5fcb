"""Where a distill run's time goes: the phases the trainer times on a CPU (``phase_seconds`` in each
epoch's record of ``metrics.jsonl``) and their totals over a run. The distill summary, the CIFAR-10
benchmark and ``benchmarks/distill_phases.py`` all read them from here."""

from __future__ import annotations

from collections.abc import Iterable

# key in phase_seconds -> what it holds; the trainer's probe step feeds ITA and AGB
PHASES = {"student": "student steps", "generator": "generator steps", "probe": "probe (ITA, AGB)",
          "checkpoint": "checkpoints"}


def step_phase(step: int, generator_steps: int) -> str:
    """The phase of an epoch's ``step``: the probe first, then the generator's steps, then the student's."""
    return "probe" if step == 0 else "generator" if step <= generator_steps else "student"


def phase_totals(history: Iterable[dict]) -> dict[str, float] | None:
    """Seconds by phase summed over a run's epoch records, every phase present (0.0 when it never ran);
    None when a record has no ``phase_seconds`` (a GPU run, or epochs made before the trainer timed
    them), because a partial sum would understate the run."""
    totals = dict.fromkeys(PHASES, 0.0)
    records = list(history)
    if not records or any("phase_seconds" not in r for r in records):
        return None
    for record in records:
        for phase, seconds in record["phase_seconds"].items():
            totals[phase] = totals.get(phase, 0.0) + seconds
    return totals
