import pytest
import torch

from dfard_pipeline.errors import RegistryError
from dfard_pipeline.models import count_parameters, create_model, list_models

SMALL = {"wrn_34_10": {"widen_factor": 1}, "resnet18": {"base_width": 8},
         "preact_resnet18": {"base_width": 8}, "mobilenet_v2": {"width_mult": 0.25}}


def test_zoo_lists_required_models():
    assert {"digits_cnn_teacher", "digits_cnn_student", "resnet18", "preact_resnet18",
            "mobilenet_v2", "wrn_34_10"} <= set(list_models())


@pytest.mark.parametrize("name", list_models())
def test_every_model_maps_unit_range_to_logits_and_carries_contract(name):
    model = create_model(name, **SMALL.get(name, {})).eval()
    c = model.contract
    x = torch.rand(3, *c.shape)
    out = model(x)
    assert out.shape == (3, c.num_classes)
    assert c.value_range == (0.0, 1.0)
    assert len(c.mean) == len(c.std) == c.shape[0]


@pytest.mark.parametrize("name", ["resnet18", "preact_resnet18", "mobilenet_v2", "wrn_34_10"])
def test_cifar_models_are_configurable(name):
    model = create_model(name, in_chans=1, image_size=16, num_classes=7, **SMALL[name]).eval()
    assert model.contract.shape == (1, 16, 16)
    assert model(torch.rand(2, 1, 16, 16)).shape == (2, 7)


def test_normalisation_lives_inside_the_model():
    model = create_model("digits_cnn_student", mean=(0.5,), std=(0.25,)).eval()
    x = torch.full((1, 1, 8, 8), 0.5)
    assert torch.allclose(model.normalize(x), torch.zeros_like(x))


def test_student_is_small_and_real_sizes():
    assert count_parameters(create_model("digits_cnn_student")) < 50_000
    # WRN-34-10 at full width is the 46 M-parameter TRADES teacher.
    assert 45e6 < count_parameters(create_model("wrn_34_10")) < 47.5e6


def test_unknown_model_suggests_closest():
    with pytest.raises(RegistryError, match="Did you mean 'mobilenet_v2'"):
        create_model("mobilenet_v3")


def test_contract_mismatch_is_a_usage_error():
    from dfard_pipeline.errors import UsageError

    teacher = create_model("digits_cnn_teacher").contract
    other = create_model("resnet18", base_width=8).contract
    with pytest.raises(UsageError, match=r"differs from the teacher's \(1, 8, 8\)"):
        teacher.check_compatible(other)
    teacher.check_compatible(create_model("digits_cnn_student").contract)
