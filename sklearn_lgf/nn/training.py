"""Minibatch Adam training with early stopping, kept apart from any model.

A model only has to provide ``training_loss(batch, generator, **kwargs)``.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from .bijections import calibrate_batch_norms

BATCH_NORM_CALIBRATION_ROWS = 100_000
# As MLPClassifier's learning_rate="adaptive": divide by 5, stop below 1e-6.
LR_DIVISOR = 5.0
MIN_ADAPTIVE_LR = 1e-6


@dataclass
class TrainingConfig:
    """Training controls, named as in scikit-learn's ``MLPClassifier``."""

    max_iter: int = 200
    batch_size: int = 1000
    learning_rate: str = "constant"
    learning_rate_init: float = 1e-3
    early_stopping: bool = True
    n_iter_no_change: int = 10
    tol: float = 1e-4
    loss_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainingResult:
    """What happened: per-epoch mean training loss and validation score."""

    loss_curve: list[float]
    validation_scores: list[float]
    best_validation_score: float | None
    converged: bool


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


def train(
    model: nn.Module,
    x_train: Tensor,
    config: TrainingConfig,
    *,
    validation: Callable[[], float] | None = None,
    shuffle_generator: torch.Generator,
    noise_generator: torch.Generator,
    score_offset: float = 0.0,
    log: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Maximise the model's objective with Adam, epoch by epoch.

    ``validation`` returns the mean validation log-likelihood (higher is
    better); with ``config.early_stopping`` it decides when to stop and the
    best weights are restored at the end. Without it the training loss does.
    With ``config.learning_rate == "adaptive"`` a stall first divides the
    learning rate by 5; training stops when it would fall below 1e-6.
    ``score_offset`` is added to every recorded log-likelihood (and subtracted
    from losses) so that the figures are in the units the caller wants.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate_init)
    n = x_train.shape[0]
    batch_size = min(config.batch_size, n)
    loss_curve: list[float] = []
    scores: list[float] = []
    best_score = -float("inf")
    best_loss = float("inf")
    best_state: dict[str, Tensor] | None = None
    no_improvement = 0
    converged = False
    use_validation = config.early_stopping and validation is not None

    for epoch in range(1, config.max_iter + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=shuffle_generator).to(x_train.device)
        total = x_train.new_zeros(())
        for first in range(0, n, batch_size):
            batch = x_train[order[first : first + batch_size]]
            loss = model.training_loss(batch, noise_generator, **config.loss_kwargs)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * batch.shape[0]
        epoch_loss = total.item() / n - score_offset
        if not math.isfinite(epoch_loss):
            raise TrainingDiverged(
                f"the training loss became {epoch_loss} at epoch {epoch}; "
                "try a smaller learning_rate_init or fewer layers"
            )
        loss_curve.append(epoch_loss)
        model.eval()
        message = f"Epoch {epoch}: training loss {epoch_loss:.4f}"
        if use_validation:
            assert validation is not None
            score = validation() + score_offset
            scores.append(score)
            message += f", validation log-likelihood {score:.4f}"
            no_improvement = (
                no_improvement + 1 if score < best_score + config.tol else 0
            )
            if score > best_score:
                best_score = score
                best_state = copy.deepcopy(model.state_dict())
                message += " (best)"
        else:
            no_improvement = (
                no_improvement + 1 if epoch_loss > best_loss - config.tol else 0
            )
            best_loss = min(best_loss, epoch_loss)
        if log is not None:
            log(f"{message}, {time.perf_counter() - start:.2f}s")
        if no_improvement > config.n_iter_no_change:
            lr = optimizer.param_groups[0]["lr"]
            if (
                config.learning_rate == "adaptive"
                and lr / LR_DIVISOR >= MIN_ADAPTIVE_LR
            ):
                for group in optimizer.param_groups:
                    group["lr"] = lr / LR_DIVISOR
                no_improvement = 0
                if log is not None:
                    log(f"No improvement: learning rate divided by {LR_DIVISOR}.")
                continue
            converged = True
            if log is not None:
                log(f"No improvement for {no_improvement} epochs: stopping.")
            break

    if best_state is not None:
        model.load_state_dict(best_state)
    calibration = x_train[:BATCH_NORM_CALIBRATION_ROWS]
    calibrate_batch_norms(
        model, lambda: model.training_loss(calibration, noise_generator)
    )
    model.eval()
    return TrainingResult(
        loss_curve, scores, best_score if use_validation else None, converged
    )
