"""Training of the track transformer (never imported by the library; ``movseg train`` loads it)."""

from movseg.train.trainer import TrainConfig, load_config, train

__all__ = ["TrainConfig", "load_config", "train"]
