"""When an epoch counts as divergence, and how the cause is said.

The decision reads only numbers and the :class:`DivergenceCause` it returns;
the words users see are built from the cause and its numbers by
:meth:`Diagnosis.message`, and nothing downstream reads them back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

# An epoch worse than the best point seen by more than this many nats per
# sample and feature (and at least EXPLOSION_MIN_NATS) has exploded. Ordinary
# training moves the mean log-likelihood by fractions of a nat from one epoch
# to the next, overfitting by a few nats over many epochs; a divergence moves
# it by tens of nats or far more within an epoch or two.
EXPLOSION_NATS_PER_FEATURE = 5.0
EXPLOSION_MIN_NATS = 10.0

VALIDATION_CRITERION = "validation log-likelihood"
TRAINING_CRITERION = "training log-likelihood (minus the training loss)"


def explosion_margin(n_features: int) -> float:
    """Nats per sample by which an epoch may fall behind the best before it
    counts as divergence.

    Parameters
    ----------
    n_features : int
        Features of the training rows.

    Returns
    -------
    float
        ``max(10, 5 * n_features)``.
    """
    return max(EXPLOSION_MIN_NATS, EXPLOSION_NATS_PER_FEATURE * n_features)


class DivergenceCause(Enum):
    """Why an epoch counts as divergence.

    Each member's value is the template of its message, filled in by
    :meth:`Diagnosis.message`.
    """

    NON_FINITE_LOSS = "the training loss became {loss}"
    """The epoch's mean training loss is nan or infinite."""
    LOSS_ROSE = "the training loss rose to {loss:.4g}, from {best_loss:.4g}"
    """The training loss rose more than the margin above its lowest value."""
    NON_FINITE_CRITERION = "the {criterion} became {value}"
    """The stopping criterion is nan or infinite."""
    CRITERION_FELL = (
        "the {criterion} fell to {value:.4g}, from {best_value:.4g} at {best_point}"
    )
    """The criterion fell more than the margin below the best point."""
    CRITERION_FELL_BELOW_UNTRAINED = (
        "the {criterion} fell to {value:.4g}, from {reference:.4g} untrained"
    )
    """The criterion fell more than the margin below the untrained model's,
    which was better than any point since."""

    @property
    def is_fall(self) -> bool:
        """The criterion fell (finite, but far below the best or the reference)."""
        return self in (
            DivergenceCause.CRITERION_FELL,
            DivergenceCause.CRITERION_FELL_BELOW_UNTRAINED,
        )


@dataclass(frozen=True)
class Diagnosis:
    """A divergence's cause and the numbers that make it one."""

    cause: DivergenceCause
    criterion: str
    """Name of the stopping criterion (:data:`VALIDATION_CRITERION` or
    :data:`TRAINING_CRITERION`)."""
    loss: float
    """The epoch's mean training loss."""
    best_loss: float
    """The lowest finite training loss before this epoch."""
    value: float
    """The epoch's criterion (a log-likelihood)."""
    best_value: float
    """The criterion at the best point before this epoch."""
    best_epoch: int
    """Epoch of the best point; 0 is the start."""
    reference: float
    """The criterion of the starting model (``-inf`` if not finite)."""

    @property
    def message(self) -> str:
        """The cause in words, e.g. "the training loss became nan"."""
        best_point = "the start" if self.best_epoch == 0 else f"epoch {self.best_epoch}"
        return self.cause.value.format(
            criterion=self.criterion,
            loss=self.loss,
            best_loss=self.best_loss,
            value=self.value,
            best_value=self.best_value,
            best_point=best_point,
            reference=self.reference,
        )


def diagnose(
    loss: float,
    best_loss: float,
    value: float,
    best_value: float,
    best_epoch: int,
    reference: float,
    margin: float,
    criterion: str,
) -> Diagnosis | None:
    """Why this epoch counts as divergence, or ``None`` if it does not.

    Parameters
    ----------
    loss, best_loss : float
        The epoch's mean training loss, and the lowest before it.
    value, best_value : float
        The epoch's stopping criterion (a log-likelihood), and the best
        before it (``-inf`` if none).
    best_epoch : int
        Epoch of the best point; 0 is the start.
    reference : float
        The untrained or starting model's criterion (``-inf`` if not finite).
    margin : float
        How far an epoch may fall below the better of the best point and the
        reference (:func:`explosion_margin`).
    criterion : str
        Name of the criterion, for the message.

    Returns
    -------
    Diagnosis or None
        The first cause that applies, in the order of :class:`DivergenceCause`.
    """
    if not math.isfinite(loss):
        cause = DivergenceCause.NON_FINITE_LOSS
    elif loss > best_loss + margin:
        cause = DivergenceCause.LOSS_ROSE
    elif not math.isfinite(value):
        cause = DivergenceCause.NON_FINITE_CRITERION
    elif value < max(best_value, reference) - margin:
        cause = (
            DivergenceCause.CRITERION_FELL
            if best_value >= reference
            else DivergenceCause.CRITERION_FELL_BELOW_UNTRAINED
        )
    else:
        return None
    return Diagnosis(
        cause, criterion, loss, best_loss, value, best_value, best_epoch, reference
    )
