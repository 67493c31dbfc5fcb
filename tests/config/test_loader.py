from pathlib import Path

import pytest
import yaml

from dfard_pipeline.config import PipelineConfig, load_config, load_yaml, to_dict, with_overrides
from dfard_pipeline.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path, data) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_unknown_key_names_closest_valid_key(tmp_path):
    path = write(tmp_path, {"distill": {"epoch": 3}})
    with pytest.raises(ConfigError, match="unknown key 'epoch'; did you mean 'epochs'"):
        load_yaml(path, PipelineConfig)


def test_wrong_type_names_field_and_expected_type(tmp_path):
    path = write(tmp_path, {"distill": {"epochs": "ten"}})
    with pytest.raises(ConfigError, match=r"distill\.epochs: expected an integer, got 'ten'"):
        load_yaml(path, PipelineConfig)


def test_bool_is_not_an_int(tmp_path):
    with pytest.raises(ConfigError, match="expected an integer"):
        load_yaml(write(tmp_path, {"seed": True}), PipelineConfig)


def test_literal_values_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'bf16'"):
        load_yaml(write(tmp_path, {"distill": {"precision": "bf61"}}), PipelineConfig)


def test_range_validation(tmp_path):
    with pytest.raises(ConfigError, match="distill.eps must be a finite number > 0"):
        load_yaml(write(tmp_path, {"distill": {"eps": 0.0}}), PipelineConfig)


def test_adaptive_classes_need_a_conditional_generator(tmp_path):
    with pytest.raises(ConfigError, match="class_sampling: adaptive needs distill.conditional_generator: true"):
        load_yaml(write(tmp_path, {"distill": {"class_sampling": "adaptive"}}), PipelineConfig)


def test_invalid_yaml_is_one_line_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("distill: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(path, PipelineConfig)
    assert "\n" not in str(info.value) and "not valid YAML" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_config_is_frozen_and_overrides_build_a_new_one():
    config = PipelineConfig()
    with pytest.raises(AttributeError):
        config.seed = 3  # type: ignore[misc]
    changed = with_overrides(config, {"distill.epochs": 3, "seed": 7})
    assert (changed.distill.epochs, changed.seed) == (3, 7)
    assert config.distill.epochs != 3 or config.seed == 0  # original untouched
    assert config.seed == 0


def test_override_is_validated():
    with pytest.raises(ConfigError, match="expected an integer"):
        with_overrides(PipelineConfig(), {"distill.epochs": "x"})
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        with_overrides(PipelineConfig(), {"distill.epoch": 1})


def test_round_trip_through_yaml(tmp_path):
    config = with_overrides(PipelineConfig(), {"distill.method": "combo"})
    path = write(tmp_path, to_dict(config))
    assert load_yaml(path, PipelineConfig) == config


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "configs").glob("*.yaml")))
def test_shipped_configs_load(name):
    load_config(REPO / "configs" / name)


def test_registry_names_are_checked_at_load_time(tmp_path):
    from dfard_pipeline.config import load_config

    path = tmp_path / "typo.yaml"
    for key, typo, hint in (("agb_rule", "scaled_fixd", "scaled_fixed"), ("ita_rule", "agreemnt", "agreement"),
                            ("method", "dfrad", "dfard"), ("student_loss", "rslda", "rslad"),
                            ("student", "digits_cnn_studnt", "digits_cnn_student")):
        path.write_text(f"distill:\n  {key}: {typo}\n")
        with pytest.raises(ConfigError, match=rf"typo.yaml.distill: distill.{key}: .*Did you mean '{hint}'"):
            load_config(path)


@pytest.mark.parametrize("changes, message", [
    ({"teacher": {"input_shape": [1, 8]}}, "teacher.input_shape must be C,H,W"),
    ({"teacher": {"input_shape": [0, 8, 8]}}, "teacher.input_shape must be C,H,W"),
    ({"teacher": {"checkpoint_arch": "wrn_34_1O"}}, "teacher.checkpoint_arch"),
    ({"teacher": {"arch": "digits_cnn_teachr"}}, "Did you mean .digits_cnn_teacher."),
])
def test_teacher_loading_hints_are_checked_at_load(tmp_path, changes, message):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(changes))
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_the_digits_config_is_the_defaults_so_every_path_trains_the_same():
    """distill with no --config, `run` and configs/digits.yaml: one set of defaults (the schema's)."""
    from pathlib import Path

    from dfard_pipeline.config import PipelineConfig, load_config

    shipped = Path(__file__).resolve().parents[2] / "configs" / "digits.yaml"
    assert load_config(shipped) == PipelineConfig()
