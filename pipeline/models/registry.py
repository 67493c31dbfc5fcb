"""The model zoo: ``create_model(name, **kwargs)`` and ``list_models(pattern)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dfard_pipeline.errors import UsageError
from dfard_pipeline.models.contract import ZooModel
from dfard_pipeline.registry import Registry

MODELS: Registry[Callable[..., ZooModel]] = Registry("model")
register_model = MODELS.register


def create_model(name: str, **kwargs: Any) -> ZooModel:
    """Build the registered model ``name``; kwargs are its architecture options
    (``in_chans``, ``image_size``, ``num_classes``, ``mean``, ``std``, width options)."""
    factory = MODELS.get(name)
    try:
        model = factory(**kwargs)
    except TypeError as exc:
        raise UsageError(f"model '{name}': {exc}") from None
    model.arch_name = name
    model.arch_kwargs = dict(kwargs)
    return model


def list_models(pattern: str = "*") -> list[str]:
    return MODELS.names(pattern)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
