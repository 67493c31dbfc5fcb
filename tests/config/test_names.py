"""The config layer's plain name lists are the registries' names, so a config is checked exactly."""

import subprocess
import sys

from dfard_pipeline.config import names


def test_each_list_is_its_registry():
    from dfard_pipeline.distill.balance import BALANCE_RULES
    from dfard_pipeline.distill.methods import METHODS
    from dfard_pipeline.distill.student_loss import STUDENT_LOSSES
    from dfard_pipeline.distill.temperature import TEMPERATURE_RULES
    from dfard_pipeline.models import MODELS

    for plain, registry in ((names.METHODS, METHODS), (names.TEMPERATURE_RULES, TEMPERATURE_RULES),
                            (names.BALANCE_RULES, BALANCE_RULES), (names.STUDENT_LOSSES, STUDENT_LOSSES),
                            (names.MODELS, MODELS)):
        assert sorted(plain) == registry.names()


def test_loading_a_config_imports_no_torch(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("distill: {student: resnet8, method: combo}\nteacher: {arch: resnet20}\n")
    code = ("import sys; from dfard_pipeline.config import load_config; load_config(sys.argv[1]); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    done = subprocess.run([sys.executable, "-c", code, str(config)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
