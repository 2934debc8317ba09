"""Minibatch Adam training with early stopping, kept apart from any model.

A model only has to provide ``training_loss(batch, generator, **kwargs)``.

Training fails safely. The quantity that decides early stopping (the
validation log-likelihood, or minus the training loss without validation) is
measured once before the first epoch, and the weights of the best point seen
are kept. An epoch whose training loss or validation score is not finite, or
is worse than the best seen by more than :func:`explosion_margin` nats per
sample, ends training. (A batch-normalised model is judged on its training
loss and on non-finite values only: evaluated with running statistics, its
validation score can fall by hundreds of nats for a few epochs and recover,
and early stopping already keeps its best weights.) Training then ends: the
best weights are restored and the result says why (:class:`Divergence`). The
starting point counts as a candidate when the caller says so (a warm start),
so continuing a good model can never leave it worse than it was. A fresh
model that never gets within the margin of its untrained self raises
:class:`TrainingDiverged` instead: there is nothing worth returning.
``KeyboardInterrupt`` leaves the model in the same consistent state (best
weights, batch norms calibrated) and the result of the epochs completed so
far in :attr:`TrainingInterrupted.result`.

The pieces:

- :mod:`.loop`: :func:`train`, the epoch loop and how it ends;
- :mod:`.monitor`: :class:`EarlyStopping`, the best point, patience and
  divergence state;
- :mod:`.divergence`: :class:`DivergenceCause` and the rule that picks it;
- :mod:`.schedule`: the optimiser and its learning-rate schedule;
- :mod:`.passes`: the model's passes over the rows (epoch, loss of fixed
  weights, stopping criterion, batch-norm calibration);
- :mod:`.config`: settings, reports, results and exceptions.
"""

from .config import (
    LEARNING_RATES,
    Divergence,
    EpochReport,
    TrainingConfig,
    TrainingDiverged,
    TrainingInterrupted,
    TrainingResult,
)
from .divergence import Diagnosis, DivergenceCause, diagnose, explosion_margin
from .loop import train
from .monitor import Decision, EarlyStopping
from .schedule import LearningRateSchedule, cosine_learning_rate

__all__ = [
    "LEARNING_RATES",
    "Decision",
    "Diagnosis",
    "Divergence",
    "DivergenceCause",
    "EarlyStopping",
    "EpochReport",
    "LearningRateSchedule",
    "TrainingConfig",
    "TrainingDiverged",
    "TrainingInterrupted",
    "TrainingResult",
    "cosine_learning_rate",
    "diagnose",
    "explosion_margin",
    "train",
]
