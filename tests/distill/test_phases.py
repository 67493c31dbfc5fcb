"""The distill phases and their totals over a run (pipeline/distill/phases.py)."""

from dfard_pipeline.distill.phases import PHASES, phase_totals, step_phase


def test_steps_of_an_epoch_map_to_probe_then_generator_then_student():
    assert [step_phase(step, generator_steps=2) for step in range(5)] == [
        "probe", "generator", "generator", "student", "student"]
    assert [step_phase(step, generator_steps=0) for step in range(3)] == ["probe", "student", "student"]


def test_totals_sum_each_phase_over_the_epochs_and_name_every_phase():
    history = [{"phase_seconds": {"student": 2.0, "probe": 0.5}},
               {"phase_seconds": {"student": 3.0, "generator": 1.0, "checkpoint": 0.25}}]
    assert phase_totals(history) == {"student": 5.0, "generator": 1.0, "probe": 0.5, "checkpoint": 0.25}
    assert list(phase_totals(history)) == list(PHASES)
    assert phase_totals([{"phase_seconds": {}}]) == dict.fromkeys(PHASES, 0.0)


def test_a_run_with_untimed_epochs_has_no_totals_rather_than_a_partial_sum():
    assert phase_totals([{"phase_seconds": {"student": 2.0}}, {"loss_student": 0.1}]) is None
    assert phase_totals([]) is None
    assert phase_totals(iter([{"phase_seconds": {"student": 1.0}}])) == {**dict.fromkeys(PHASES, 0.0), "student": 1.0}
