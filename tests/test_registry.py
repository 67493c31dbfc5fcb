import pytest

from dfard_pipeline.errors import RegistryError
from dfard_pipeline.registry import Registry


def test_duplicate_name_is_an_error():
    reg = Registry("thing")
    reg.register("a")(object())
    with pytest.raises(RegistryError, match="duplicate thing name 'a'"):
        reg.register("a")(object())


def test_unknown_name_lists_valid_names_and_closest_match():
    reg = Registry("model")
    for name in ("resnet18", "mobilenet_v2"):
        reg.register(name)(name)
    with pytest.raises(RegistryError) as info:
        reg.get("resnet19")
    message = str(info.value)
    assert "Did you mean 'resnet18'?" in message
    assert "mobilenet_v2, resnet18" in message


def test_names_filter_by_glob():
    reg = Registry("x")
    for name in ("digits_a", "digits_b", "cifar"):
        reg.register(name)(name)
    assert reg.names("digits*") == ["digits_a", "digits_b"]
    assert "cifar" in reg and "nope" not in reg
