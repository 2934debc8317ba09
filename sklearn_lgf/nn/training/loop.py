"""The epoch loop of :func:`train`, and how it ends."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..data import DequantisedRows, TensorRows, TrainingRows
from ..model import DensityModel
from .config import (
    Divergence,
    EpochReport,
    TrainingConfig,
    TrainingInterrupted,
    TrainingResult,
)
from .divergence import explosion_margin
from .monitor import Decision, EarlyStopping
from .passes import StoppingCriterion, calibrate, has_batch_norm, train_epoch
from .schedule import LR_DIVISOR, LearningRateSchedule, make_optimizer

# Training rows on which a fresh model's untrained loss is measured when
# there is no validation split: in-memory rows arrive shuffled, a memmap's
# are its first rows; either is plenty for a reference many nats wide.
REFERENCE_ROWS = 4096
# Seeds the fixed dequantisation noise of the fixed-weight passes relative to
# the training noise's seed (whose +1 and +2 the LGF's validation draws and
# the batch-norm calibration use).
DEQUANTISE_SEED_OFFSET = 3


def train(
    model: DensityModel,
    x_train: Tensor | TrainingRows,
    config: TrainingConfig,
    *,
    validation: Callable[[], float] | None = None,
    shuffle_generator: torch.Generator,
    noise_generator: torch.Generator,
    score_offset: float = 0.0,
    dequantise: Sequence[float] | None = None,
    log: Callable[[str], None] | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> TrainingResult:
    """Maximise the model's objective with Adam, epoch by epoch.

    With ``config.early_stopping``, ``validation`` decides when to stop and
    the best weights are restored at the end. Without it the training loss
    does, and the last epoch's weights are kept unless training diverged.
    With ``config.learning_rate == "adaptive"`` a stall first restores the
    best weights and divides the learning rate by 5; training stops when it
    would fall below 1e-6. With ``"cosine"`` the rate of each step follows
    :func:`cosine_learning_rate` over ``max_iter`` epochs.

    Divergence (a non-finite loss or score, or an epoch more than
    :func:`explosion_margin` nats worse than the best point) stops training
    with the best weights restored and is described in the result's
    ``divergence``.

    Parameters
    ----------
    model : DensityModel
        Trained in place; anything with
        ``training_loss(batch, generator)`` and the ``nn.Module`` API.
    x_train : Tensor or TrainingRows
        The training rows, in memory or read on demand
        (:mod:`sklearn_lgf.nn.data`).
    config : TrainingConfig
        The training controls.
    validation : callable, optional
        Returns the mean validation log-likelihood of the current weights
        (higher is better).
    shuffle_generator, noise_generator : torch.Generator
        The order of the rows; the training loss's draws.
    score_offset : float, default=0.0
        Added to every recorded log-likelihood (and subtracted from losses),
        so that the figures are in the units the caller wants.
    dequantise : sequence of float, optional
        Per feature, the width of the uniform noise centred on each training
        value (``0``: none): the grid spacing of a discrete feature in the
        units of the rows. Every training batch gets fresh noise from
        ``noise_generator`` (:class:`~sklearn_lgf.nn.data.DequantisedRows`),
        so the model fits the dequantised data. ``None`` or all zeros: the
        rows are used as they are, and nothing is drawn.
    log : callable, optional
        Receives one-line messages (rate changes, stopping, divergence).
    on_epoch : callable, optional
        Receives an :class:`EpochReport` after each epoch.

    Returns
    -------
    TrainingResult
        The curves, the best point and how training ended.

    Raises
    ------
    TrainingDiverged
        For a fresh model (``config.warm_start`` false) whose every epoch
        diverged or stayed far below the untrained model.
    TrainingInterrupted
        On ``KeyboardInterrupt``, once the best weights are restored.
    """
    rows = x_train if isinstance(x_train, TrainingRows) else TensorRows(x_train)
    if dequantise is not None and any(width > 0 for width in dequantise):
        rows = DequantisedRows(
            rows,
            torch.tensor(list(dequantise), dtype=rows.dtype, device=rows.device),
            noise_generator,
            noise_generator.initial_seed() + DEQUANTISE_SEED_OFFSET,
        )
    batch_size = min(config.batch_size, rows.n_rows)
    optimizer = make_optimizer(model, config, batch_size, rows.device)
    criterion = StoppingCriterion(
        model, rows, batch_size, noise_generator,
        validation if config.early_stopping else None, score_offset,
    )  # fmt: skip
    run = _Run(
        model=model,
        rows=rows,
        batch_size=batch_size,
        config=config,
        optimizer=optimizer,
        schedule=LearningRateSchedule(
            optimizer, config, math.ceil(rows.n_rows / batch_size)
        ),
        criterion=criterion,
        monitor=EarlyStopping(
            model,
            criterion=criterion.name,
            margin=explosion_margin(rows.n_features),
            tol=config.tol,
            n_iter_no_change=config.n_iter_no_change,
            falls_diverge=not (criterion.validating and has_batch_norm(model)),
        ),
        shuffle_generator=shuffle_generator,
        noise_generator=noise_generator,
        score_offset=score_offset,
        log=log,
        on_epoch=on_epoch,
    )
    try:
        # A fresh model's starting point is only a reference for divergence,
        # many nats wide: a sample of rows is enough. A warm start's is
        # compared with the end (on the same rows), so it takes them all.
        run.monitor.start(
            criterion.measure(None if config.warm_start else REFERENCE_ROWS),
            candidate=config.warm_start,
        )
        for epoch in range(1, config.max_iter + 1):
            if not run.epoch(epoch):
                break
    except KeyboardInterrupt:
        raise TrainingInterrupted(run.finish(interrupted=True)) from None
    return run.finish(interrupted=False)


@dataclass
class _Run:
    """One call of :func:`train`: what it works with, and what it recorded."""

    model: DensityModel
    rows: TrainingRows
    batch_size: int
    config: TrainingConfig
    optimizer: torch.optim.Optimizer
    schedule: LearningRateSchedule
    criterion: StoppingCriterion
    monitor: EarlyStopping
    shuffle_generator: torch.Generator
    noise_generator: torch.Generator
    score_offset: float
    log: Callable[[str], None] | None
    on_epoch: Callable[[EpochReport], None] | None
    loss_curve: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    converged: bool = False
    divergence: Divergence | None = None

    def epoch(self, epoch: int) -> bool:
        """Train, measure and judge epoch ``epoch``; whether training goes on."""
        started = time.perf_counter()
        loss = train_epoch(
            self.model, self.rows, self.batch_size, self.optimizer, self.schedule,
            self.shuffle_generator, self.noise_generator,
        ) - self.score_offset  # fmt: skip
        self.model.eval()
        value = self.criterion.of_epoch(loss)
        # Recorded together, once the epoch is complete (an interrupt before
        # this point leaves no trace of the unfinished epoch).
        self.loss_curve.append(loss)
        if self.criterion.validating:
            self.scores.append(value)
        decision = self.monitor.update(epoch, loss, value)
        if self.on_epoch is not None:
            self.on_epoch(
                EpochReport(
                    epoch=epoch,
                    max_iter=self.config.max_iter,
                    loss=loss,
                    validation_score=value if self.criterion.validating else None,
                    best_score=self.monitor.best_value,
                    improved=self.monitor.improved,
                    learning_rate=self.schedule.rate,
                    seconds=time.perf_counter() - started,
                )
            )
        if decision is Decision.DIVERGED:
            self.divergence = _diverged(self.monitor, epoch, self.log)
            return False
        if decision is Decision.STALLED:
            self.converged = not _after_stall(self.monitor, self.schedule, self.log)
            return not self.converged
        return True

    def finish(self, *, interrupted: bool) -> TrainingResult:
        """Leave the model with the weights to return, its batch norms
        calibrated, in evaluation mode, and say what happened.

        With a validation split, after a divergence or an interrupt, those
        are the best weights; otherwise the last ones (as ``MLPClassifier``),
        unless a warm start ended worse on its training rows than it began.
        """
        monitor, validating = self.monitor, self.criterion.validating
        returned_epoch = monitor.best_epoch
        if validating or self.divergence is not None or interrupted:
            monitor.restore_best()
        else:
            returned_epoch = len(self.loss_curve)
        self._calibrate()
        if (
            self.config.warm_start
            and not validating
            and self.divergence is None
            and not interrupted
            and self._lost_ground()
        ):
            monitor.restore_start()
            self._calibrate()
            returned_epoch = 0
        self.model.eval()
        best = monitor.best_value
        return TrainingResult(
            self.loss_curve,
            self.scores,
            best if validating and math.isfinite(best) else None,
            self.converged,
            start_value=monitor.start_value,
            best_epoch=returned_epoch,
            divergence=self.divergence,
            interrupted=interrupted,
        )

    def _calibrate(self) -> None:
        calibrate(self.model, self.rows, self.noise_generator)

    def _lost_ground(self) -> bool:
        """The epochs left the model worse on its training rows than it
        started (measured only after some epoch, from a finite start)."""
        start = self.monitor.start_value
        return (
            bool(self.loss_curve)
            and start is not None
            and math.isfinite(start)
            and self.criterion.measure() < start
        )


def _diverged(
    monitor: EarlyStopping, epoch: int, log: Callable[[str], None] | None
) -> Divergence:
    """The record of the divergence at ``epoch``, said in ``log``.

    Raises :class:`TrainingDiverged` when nothing is worth keeping
    (:meth:`EarlyStopping.divergence`).
    """
    divergence = monitor.divergence(epoch)
    if log is not None:
        best = monitor.best_epoch
        where = "the start" if best == 0 else f"epoch {best}"
        log(f"Epoch {epoch}: {divergence.cause}; restoring the weights of {where}.")
    return divergence


def _after_stall(
    monitor: EarlyStopping,
    schedule: LearningRateSchedule,
    log: Callable[[str], None] | None,
) -> bool:
    """Whether training goes on after a stall: an adaptive rate is divided,
    from the best weights rather than wherever the stall wandered to, while
    it may be; otherwise training has converged."""
    if not schedule.can_reduce():
        if log is not None:
            stalled = monitor.epochs_without_improvement
            log(f"No improvement for {stalled} epochs: stopping.")
        return False
    monitor.rewind()
    rate = schedule.reduce()
    if log is not None:
        log(
            f"No improvement: back to the weights of epoch {monitor.best_epoch}, "
            f"learning rate divided by {LR_DIVISOR:g} to {rate:.3g}."
        )
    return True
