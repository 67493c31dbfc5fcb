import pytest


@pytest.fixture(scope="module")
def trained_student(digits_run):
    """The shared run's student: trained on real digits, so attacks have something to break."""
    from dfard_pipeline.checkpoint import load_teacher

    return load_teacher(digits_run / "student.pt").module
