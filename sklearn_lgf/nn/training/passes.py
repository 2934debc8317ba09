"""The passes of the model over the training rows: an epoch of optimiser
steps, the loss of fixed weights, the stopping criterion and batch-norm
calibration. :func:`training_loss` is the training code's one call into the
model's objective."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..bijections import calibrate_batch_norms, holds_batch_norm
from ..data import TensorRows, TrainingRows
from ..evaluation import BATCH_NORM_CALIBRATION_ROWS
from ..model import DensityModel
from .divergence import TRAINING_CRITERION, VALIDATION_CRITERION
from .schedule import LearningRateSchedule

# Seeds the batch-norm calibration's draws of u relative to the training
# noise's seed (whose +1 the LGF's validation draws use).
CALIBRATION_SEED_OFFSET = 2


def training_loss(
    model: DensityModel, batch: Tensor, generator: torch.Generator
) -> Tensor:
    """The model's mean training loss on ``batch``, drawing from ``generator``."""
    return model.training_loss(batch, generator)


def train_epoch(
    model: DensityModel,
    rows: TrainingRows,
    batch_size: int,
    optimizer: torch.optim.Optimizer,
    schedule: LearningRateSchedule,
    shuffle_generator: torch.Generator,
    noise_generator: torch.Generator,
) -> float:
    """One epoch of optimiser steps, in training mode.

    Parameters
    ----------
    model : DensityModel
        The model to train.
    rows : TrainingRows
        The training rows, batched in an order drawn from
        ``shuffle_generator``.
    batch_size : int
        Rows per step.
    optimizer : torch.optim.Optimizer
        Takes one step per batch, at the rate ``schedule`` sets.
    schedule : LearningRateSchedule
        Called before every step.
    shuffle_generator, noise_generator : torch.Generator
        The order of the rows; the training loss's draws.

    Returns
    -------
    float
        The mean training loss over the epoch's batches.
    """
    model.train()
    total = torch.zeros((), dtype=rows.dtype, device=rows.device)
    for batch in rows.epoch_batches(batch_size, shuffle_generator):
        schedule.before_step()
        loss = training_loss(model, batch, noise_generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach() * batch.shape[0]
    return total.item() / rows.n_rows


@torch.no_grad()
def mean_training_loss(
    model: DensityModel,
    rows: TrainingRows,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    """The training loss of the current weights over ``rows`` (evaluation mode)."""
    total = torch.zeros((), dtype=torch.float64, device=rows.device)
    for batch in rows.batches(batch_size):
        loss = training_loss(model, batch, generator)
        total += loss.double() * batch.shape[0]
    return total.item() / rows.n_rows


def has_batch_norm(model: nn.Module) -> bool:
    """The model holds a :class:`~sklearn_lgf.nn.bijections.BatchNorm` or a
    network with torch batch norms
    (:func:`~sklearn_lgf.nn.bijections.holds_batch_norm`)."""
    return holds_batch_norm(model)


def calibrate(
    model: DensityModel, rows: TrainingRows, noise_generator: torch.Generator
) -> None:
    """Set the model's batch norms to the exact statistics of the first
    :data:`~sklearn_lgf.nn.evaluation.BATCH_NORM_CALIBRATION_ROWS` rows
    (in passes of ``model.calibration_chunk_rows``, when it sets a number).

    The draws have a seed of their own, derived from ``noise_generator``'s,
    the same at every calibration: from the training stream, they would
    depend on how many epochs ran after the best one, and the restored best
    model would not be the best epoch's model.
    """
    if not has_batch_norm(model):
        return  # nothing to calibrate: spare a read of the rows
    draws = torch.Generator(device=noise_generator.device).manual_seed(
        noise_generator.initial_seed() + CALIBRATION_SEED_OFFSET
    )
    calibration = rows.head(BATCH_NORM_CALIBRATION_ROWS)
    # train() takes any module with a training_loss, not only DensityModels.
    chunk = getattr(model, "calibration_chunk_rows", None)
    # Passes of near-equal size: a last pass of a few rows would give its
    # batch norms' statistics from a handful of values.
    parts = (
        [calibration]
        if chunk is None
        else list(calibration.tensor_split(max(1, -(-calibration.shape[0] // chunk))))
    )
    calibrate_batch_norms(
        model, lambda: [training_loss(model, part, draws) for part in parts]
    )


class StoppingCriterion:
    """The quantity that decides early stopping, as a log-likelihood.

    The validation log-likelihood when ``validation`` is given, otherwise
    minus the training loss; ``score_offset`` converts both to the caller's
    units.

    Parameters
    ----------
    model : DensityModel
        The model being trained.
    rows : TrainingRows
        The training rows.
    batch_size : int
        Rows per batch when measuring the training loss.
    generator : torch.Generator
        The training loss's draws.
    validation : callable or None
        Returns the mean validation log-likelihood of the current weights.
    score_offset : float
        Added to log-likelihoods, subtracted from losses.
    """

    def __init__(
        self,
        model: DensityModel,
        rows: TrainingRows,
        batch_size: int,
        generator: torch.Generator,
        validation: Callable[[], float] | None,
        score_offset: float,
    ) -> None:
        self.model = model
        self.rows = rows
        self.batch_size = batch_size
        self.generator = generator
        self.validation = validation
        self.score_offset = score_offset

    @property
    def validating(self) -> bool:
        """The criterion is the validation log-likelihood."""
        return self.validation is not None

    @property
    def name(self) -> str:
        """What the criterion is, for messages."""
        return VALIDATION_CRITERION if self.validating else TRAINING_CRITERION

    def measure(self, first_rows: int | None = None) -> float:
        """The criterion of the current weights, in evaluation mode (without
        validation: on the first ``first_rows`` training rows, or all)."""
        self.model.eval()
        if self.validation is not None:
            return self.validation() + self.score_offset
        rows = self.rows
        if first_rows is not None:
            rows = TensorRows(rows.head(first_rows))
        loss = mean_training_loss(self.model, rows, self.batch_size, self.generator)
        return -(loss - self.score_offset)

    def of_epoch(self, epoch_loss: float) -> float:
        """The criterion after an epoch whose mean training loss, in the
        caller's units, was ``epoch_loss`` (the model in evaluation mode)."""
        if self.validation is not None:
            return self.validation() + self.score_offset
        return -epoch_loss
