"""The optimiser and its learning-rate schedule."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .config import TrainingConfig

# As MLPClassifier's learning_rate="adaptive": divide by 5, stop below 1e-6.
LR_DIVISOR = 5.0
MIN_ADAPTIVE_LR = 1e-6
FUSED_ADAM_DEVICES = ("cpu", "cuda")


def cosine_learning_rate(initial: float, step: int, total_steps: int) -> float:
    """The rate of a step under cosine annealing.

    Cosine annealing as in Loshchilov and Hutter (2017), without restarts;
    the schedule of the neural-spline-flow paper.

    Parameters
    ----------
    initial : float
        The rate of the first step.
    step : int
        The step, from 0.
    total_steps : int
        Steps in all; the rate falls along half a cosine towards 0 after the
        last.

    Returns
    -------
    float
        ``initial / 2 * (1 + cos(pi * step / total_steps))``.
    """
    return 0.5 * initial * (1.0 + math.cos(math.pi * step / total_steps))


def _parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Adam's parameter groups: weight matrices with ``weight_decay`` (an L2
    penalty), everything else (biases, batch-norm scales) without."""
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    others = [p for p in model.parameters() if p.dim() < 2]
    return [
        {"params": matrices, "weight_decay": weight_decay},
        {"params": others, "weight_decay": 0.0},
    ]


def make_optimizer(
    model: nn.Module, config: TrainingConfig, batch_size: int, device: torch.device
) -> torch.optim.Adam:
    """Adam over the model's parameters, with ``config.alpha / batch_size`` as
    the L2 penalty of its weight matrices (:func:`_parameter_groups`)."""
    return torch.optim.Adam(
        _parameter_groups(model, config.alpha / batch_size),
        lr=config.learning_rate_init,
        # One kernel over all parameters instead of several per parameter
        # tensor.
        fused=device.type in FUSED_ADAM_DEVICES,
    )


class LearningRateSchedule:
    """The learning rate of every step, as ``config.learning_rate`` says.

    ``"cosine"`` sets the rate of each step (:func:`cosine_learning_rate`
    over ``max_iter`` epochs); ``"adaptive"`` divides it by
    :data:`LR_DIVISOR` on a stall (:meth:`reduce`) while it stays at or
    above :data:`MIN_ADAPTIVE_LR`; ``"constant"`` leaves it alone.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        Its parameter groups' rates are set.
    config : TrainingConfig
        ``learning_rate``, ``learning_rate_init`` and ``max_iter``.
    steps_per_epoch : int
        Optimiser steps in one epoch.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        config: TrainingConfig,
        steps_per_epoch: int,
    ) -> None:
        self.optimizer = optimizer
        self.config = config
        self.steps_per_epoch = steps_per_epoch
        self.step = 0
        """Steps taken so far."""

    @property
    def rate(self) -> float:
        """The current learning rate."""
        return self.optimizer.param_groups[0]["lr"]

    def _set(self, rate: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = rate

    def before_step(self) -> None:
        """Set the rate of the next optimiser step, and count it."""
        config = self.config
        if config.learning_rate == "cosine":
            self._set(
                cosine_learning_rate(
                    config.learning_rate_init,
                    self.step,
                    config.max_iter * self.steps_per_epoch,
                )
            )
        self.step += 1

    def can_reduce(self) -> bool:
        """An adaptive rate may still be divided on a stall."""
        return (
            self.config.learning_rate == "adaptive"
            and self.rate / LR_DIVISOR >= MIN_ADAPTIVE_LR
        )

    def reduce(self) -> float:
        """Divide the rate by :data:`LR_DIVISOR`; the new rate."""
        rate = self.rate / LR_DIVISOR
        self._set(rate)
        return rate
