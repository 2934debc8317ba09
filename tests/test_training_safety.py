"""Training that fails safely: divergence is detected and the best weights
(including a warm start's) restored, the warnings name the cause and the
remedy, and Ctrl-C leaves a consistent estimator."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from torch import nn

from sklearn_lgf import LGFDensity, MAFDensity
from sklearn_lgf._base import TrainingDivergedWarning
from sklearn_lgf._progress import FitProgress
from sklearn_lgf.nn.bijections import BatchNorm
from sklearn_lgf.nn.flow import Flow
from sklearn_lgf.nn.training import (
    DivergenceCause,
    TrainingConfig,
    TrainingDiverged,
    TrainingInterrupted,
    cosine_learning_rate,
    explosion_margin,
    train,
)

# The estimators' fits stop at a few epochs on purpose.
pytestmark = pytest.mark.usefixtures("tiny_budget")

# ------------------------------------------------------------------ engine


class Scripted(nn.Module):
    """One weight ``w``; each training step moves it by exactly -lr (Adam on a
    constant gradient), so with lr=1 and one batch an epoch, ``w == -epoch``.

    The training loss of epoch ``e`` is ``losses[e - 1]``; in evaluation
    mode (the loss of fixed weights) it is ``eval_loss(w)``.
    """

    def __init__(self, losses, eval_loss=lambda w: 1.0, interrupt_at=None):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))
        self.losses = list(losses)
        self.eval_loss = eval_loss
        self.interrupt_at = interrupt_at
        self.steps = 0
        self.w_at_step = []

    def training_loss(self, batch, generator, **kwargs):
        if not self.training:
            return torch.tensor(self.eval_loss(self.w.item()))
        self.steps += 1
        if self.steps == self.interrupt_at:
            raise KeyboardInterrupt
        self.w_at_step.append(self.w.item())
        value = self.losses[self.steps - 1]
        return self.w + (value - self.w.detach())


def scripted_validation(model, values):
    """Validation scores by call: the start first, then one per epoch."""
    calls = iter(values)

    def validation():
        return next(calls)

    return validation


def run(model, validation=None, log=None, **config):
    settings = dict(max_iter=20, batch_size=4, learning_rate_init=1.0)
    settings.update(config)
    return train(
        model,
        torch.zeros(4, 1),
        TrainingConfig(**settings),
        validation=validation,
        shuffle_generator=torch.Generator().manual_seed(0),
        noise_generator=torch.Generator().manual_seed(0),
        log=log,
    )


def test_explosion_margin():
    assert explosion_margin(1) == 10.0
    assert explosion_margin(2) == 10.0
    assert explosion_margin(64) == 320.0


def test_an_exploding_validation_score_restores_the_best_epoch():
    model = Scripted([3.0] * 20)
    scores = [-3.0, -2.0, -1.5, -1.6, -1.5 - 10.5]
    result = run(model, scripted_validation(model, scores))
    assert result.divergence is not None
    assert result.divergence.epoch == 4 and result.divergence.restored_epoch == 2
    assert "validation log-likelihood fell to -12" in result.divergence.cause
    assert result.divergence.kind is DivergenceCause.CRITERION_FELL
    assert model.w.item() == pytest.approx(-2.0, abs=1e-5)  # the weights after epoch 2
    assert result.validation_scores == scores[1:]
    assert len(result.loss_curve) == 4
    assert result.best_validation_score == -1.5 and result.best_epoch == 2


class ScriptedWithBatchNorm(Scripted):
    def __init__(self, losses):
        super().__init__(losses)
        self.norm = BatchNorm(1)


def test_a_batch_normalised_models_validation_drop_is_left_to_early_stopping():
    """Evaluated with running statistics, a batch-normalised model's
    validation score can fall far for a few epochs and recover: training
    goes on and can still improve, and early stopping keeps the best."""
    model = ScriptedWithBatchNorm([3.0] * 20)
    scores = [-3.0, -2.0, -1.5, -701.5, -1201.5, -1.4] + [-1.45] * 20
    result = run(model, scripted_validation(model, scores), n_iter_no_change=3)
    assert result.divergence is None and result.converged
    assert result.best_validation_score == -1.4 and result.best_epoch == 5
    # Its training loss still counts at once.
    model = ScriptedWithBatchNorm([3.0, 2.0, 2.0 + 10.5] + [2.0] * 20)
    result = run(model, scripted_validation(model, [-3.0, -2.0, -1.5, -1.4]))
    assert result.divergence is not None and result.divergence.epoch == 3
    assert result.divergence.restored_epoch == 2


def test_a_drop_within_the_margin_is_not_divergence():
    model = Scripted([3.0] * 20)
    scores = [-3.0, -2.0, -1.5, -1.5 - 9.9] + [-2.0] * 20
    result = run(model, scripted_validation(model, scores), n_iter_no_change=3)
    assert result.divergence is None and result.converged
    assert model.w.item() == pytest.approx(-2.0, abs=1e-5)


def test_a_non_finite_training_loss_restores_the_best_epoch():
    model = Scripted([3.0, 2.0, math.nan, 1.0])
    result = run(model, scripted_validation(model, [-3.0, -2.5, -2.0, -1.0]))
    assert result.divergence.epoch == 3
    assert result.divergence.cause == "the training loss became nan"
    assert result.divergence.kind is DivergenceCause.NON_FINITE_LOSS
    assert model.w.item() == pytest.approx(-2.0, abs=1e-5)


def test_an_exploding_training_loss_without_validation():
    model = Scripted([3.0, 2.0, 1.0, 1.0 + 10.5])
    result = run(model, early_stopping=False)
    assert result.divergence.epoch == 4
    assert "training loss rose to 11.5, from 1" in result.divergence.cause
    assert result.divergence.kind is DivergenceCause.LOSS_ROSE
    assert model.w.item() == pytest.approx(-3.0, abs=1e-5)
    assert result.best_validation_score is None


@pytest.mark.parametrize("nan_epoch", [1, 3])
def test_a_warm_start_never_loses_its_weights(nan_epoch):
    losses = [3.0] * 10
    losses[nan_epoch - 1] = math.nan
    model = Scripted(losses)
    # The start scores -1; every epoch is worse (within the margin).
    scores = [-1.0] + [-1.5] * 10
    result = run(model, scripted_validation(model, scores), warm_start=True)
    assert result.divergence.epoch == nan_epoch
    assert result.divergence.restored_epoch == 0
    assert result.divergence.restored_value == -1.0
    assert model.w.item() == pytest.approx(0.0, abs=1e-5)
    assert result.best_validation_score == -1.0 and result.start_value == -1.0


def test_a_warm_start_that_does_not_improve_keeps_its_weights():
    model = Scripted([3.0] * 20)
    scores = [-1.0] + [-1.2] * 20
    result = run(
        model, scripted_validation(model, scores), warm_start=True, n_iter_no_change=2
    )
    assert result.converged and result.divergence is None
    assert result.best_epoch == 0 and model.w.item() == pytest.approx(0.0, abs=1e-5)


def test_a_warm_start_without_validation_keeps_its_weights_if_training_hurt():
    # The loss of fixed weights grows as |w| does: the start (w = 0) is best.
    model = Scripted([2.0, 2.1, 2.2], eval_loss=lambda w: 1.0 + 0.1 * abs(w))
    result = run(model, early_stopping=False, warm_start=True, max_iter=3)
    assert result.divergence is None and result.best_epoch == 0
    assert model.w.item() == pytest.approx(0.0, abs=1e-5)
    # Without the warm start the last weights are returned, as MLPClassifier.
    model = Scripted([2.0, 2.1, 2.2], eval_loss=lambda w: 1.0 + 0.1 * abs(w))
    result = run(model, early_stopping=False, max_iter=3)
    assert result.best_epoch == 3 and model.w.item() == pytest.approx(-3.0, abs=1e-5)


@pytest.mark.parametrize(
    "losses, scores, cause",
    [
        ([math.nan], [-3.0, -2.0], "the training loss became nan"),
        ([3.0], [-3.0, -3.0 - 10.5], "fell to -13.5, from -3 untrained"),
        ([3.0], [-3.0, math.inf], "validation log-likelihood became inf"),
    ],
)
def test_a_fresh_model_that_diverges_at_once_raises(losses, scores, cause):
    model = Scripted(losses)
    with pytest.raises(TrainingDiverged, match="epoch 1, before any epoch") as info:
        run(model, scripted_validation(model, scores))
    assert cause in str(info.value)


def test_the_adaptive_rate_goes_back_to_the_best_weights():
    model = Scripted([3.0] * 20)
    # Best at epoch 2; epochs 3 and 4 do not improve: with n_iter_no_change=1
    # the rate is divided after epoch 4, from the weights of epoch 2.
    scores = [-5.0, -3.0, -2.0, -2.5, -2.6] + [-2.7] * 20
    messages = []
    run(
        model,
        scripted_validation(model, scores),
        log=messages.append,
        learning_rate="adaptive",
        n_iter_no_change=1,
        max_iter=5,
    )
    # w at the start of each epoch's step: 0, -1, -2, -3, then back to -2.
    assert model.w_at_step == pytest.approx([0.0, -1.0, -2.0, -3.0, -2.0], abs=1e-5)
    assert any("back to the weights of epoch 2" in m for m in messages)


def test_the_cosine_rate_falls_step_by_step_along_half_a_cosine():
    model = Scripted([3.0] * 20)
    # Two steps an epoch, six in all; Adam on a constant gradient moves w by
    # exactly the step's rate.
    run(model, learning_rate="cosine", max_iter=3, batch_size=2)
    moves = -np.diff([*model.w_at_step, model.w.item()])
    expected = [0.5 * (1 + math.cos(math.pi * step / 6)) for step in range(6)]
    assert moves == pytest.approx(expected, abs=1e-5)
    assert cosine_learning_rate(1e-3, 0, 6) == 1e-3
    assert cosine_learning_rate(1e-3, 3, 6) == pytest.approx(5e-4)
    assert cosine_learning_rate(1e-3, 6, 6) == pytest.approx(0.0, abs=1e-18)


@pytest.mark.parametrize("Estimator", [MAFDensity, LGFDensity])
def test_a_cosine_fit_reports_its_falling_rate(Estimator, monkeypatch):
    rates = []
    monkeypatch.setattr(
        FitProgress, "epoch", lambda self, report: rates.append(report.learning_rate)
    )
    extra = LGF_SMALL if Estimator is LGFDensity else {}
    Estimator(
        **SMALL, **extra, max_iter=4, batch_size=100, learning_rate="cosine", verbose=1
    ).fit(X)
    # Three steps an epoch (270 training rows in batches of 100), twelve in
    # all: each epoch reports the rate of its last step.
    expected = [cosine_learning_rate(1e-3, 3 * epoch - 1, 12) for epoch in (1, 2, 3, 4)]
    assert rates == pytest.approx(expected)


def test_an_interrupt_leaves_the_best_weights_and_the_history():
    model = Scripted([3.0, 2.5, 2.0, 2.2, 2.1], interrupt_at=5)
    scores = [-3.0, -2.0, -1.5, -1.7, -1.6]
    with pytest.raises(TrainingInterrupted) as info:
        run(model, scripted_validation(model, scores))
    assert isinstance(info.value, KeyboardInterrupt)
    result = info.value.result
    assert result.interrupted
    assert result.loss_curve == pytest.approx([3.0, 2.5, 2.0, 2.2])
    assert result.validation_scores == scores[1:]
    assert result.best_validation_score == -1.5
    assert model.w.item() == pytest.approx(-2.0, abs=1e-5)


# --------------------------------------------------------------- estimators

X = np.random.RandomState(0).normal(size=(300, 2))
SMALL = dict(n_layers=2, hidden_layer_sizes=(16,), device="cpu", random_state=0)
LGF_SMALL = dict(pq_hidden_layer_sizes=(8,), n_importance_samples=8)


def fitted(Estimator, **params):
    extra = LGF_SMALL if Estimator is LGFDensity else {}
    return Estimator(**SMALL, **extra, max_iter=15, warm_start=True, **params).fit(X)


@pytest.mark.parametrize("Estimator", [MAFDensity, LGFDensity])
def test_a_diverging_warm_refit_keeps_the_previous_model(Estimator):
    est = fitted(Estimator)
    before = est.score_samples(X)
    epochs, curve = est.n_iter_, list(est.loss_curve_)
    est.set_params(learning_rate_init=10.0)
    with pytest.warns(TrainingDivergedWarning) as record:
        est.fit(X)
    (warning,) = record
    message = str(warning.message)
    assert "training diverged at epoch 1 of this fit" in message
    assert "the weights it started from were restored" in message
    assert "learning_rate_init=10 is probably too high" in message
    assert "learning_rate_init=1" in message.split("try a smaller one")[1]
    np.testing.assert_array_equal(est.score_samples(X), before)
    assert est.n_iter_ == epochs + 1 and est.loss_curve_[:epochs] == curve
    assert len(est.loss_curve_) == len(est.validation_scores_) == est.n_iter_
    # The best is the starting point, scored on this fit's validation split.
    assert est.best_validation_score_ >= max(est.validation_scores_[epochs:])


@pytest.mark.parametrize("Estimator", [MAFDensity, LGFDensity])
def test_a_fresh_fit_that_diverges_raises_and_leaves_no_model(Estimator):
    est = fitted(Estimator)
    est.set_params(learning_rate_init=10.0, warm_start=False)
    with pytest.raises(TrainingDiverged) as info:
        est.fit(X)
    message = str(info.value)
    assert message.startswith(f"{Estimator.__name__} could not be fitted")
    assert "learning_rate_init=10 is probably too high" in message
    with pytest.raises(NotFittedError):
        est.score_samples(X)


def test_a_refit_at_a_good_rate_warns_about_nothing_but_max_iter():
    est = fitted(MAFDensity)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", ".* reached max_iter", ConvergenceWarning)
        est.fit(X)


def interrupt_after(calls):
    """Patch Flow.training_loss to raise KeyboardInterrupt at call ``calls``."""
    original = Flow.training_loss
    count = {"n": 0}

    def patched(self, *args, **kwargs):
        count["n"] += 1
        if count["n"] == calls:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    return patched


def test_ctrl_c_leaves_a_consistent_estimator(monkeypatch):
    """Interrupted in the middle of an epoch: the history of the finished
    epochs, the best weights so far with calibrated batch norms (the same
    model as a fit that stops at the best epoch), usable for scoring."""
    params = dict(**SMALL, batch_norm=True, batch_size=30, learning_rate_init=3e-3)
    # 270 training rows in batches of 30: 9 steps an epoch; stop in epoch 7.
    monkeypatch.setattr(Flow, "training_loss", interrupt_after(6 * 9 + 4))
    est = MAFDensity(**params, max_iter=50)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X)
    monkeypatch.undo()
    assert est.n_iter_ == 6
    assert len(est.loss_curve_) == len(est.validation_scores_) == 6
    assert est.best_validation_score_ == max(est.validation_scores_)
    best_epoch = int(np.argmax(est.validation_scores_)) + 1
    reference = MAFDensity(**params, max_iter=best_epoch).fit(X)
    np.testing.assert_array_equal(est.score_samples(X), reference.score_samples(X))
    assert np.isfinite(est.score(X))


def test_ctrl_c_in_a_warm_refit_keeps_the_previous_model(monkeypatch):
    est = fitted(MAFDensity)
    before = est.score_samples(X)
    epochs, curve = est.n_iter_, list(est.loss_curve_)
    monkeypatch.setattr(Flow, "training_loss", interrupt_after(2))
    with pytest.raises(KeyboardInterrupt):
        est.fit(X)
    monkeypatch.undo()
    assert est.n_iter_ == epochs and est.loss_curve_ == curve
    np.testing.assert_array_equal(est.score_samples(X), before)
