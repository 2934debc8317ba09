"""What :func:`~sklearn_lgf.nn.training.train` is asked to do, and what it
reports back: its settings, the per-epoch report, the result and the two
ways it can end early (divergence of a fresh model, Ctrl-C)."""

from __future__ import annotations

from dataclasses import dataclass

from .divergence import DivergenceCause

LEARNING_RATES = ("constant", "adaptive", "cosine")
"""The schedules :func:`train` knows (``TrainingConfig.learning_rate``)."""


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
    """What happened, in words, e.g. "the training loss became nan"."""
    restored_epoch: int
    """Epoch whose weights were restored; 0 is the starting point."""
    restored_value: float | None
    """The criterion at the restored point (a log-likelihood)."""
    kind: DivergenceCause
    """What happened, for code to branch on (:attr:`cause` is for people)."""


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
