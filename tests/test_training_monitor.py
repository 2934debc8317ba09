"""The pieces of the training loop, alone: the divergence rule and the words
of its causes, the early-stopping monitor and the learning-rate schedule,
without a model to fit."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sklearn_lgf.nn.training import (
    Decision,
    DivergenceCause,
    EarlyStopping,
    LearningRateSchedule,
    TrainingConfig,
    TrainingDiverged,
    diagnose,
)
from sklearn_lgf.nn.training.divergence import TRAINING_CRITERION, VALIDATION_CRITERION
from sklearn_lgf.nn.training.passes import calibrate

VALID = VALIDATION_CRITERION

# ------------------------------------------------------- the divergence rule


def cause(
    loss=1.0,
    best_loss=1.0,
    value=-1.0,
    best_value=-1.0,
    best_epoch=2,
    reference=-5.0,
    margin=10.0,
    criterion=VALID,
):
    return diagnose(
        loss, best_loss, value, best_value, best_epoch, reference, margin, criterion
    )


@pytest.mark.parametrize(
    "numbers, expected, message",
    [
        (dict(loss=math.nan), "NON_FINITE_LOSS", "the training loss became nan"),
        (dict(loss=math.inf), "NON_FINITE_LOSS", "the training loss became inf"),
        (
            dict(loss=11.5, best_loss=1.0),
            "LOSS_ROSE",
            "the training loss rose to 11.5, from 1",
        ),
        (
            dict(value=-math.inf),
            "NON_FINITE_CRITERION",
            "the validation log-likelihood became -inf",
        ),
        (
            dict(value=-12.0, best_value=-1.5, best_epoch=2),
            "CRITERION_FELL",
            "the validation log-likelihood fell to -12, from -1.5 at epoch 2",
        ),
        (
            dict(value=-12.0, best_value=-1.5, best_epoch=0),
            "CRITERION_FELL",
            "the validation log-likelihood fell to -12, from -1.5 at the start",
        ),
        (
            dict(value=-13.5, best_value=-math.inf, reference=-3.0),
            "CRITERION_FELL_BELOW_UNTRAINED",
            "the validation log-likelihood fell to -13.5, from -3 untrained",
        ),
        (
            dict(value=-123.456789, best_value=-20.0, reference=-1.0, criterion=None),
            "CRITERION_FELL_BELOW_UNTRAINED",
            "the training log-likelihood (minus the training loss) fell to -123.5, "
            "from -1 untrained",
        ),
    ],
)
def test_each_cause_says_its_numbers_word_for_word(numbers, expected, message):
    if numbers.get("criterion", VALID) is None:
        numbers["criterion"] = TRAINING_CRITERION
    diagnosis = cause(**numbers)
    assert diagnosis.cause is DivergenceCause[expected]
    assert diagnosis.message == message


def test_the_first_cause_that_applies_wins():
    # A non-finite loss beats a rising loss and a non-finite criterion.
    everything = cause(loss=math.nan, value=math.nan)
    assert everything.cause is DivergenceCause.NON_FINITE_LOSS
    assert cause(loss=50.0, value=math.nan).cause is DivergenceCause.LOSS_ROSE
    # A rising loss is named even when the criterion fell too.
    both = cause(loss=50.0, value=-100.0)
    assert both.cause is DivergenceCause.LOSS_ROSE


def test_a_fall_is_measured_from_the_better_of_the_best_and_the_reference():
    # Within the margin of either: not divergence.
    assert cause(value=-10.9, best_value=-1.0, reference=-5.0) is None
    assert cause(value=-14.9, best_value=-20.0, reference=-5.0) is None
    assert cause(loss=10.9, best_loss=1.0) is None
    # Just beyond it.
    below_best = cause(value=-11.1, best_value=-1.0, reference=-5.0)
    assert below_best.cause is DivergenceCause.CRITERION_FELL
    below_reference = cause(value=-15.1, best_value=-20.0, reference=-5.0)
    assert below_reference.cause is DivergenceCause.CRITERION_FELL_BELOW_UNTRAINED


def test_only_the_criterions_falls_are_falls():
    falls = {c for c in DivergenceCause if c.is_fall}
    assert falls == {
        DivergenceCause.CRITERION_FELL,
        DivergenceCause.CRITERION_FELL_BELOW_UNTRAINED,
    }


# ---------------------------------------------------------------- the monitor


def weighted(w=0.0):
    model = nn.Linear(1, 1, bias=False)
    set_weight(model, w)
    return model


def set_weight(model, w):
    with torch.no_grad():
        model.weight.fill_(w)


def weight(model):
    return model.weight.item()


def monitor_of(model, start=-5.0, candidate=False, **options):
    settings = dict(criterion=VALID, margin=10.0, tol=0.1, n_iter_no_change=2)
    settings.update(options)
    monitor = EarlyStopping(model, **settings)
    monitor.start(start, candidate=candidate)
    return monitor


def feed(monitor, model, values, losses=None, first_epoch=1):
    """Epochs with these criterion values; the weight of epoch e is e."""
    decisions = []
    for i, value in enumerate(values):
        epoch = first_epoch + i
        set_weight(model, float(epoch))
        loss = 1.0 if losses is None else losses[i]
        decisions.append(monitor.update(epoch, loss, value))
    return decisions


def test_patience_counts_epochs_that_miss_tol():
    model = weighted()
    monitor = monitor_of(model)
    # Each epoch is better than the last by less than tol: each becomes the
    # best, and each counts towards patience.
    decisions = feed(monitor, model, [-3.0, -2.95, -2.92, -2.91])
    assert decisions == [Decision.CONTINUE] * 3 + [Decision.STALLED]
    assert monitor.best_epoch == 4 and monitor.best_value == -2.91
    assert monitor.improved and monitor.epochs_without_improvement == 3


def test_an_improvement_by_tol_restarts_patience():
    model = weighted()
    monitor = monitor_of(model)
    decisions = feed(monitor, model, [-3.0, -3.5, -3.5, -2.0, -2.5, -2.5, -2.5])
    assert decisions == [Decision.CONTINUE] * 6 + [Decision.STALLED]
    assert monitor.best_epoch == 4 and monitor.best_value == -2.0
    assert not monitor.improved and monitor.epochs_without_improvement == 3


def test_the_best_weights_are_kept_and_restored():
    model = weighted()
    monitor = monitor_of(model)
    feed(monitor, model, [-3.0, -1.0, -2.0])
    assert monitor.improved is False and weight(model) == 3.0
    monitor.restore_best()
    assert weight(model) == 2.0
    # A later change of the model does not reach the kept copy.
    set_weight(model, 7.0)
    monitor.restore_best()
    assert weight(model) == 2.0
    monitor.restore_start()
    assert weight(model) == 0.0


def test_rewind_goes_back_to_the_best_and_counts_patience_afresh():
    model = weighted()
    monitor = monitor_of(model)
    assert feed(monitor, model, [-1.0, -2.0, -2.0, -2.0])[-1] is Decision.STALLED
    monitor.rewind()
    assert weight(model) == 1.0 and monitor.epochs_without_improvement == 0
    assert feed(monitor, model, [-2.0], first_epoch=5) == [Decision.CONTINUE]


def test_without_a_best_point_restore_gives_the_start():
    model = weighted(0.5)
    monitor = monitor_of(model)
    set_weight(model, 3.0)
    monitor.restore_best()
    assert weight(model) == 0.5 and not monitor.has_best


def test_a_divergence_keeps_the_best_point_and_says_what_was_restored():
    model = weighted()
    monitor = monitor_of(model)
    decisions = feed(
        monitor, model, [-3.0, -2.0, -2.5, -12.5], losses=[3.0, 2.0, 1.0, 1.0]
    )
    assert decisions[-1] is Decision.DIVERGED and not monitor.improved
    assert monitor.best_epoch == 2 and monitor.epochs_without_improvement == 1
    record = monitor.divergence(4)
    assert record.epoch == 4 and record.kind is DivergenceCause.CRITERION_FELL
    assert record.cause == (
        "the validation log-likelihood fell to -12.5, from -2 at epoch 2"
    )
    assert record.restored_epoch == 2 and record.restored_value == -2.0
    # The loss is judged against the lowest finite loss seen before.
    assert monitor.best_loss == 1.0


def test_a_non_finite_loss_does_not_become_the_lowest():
    model = weighted()
    monitor = monitor_of(model, candidate=True)
    assert feed(monitor, model, [-4.0], losses=[-math.inf]) == [Decision.DIVERGED]
    assert monitor.best_loss == math.inf
    assert monitor.diagnosis.cause is DivergenceCause.NON_FINITE_LOSS


def test_a_warm_start_is_a_candidate_for_the_best():
    model = weighted(0.5)
    monitor = monitor_of(model, start=-1.0, candidate=True)
    assert monitor.has_best and monitor.best_epoch == 0
    decisions = feed(monitor, model, [-1.5, math.inf])
    assert decisions == [Decision.CONTINUE, Decision.DIVERGED]
    record = monitor.divergence(2)
    assert record.restored_epoch == 0 and record.restored_value == -1.0
    monitor.restore_best()
    assert weight(model) == 0.5


def test_a_non_finite_warm_start_is_no_candidate():
    model = weighted()
    monitor = monitor_of(model, start=math.nan, candidate=True)
    assert not monitor.has_best and monitor.reference == -math.inf
    assert monitor.start_value is not None and math.isnan(monitor.start_value)


@pytest.mark.parametrize(
    "value, message",
    [
        (
            math.nan,
            "training diverged at epoch 1, before any epoch was usable: the "
            "validation log-likelihood became nan (untrained: validation "
            "log-likelihood -3)",
        ),
        (
            -13.5,
            "training diverged at epoch 1, before any epoch was usable: the "
            "validation log-likelihood fell to -13.5, from -3 untrained",
        ),
    ],
)
def test_a_fresh_model_with_nothing_usable_raises_from_its_start(value, message):
    model = weighted(0.5)
    monitor = monitor_of(model, start=-3.0)
    assert feed(monitor, model, [value]) == [Decision.DIVERGED]
    with pytest.raises(TrainingDiverged) as info:
        monitor.divergence(1)
    assert str(info.value) == message
    assert weight(model) == 0.5


def test_with_running_statistics_a_fall_is_left_to_early_stopping():
    """The case of a batch-normalised model judged on its validation score:
    a finite fall is no divergence; non-finite values and the loss are."""
    model = weighted()
    monitor = monitor_of(model, falls_diverge=False, n_iter_no_change=3)
    decisions = feed(monitor, model, [-2.0, -700.0, -1200.0, -1.5])
    assert decisions == [Decision.CONTINUE] * 4
    assert monitor.diagnosis is None and monitor.best_epoch == 4
    monitor.restore_best()
    assert weight(model) == 4.0
    for value, loss in [(math.nan, 1.0), (-1.6, 20.0)]:
        monitor = monitor_of(model, falls_diverge=False)
        decisions = feed(monitor, model, [-2.0, value], losses=[1.0, loss])
        assert decisions == [Decision.CONTINUE, Decision.DIVERGED]
    # The same fall diverges when falls count.
    monitor = monitor_of(model)
    assert feed(monitor, model, [-2.0, -700.0])[-1] is Decision.DIVERGED


# ------------------------------------------------------ the learning rate


def schedule_of(learning_rate, rate=1e-3, max_iter=3, steps_per_epoch=2):
    optimizer = torch.optim.SGD(
        [{"params": [nn.Parameter(torch.zeros(2, 2))]}, {"params": []}], lr=rate
    )
    config = TrainingConfig(
        learning_rate=learning_rate, learning_rate_init=rate, max_iter=max_iter
    )
    return LearningRateSchedule(optimizer, config, steps_per_epoch)


def test_a_cosine_schedule_sets_every_steps_rate():
    schedule = schedule_of("cosine")
    rates = []
    for _ in range(6):
        schedule.before_step()
        rates.append([group["lr"] for group in schedule.optimizer.param_groups])
    expected = [0.5e-3 * (1 + math.cos(math.pi * step / 6)) for step in range(6)]
    assert [a for a, b in rates] == pytest.approx(expected)
    assert all(a == b for a, b in rates) and schedule.step == 6
    assert not schedule.can_reduce()


def test_an_adaptive_rate_is_divided_by_5_down_to_1e_6():
    schedule = schedule_of("adaptive", rate=1e-4)
    schedule.before_step()
    assert schedule.rate == 1e-4
    rates = []
    while schedule.can_reduce():
        rates.append(schedule.reduce())
    assert rates == pytest.approx([2e-5, 4e-6])
    assert all(g["lr"] == rates[-1] for g in schedule.optimizer.param_groups)


def test_a_constant_rate_stays():
    schedule = schedule_of("constant")
    for _ in range(4):
        schedule.before_step()
    assert schedule.rate == 1e-3 and not schedule.can_reduce()


# ------------------------------------------------------------ calibration


def test_a_model_without_batch_norm_is_not_calibrated_and_no_row_is_read():
    class Unreadable:
        def head(self, rows):
            raise AssertionError("read the rows")

    calibrate(nn.Linear(1, 1), Unreadable(), torch.Generator().manual_seed(0))
