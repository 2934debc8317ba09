"""The early-stopping monitor: the best point seen, patience, divergence."""

from __future__ import annotations

import copy
import math
from enum import Enum

from torch import Tensor, nn

from .config import Divergence, TrainingDiverged
from .divergence import Diagnosis, DivergenceCause, diagnose


class Decision(Enum):
    """What the training loop should do after an epoch."""

    CONTINUE = "continue"
    STALLED = "stalled"
    """More than ``n_iter_no_change`` epochs in a row without improvement."""
    DIVERGED = "diverged"
    """See :attr:`EarlyStopping.diagnosis`."""


def snapshot(model: nn.Module) -> dict[str, Tensor]:
    """A copy of the model's weights that later training cannot change."""
    return copy.deepcopy(model.state_dict())


class EarlyStopping:
    """Watches the stopping criterion epoch by epoch and keeps the best weights.

    The criterion is a log-likelihood (higher is better). The point before
    the first epoch is measured with :meth:`start`; each epoch is then passed
    to :meth:`update`, which keeps a copy of the weights of the best point,
    counts the epochs without an improvement of ``tol`` and tells divergence
    (:func:`~sklearn_lgf.nn.training.divergence.diagnose`) apart.

    Parameters
    ----------
    model : torch.nn.Module
        The model being trained: its weights are copied and restored.
    criterion : str
        Name of the criterion, for messages.
    margin : float
        Nats by which an epoch may fall behind before it counts as divergence
        (:func:`~sklearn_lgf.nn.training.divergence.explosion_margin`).
    tol : float
        An epoch improves on the best by at least this much, or counts
        towards ``n_iter_no_change``.
    n_iter_no_change : int
        Epochs without improvement tolerated before :attr:`Decision.STALLED`.
    falls_diverge : bool, default=True
        Whether a finite criterion far below the best is divergence. A
        batch-normalised model validated with running statistics can fall by
        hundreds of nats for a few epochs and recover: for it the fall is
        left to early stopping, and only its training loss and non-finite
        values count.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        criterion: str,
        margin: float,
        tol: float,
        n_iter_no_change: int,
        falls_diverge: bool = True,
    ) -> None:
        self.model = model
        self.criterion = criterion
        self.margin = margin
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.falls_diverge = falls_diverge
        self.start_state = snapshot(model)
        self.start_value: float | None = None
        # A warm start's starting point is a candidate for the best; a fresh
        # model's is only the reference that training must not fall far below.
        self.reference = -math.inf
        self.best_value = -math.inf
        self.best_epoch = 0
        self.best_loss = math.inf
        self.epochs_without_improvement = 0
        self.improved = False
        """The last epoch passed to :meth:`update` is the new best."""
        self.diagnosis: Diagnosis | None = None
        """Why the last epoch diverged, if it did."""
        self._best_state: dict[str, Tensor] | None = None

    @property
    def has_best(self) -> bool:
        """Some point (an epoch, or a warm start) is worth keeping."""
        return self._best_state is not None

    def start(self, value: float, *, candidate: bool) -> None:
        """Record the criterion of the starting weights.

        Parameters
        ----------
        value : float
            The criterion before the first epoch.
        candidate : bool
            The starting weights may be returned (a warm start); otherwise
            they are only the reference that training must not fall far below.
        """
        self.start_value = value
        if candidate and math.isfinite(value):
            self.best_value, self._best_state = value, self.start_state
        self.reference = value if math.isfinite(value) else -math.inf

    def update(self, epoch: int, loss: float, value: float) -> Decision:
        """Judge an epoch; copy its weights when it is the new best.

        Parameters
        ----------
        epoch : int
            The epoch, from 1.
        loss : float
            Its mean training loss.
        value : float
            Its criterion (a log-likelihood).

        Returns
        -------
        Decision
            :attr:`Decision.DIVERGED` leaves the best point and the patience
            as they were, with the cause in :attr:`diagnosis`.
        """
        diagnosis = diagnose(
            loss, self.best_loss, value, self.best_value, self.best_epoch,
            self.reference, self.margin, self.criterion,
        )  # fmt: skip
        if math.isfinite(loss):
            self.best_loss = min(self.best_loss, loss)
        if diagnosis is not None and diagnosis.cause.is_fall and not self.falls_diverge:
            diagnosis = None
        self.diagnosis = diagnosis
        self.improved = diagnosis is None and value > self.best_value
        if diagnosis is not None:
            return Decision.DIVERGED
        self.epochs_without_improvement = (
            self.epochs_without_improvement + 1
            if value < self.best_value + self.tol
            else 0
        )
        if self.improved:
            self.best_value, self.best_epoch = value, epoch
            self._best_state = snapshot(self.model)
        if self.epochs_without_improvement > self.n_iter_no_change:
            return Decision.STALLED
        return Decision.CONTINUE

    def rewind(self) -> None:
        """Go back to the best weights (if any), and count patience afresh."""
        if self._best_state is not None:
            self.model.load_state_dict(self._best_state)
        self.epochs_without_improvement = 0

    def restore_best(self) -> None:
        """Load the best weights, or the starting ones if no point was kept."""
        best = self._best_state
        self.model.load_state_dict(best if best is not None else self.start_state)

    def restore_start(self) -> None:
        """Load the weights training started from."""
        self.model.load_state_dict(self.start_state)

    def divergence(self, epoch: int) -> Divergence:
        """The record of the divergence :meth:`update` reported at ``epoch``.

        Raises
        ------
        TrainingDiverged
            With the starting weights restored, when no point is worth
            keeping (a fresh model whose every epoch diverged or stayed far
            below it).
        """
        diagnosis = self.diagnosis
        assert diagnosis is not None, "update() reported no divergence"
        if self._best_state is None:
            self.restore_start()
            raise TrainingDiverged(self._nothing_usable(epoch, diagnosis))
        return Divergence(
            epoch=epoch,
            cause=diagnosis.message,
            restored_epoch=self.best_epoch,
            restored_value=self.best_value,
            kind=diagnosis.cause,
        )

    def _nothing_usable(self, epoch: int, diagnosis: Diagnosis) -> str:
        """The message of :class:`TrainingDiverged`, with the untrained
        criterion unless the cause already names it."""
        cause = diagnosis.message
        if diagnosis.cause is not DivergenceCause.CRITERION_FELL_BELOW_UNTRAINED:
            cause += f" (untrained: {self.criterion} {self.start_value:.4g})"
        return (
            f"training diverged at epoch {epoch}, before any epoch was usable: {cause}"
        )
