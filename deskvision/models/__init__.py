"""Model factory by name, and the one-file model format."""

from deskvision.models.factory import ARCHITECTURES, ModelConfig, create_model
from deskvision.models.io import load_model, save_model

__all__ = ["ARCHITECTURES", "ModelConfig", "create_model", "load_model", "save_model"]
