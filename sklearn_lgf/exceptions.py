"""Exceptions and warnings the estimators raise, to catch or filter by class."""

from ._base import TrainingDivergedWarning
from .nn.training import TrainingDiverged

__all__ = ["TrainingDiverged", "TrainingDivergedWarning"]
