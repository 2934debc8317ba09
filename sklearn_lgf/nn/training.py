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
as a MAF on digits did, and early stopping already keeps its best weights.)
Training then ends: the best weights are restored and the result says why
(:class:`Divergence`). The starting point counts as a candidate when the
caller says so (a warm start), so continuing a good model can never leave it
worse than it was. A fresh model that never gets within the margin of its
untrained self raises :class:`TrainingDiverged` instead: there is nothing
worth returning. ``KeyboardInterrupt`` leaves the model in the same
consistent state (best weights, batch norms calibrated) and the result of
the epochs completed so far in :attr:`TrainingInterrupted.result`.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .bijections import BatchNorm, calibrate_batch_norms
from .data import TensorRows, TrainingRows
from .evaluation import BATCH_NORM_CALIBRATION_ROWS
from .model import DensityModel

# Seeds the batch-norm calibration's draws of u relative to the training
# noise's seed (whose +1 the LGF's validation draws use).
CALIBRATION_SEED_OFFSET = 2
LEARNING_RATES = ("constant", "adaptive", "cosine")
"""The schedules :func:`train` knows (``TrainingConfig.learning_rate``)."""
# As MLPClassifier's learning_rate="adaptive": divide by 5, stop below 1e-6.
LR_DIVISOR = 5.0
MIN_ADAPTIVE_LR = 1e-6
FUSED_ADAM_DEVICES = ("cpu", "cuda")
# Training rows on which a fresh model's untrained loss is measured when
# there is no validation split: in-memory rows arrive shuffled, a memmap's
# are its first rows; either is plenty for a reference many nats wide.
REFERENCE_ROWS = 4096
# An epoch worse than the best point seen by more than this many nats per
# sample and feature (and at least EXPLOSION_MIN_NATS) has exploded. Ordinary
# training moves the mean log-likelihood by fractions of a nat from one epoch
# to the next, overfitting by a few nats over many epochs; the divergences
# this guards against reach tens to 1e26 nats within an epoch or two.
EXPLOSION_NATS_PER_FEATURE = 5.0
EXPLOSION_MIN_NATS = 10.0


def explosion_margin(n_features: int) -> float:
    """Nats per sample by which an epoch may fall behind the best before it
    counts as divergence: ``max(10, 5 * n_features)``."""
    return max(EXPLOSION_MIN_NATS, EXPLOSION_NATS_PER_FEATURE * n_features)


@dataclass
class TrainingConfig:
    """Training controls, named as in scikit-learn's ``MLPClassifier``."""

    max_iter: int = 200
    batch_size: int = 1000
    learning_rate: str = "constant"
    """One of ``"constant"``, ``"adaptive"`` (divide by 5 on a stall) or
    ``"cosine"`` (anneal towards 0 over ``max_iter`` epochs)."""
    learning_rate_init: float = 1e-3
    alpha: float = 0.0
    """L2 penalty on weight matrices: ``alpha * W / batch_size`` is added to
    their gradients (MLPClassifier's ``alpha``); biases are not penalised."""
    early_stopping: bool = True
    n_iter_no_change: int = 10
    tol: float = 1e-4
    warm_start: bool = False
    """The starting weights are a model worth keeping: they are a candidate
    for the best weights, and divergence can never lose them."""


@dataclass
class EpochReport:
    """What one epoch did, for progress displays."""

    epoch: int
    """Epochs completed in this call (1 for the first)."""
    max_iter: int
    loss: float
    """Mean training loss, in the caller's units."""
    validation_score: float | None
    """Mean validation log-likelihood, when validating."""
    best_score: float | None
    """Best value of the stopping criterion so far (a log-likelihood, so minus
    the training loss without validation)."""
    improved: bool
    """This epoch is the new best."""
    learning_rate: float
    seconds: float


@dataclass
class Divergence:
    """Why training stopped early with the best weights restored."""

    epoch: int
    """The epoch (of this call) that diverged."""
    cause: str
    """What happened, e.g. "the training loss became nan"."""
    restored_epoch: int
    """Epoch whose weights were restored; 0 is the starting point."""
    restored_value: float | None
    """The criterion at the restored point (a log-likelihood)."""


