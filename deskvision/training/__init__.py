"""Training loop (SGD, warm-up, LR decay, gradient accumulation, AMP, checkpoints, resume)."""

from deskvision.training.engine import TrainConfig, train

__all__ = ["TrainConfig", "train"]
