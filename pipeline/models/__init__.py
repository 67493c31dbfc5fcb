"""Model zoo. Importing this package registers every architecture."""

from dfard_pipeline.models import (  # noqa: F401  (registration)
    cifar_resnet,
    digits_cnn,
    mobilenet_v2,
    resnet,
    wide_resnet,
)
from dfard_pipeline.models.contract import InputContract, ZooModel
from dfard_pipeline.models.registry import MODELS, count_parameters, create_model, list_models

__all__ = ["MODELS", "InputContract", "ZooModel", "count_parameters", "create_model", "list_models"]