@dataclass
class TrainingResult:
    """What happened: per-epoch mean training loss and validation score."""

    loss_curve: list[float]
    validation_scores: list[float]
    best_validation_score: float | None
    converged: bool
    start_value: float | None = None
    """The stopping criterion before the first epoch (a log-likelihood:
    the validation score, or minus the training loss without validation)."""
    best_epoch: int = 0
    """Epoch of the returned weights (0: the starting point); without
    validation and without divergence the last epoch's weights are returned."""
    divergence: Divergence | None = None
    interrupted: bool = False


class TrainingDiverged(RuntimeError):
    """Training of a fresh model diverged before it produced anything usable."""


class TrainingInterrupted(KeyboardInterrupt):
    """``KeyboardInterrupt`` during training, after the model was left consistent.

    :attr:`result` holds the epochs completed before the interruption; the
    model has the best weights seen so far and calibrated batch norms.
    """

    def __init__(self, result: TrainingResult) -> None:
        super().__init__("training interrupted")
        self.result = result


def _state(model: nn.Module) -> dict[str, Tensor]:
    return copy.deepcopy(model.state_dict())


@torch.no_grad()
def _mean_training_loss(
    model: DensityModel,
    rows: TrainingRows,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    """The training loss of the current weights over ``rows`` (evaluation mode)."""
    total = torch.zeros((), dtype=torch.float64, device=rows.device)
    for batch in rows.batches(batch_size):
        loss = model.training_loss(batch, generator)
        total += loss.double() * batch.shape[0]
    return total.item() / rows.n_rows


def train(
    model: DensityModel,
    x_train: Tensor | TrainingRows,
    config: TrainingConfig,
    *,
    validation: Callable[[], float] | None = None,
    shuffle_generator: torch.Generator,
    noise_generator: torch.Generator,
    score_offset: float = 0.0,
    log: Callable[[str], None] | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> TrainingResult:
    """Maximise the model's objective with Adam, epoch by epoch.

    ``validation`` returns the mean validation log-likelihood (higher is
    better); with ``config.early_stopping`` it decides when to stop and the
    best weights are restored at the end. Without it the training loss does
    (and the last epoch's weights are kept, unless training diverged).
    With ``config.learning_rate == "adaptive"`` a stall first restores the
    best weights and divides the learning rate by 5; training stops when it
    would fall below 1e-6. With ``"cosine"`` the rate of each step follows
    :func:`cosine_learning_rate` over ``max_iter`` epochs. ``score_offset`` is
    added to every recorded log-likelihood (and subtracted from losses) so
    that the figures are in the units the caller wants. ``log`` receives
    one-line messages (rate changes, stopping, divergence); ``on_epoch`` a
    report after each epoch.

    ``x_train`` is a tensor of training rows, or a :class:`TrainingRows`
    that reads them on demand (:mod:`sklearn_lgf.nn.data`).

    Divergence (a non-finite loss or score, or an epoch more than
    :func:`explosion_margin` nats worse than the best point) stops training
    with the best weights restored and is described in the result's
    ``divergence``. :class:`TrainingDiverged` is raised only for a fresh
    model (``config.warm_start`` false) whose every epoch diverged or stayed
    that far below the untrained model. A ``KeyboardInterrupt`` is re-raised
    as :class:`TrainingInterrupted` once the best weights are restored.
    """
    rows = x_train if isinstance(x_train, TrainingRows) else TensorRows(x_train)
    n = rows.n_rows
    batch_size = min(config.batch_size, n)
    optimizer = torch.optim.Adam(
        _parameter_groups(model, config.alpha / batch_size),
        lr=config.learning_rate_init,
        # One kernel over all parameters instead of about ten small ones per
        # parameter tensor: an LGF's update fell from 5.4 to 1.4 ms per step.
        fused=rows.device.type in FUSED_ADAM_DEVICES,
    )
    margin = explosion_margin(rows.n_features)
    steps_per_epoch = math.ceil(n / batch_size)
    step = 0
    use_validation = config.early_stopping and validation is not None

    def criterion_now(first_rows: int | None = None) -> float:
        """The stopping criterion of the current weights, as a log-likelihood
        (without validation: on the first ``first_rows`` training rows, or all)."""
        model.eval()
        if use_validation:
            assert validation is not None
            return validation() + score_offset
        measured = rows if first_rows is None else TensorRows(rows.head(first_rows))
        loss = _mean_training_loss(model, measured, batch_size, noise_generator)
        return -(loss - score_offset)

    def calibrate() -> None:
        if not batch_normalised:
            return  # nothing to calibrate: spare a read of the rows
        # Draws of their own, the same at every calibration: from the training
        # stream, they would depend on how many epochs ran after the best one,
        # and the restored best model would not be the best epoch's model.
        draws = torch.Generator(device=noise_generator.device).manual_seed(
            noise_generator.initial_seed() + CALIBRATION_SEED_OFFSET
        )
        calibration = rows.head(BATCH_NORM_CALIBRATION_ROWS)
        calibrate_batch_norms(model, lambda: model.training_loss(calibration, draws))

    loss_curve: list[float] = []
    scores: list[float] = []
    start_state = _state(model)
    start_value: float | None = None
    # The best point: its criterion, epoch and weights. A warm start's
    # starting point is a candidate; a fresh model's is only the reference
    # that training must not fall far below.
    best_value, best_epoch = -math.inf, 0
    best_state: dict[str, Tensor] | None = None
    best_loss = math.inf
    no_improvement = 0
    converged = False
    divergence: Divergence | None = None
    batch_normalised = any(isinstance(m, BatchNorm) for m in model.modules())

    def finish(interrupted: bool = False) -> TrainingResult:
        returned_epoch = best_epoch
        if use_validation or divergence is not None or interrupted:
            model.load_state_dict(best_state if best_state is not None else start_state)
        else:
            returned_epoch = len(loss_curve)  # the last weights, as MLPClassifier
        calibrate()
        if (
            config.warm_start
            and not use_validation
            and divergence is None
            and not interrupted
            and loss_curve
            and start_value is not None
            and math.isfinite(start_value)
            and criterion_now() < start_value
        ):
            # Without a validation split the last weights are returned, but a
            # warm refit must not leave the model worse on its training data
            # than it found it.
            model.load_state_dict(start_state)
            calibrate()
            returned_epoch = 0
        model.eval()
        return TrainingResult(
            loss_curve,
            scores,
            best_value if use_validation and math.isfinite(best_value) else None,
            converged,
            start_value=start_value,
            best_epoch=returned_epoch,
            divergence=divergence,
            interrupted=interrupted,
        )

    try:
        # A fresh model's starting point is only a reference for divergence,
        # many nats wide: a sample of rows is enough, where a pass over all of
        # them cost a third of an epoch. A warm start's is compared with the
        # end (on the same rows), so it takes them all.
        start_value = criterion_now(None if config.warm_start else REFERENCE_ROWS)
        if config.warm_start and math.isfinite(start_value):
            best_value, best_state = start_value, start_state
        reference = start_value if math.isfinite(start_value) else -math.inf
        for epoch in range(1, config.max_iter + 1):
            start = time.perf_counter()
            model.train()
            total = torch.zeros((), dtype=rows.dtype, device=rows.device)
            for batch in rows.epoch_batches(batch_size, shuffle_generator):
                if config.learning_rate == "cosine":
                    rate = cosine_learning_rate(
                        config.learning_rate_init,
                        step,
                        config.max_iter * steps_per_epoch,
                    )
                    for group in optimizer.param_groups:
                        group["lr"] = rate
                step += 1
                loss = model.training_loss(batch, noise_generator)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach() * batch.shape[0]
            epoch_loss = total.item() / n - score_offset
            model.eval()
            if use_validation:
                assert validation is not None
                value = validation() + score_offset
                what = "validation log-likelihood"
            else:
                value = -epoch_loss
                what = "training log-likelihood (minus the training loss)"
            # Recorded together, once the epoch is complete (an interrupt
            # before this point leaves no trace of the unfinished epoch).
            loss_curve.append(epoch_loss)
            if use_validation:
                scores.append(value)
            cause = _divergence_cause(
                epoch_loss, best_loss, value, what, best_value, best_epoch,
                reference, margin,
            )  # fmt: skip
            if math.isfinite(epoch_loss):
                best_loss = min(best_loss, epoch_loss)
            if (
                batch_normalised
                and cause is not None
                and use_validation
                and cause.startswith(f"the {what} fell")
            ):
                cause = None  # running statistics: early stopping decides
            improved = cause is None and value > best_value
            if on_epoch is not None:
                on_epoch(
                    EpochReport(
                        epoch=epoch,
                        max_iter=config.max_iter,
                        loss=epoch_loss,
                        validation_score=value if use_validation else None,
                        best_score=max(best_value, value) if improved else best_value,
                        improved=improved,
                        learning_rate=optimizer.param_groups[0]["lr"],
                        seconds=time.perf_counter() - start,
                    )
                )
            if cause is not None:
                divergence = Divergence(
                    epoch,
                    cause,
                    best_epoch,
                    best_value if best_state is not None else None,
                )
                if best_state is None:
                    model.load_state_dict(start_state)
                    if "untrained" not in cause:
                        cause += f" (untrained: {what} {start_value:.4g})"
                    raise TrainingDiverged(
                        f"training diverged at epoch {epoch}, before any epoch "
                        f"was usable: {cause}"
                    )
                if log is not None:
                    where = "the start" if best_epoch == 0 else f"epoch {best_epoch}"
                    log(f"Epoch {epoch}: {cause}; restoring the weights of {where}.")
                break
            no_improvement = (
                no_improvement + 1 if value < best_value + config.tol else 0
            )
            if improved:
                best_value, best_epoch, best_state = value, epoch, _state(model)
            if no_improvement > config.n_iter_no_change:
                lr = optimizer.param_groups[0]["lr"]
                if (
                    config.learning_rate == "adaptive"
                    and lr / LR_DIVISOR >= MIN_ADAPTIVE_LR
                ):
                    if best_state is not None:
                        # Go on from the best point, not from wherever the
                        # stall wandered to.
                        model.load_state_dict(best_state)
                    for group in optimizer.param_groups:
                        group["lr"] = lr / LR_DIVISOR
                    no_improvement = 0
                    if log is not None:
                        log(
                            f"No improvement: back to the weights of epoch "
                            f"{best_epoch}, learning rate divided by {LR_DIVISOR:g} "
                            f"to {lr / LR_DIVISOR:.3g}."
                        )
                    continue
                converged = True
                if log is not None:
                    log(f"No improvement for {no_improvement} epochs: stopping.")
                break
    except KeyboardInterrupt:
        raise TrainingInterrupted(finish(interrupted=True)) from None
    return finish()


def cosine_learning_rate(initial: float, step: int, total_steps: int) -> float:
    """The rate of step ``step`` (from 0) of ``total_steps`` under cosine
    annealing (Loshchilov and Hutter, 2017, without restarts; the schedule of
    the neural-spline-flow paper): ``initial`` at the first step, falling
    along half a cosine towards 0 after the last."""
    return 0.5 * initial * (1.0 + math.cos(math.pi * step / total_steps))


def _divergence_cause(
    loss: float,
    best_loss: float,
    value: float,
    what: str,
    best_value: float,
    best_epoch: int,
    reference: float,
    margin: float,
) -> str | None:
    """Why this epoch counts as divergence, or ``None`` if it does not.

    ``value`` is the stopping criterion (a log-likelihood) and ``reference``
    the untrained or starting model's: an epoch may fall up to ``margin``
    below the better of the best point and the reference.
    """
    if not math.isfinite(loss):
        return f"the training loss became {loss}"
    if loss > best_loss + margin:
        return f"the training loss rose to {loss:.4g}, from {best_loss:.4g}"
    if not math.isfinite(value):
        return f"the {what} became {value}"
    if value < max(best_value, reference) - margin:
        if best_value >= reference:
            return f"the {what} fell to {value:.4g}, from {best_value:.4g} at " + (
                "the start" if best_epoch == 0 else f"epoch {best_epoch}"
            )
        return f"the {what} fell to {value:.4g}, from {reference:.4g} untrained"
    return None


def _parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Adam's parameter groups: weight matrices with ``weight_decay`` (an L2
    penalty), everything else (biases, batch-norm scales) without."""
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    others = [p for p in model.parameters() if p.dim() < 2]
    return [
        {"params": matrices, "weight_decay": weight_decay},
        {"params": others, "weight_decay": 0.0},
    ]
