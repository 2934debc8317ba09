"""What MAFDensity and LGFDensity share: validation, standardisation, seeding,
device handling, threads, progress, the call into the training loop, scoring,
sampling and the fitted state that model files store.

No tensor maths here: the engine model (:class:`sklearn_lgf.nn.DensityModel`)
computes, :mod:`sklearn_lgf.nn.evaluation` chunks; an estimator only converts
``X`` and the results."""

from __future__ import annotations

import contextlib
import copy
import inspect
import math
import warnings
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Iterator
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _out_of_core
from ._progress import FitProgress, rows_bar
from ._standardise import (
    TRAINING_FENCE,
    extreme_rows,
    fence_scale,
    robust_location_scale,
)
from ._steps import BASE_STEPS, CONDITIONERS, UNIVARIATES
from ._threads import resolve_threads, torch_threads
from .nn import DensityModel, MonteCarlo, evaluation
from .nn.data import BlockRows, TrainingRows
from .nn.training import (
    LEARNING_RATES,
    TrainingConfig,
    TrainingDiverged,
    TrainingInterrupted,
    TrainingResult,
    train,
)

SEED_BOUND = 2**31 - 1
FLOAT32_MAX = float(np.finfo(np.float32).max)
# With verbose, scoring advances its bar after about this many rows through
# the model (rows times importance samples for LGF).
SCORE_SEGMENT_MODEL_ROWS = 2**17
# Standardised values the float32 model can take: their squares (in the
# Gaussian base density and the networks) must not overflow float32.
FLOAT32_SAFE = math.sqrt(FLOAT32_MAX)


class TrainingDivergedWarning(UserWarning):
    """Training diverged; the best weights seen were restored.

    Also raised when a warm refit could not improve on, or fell behind, the
    model it started from. Deliberately not a ``ConvergenceWarning``, which
    is often silenced for ``max_iter``.
    """


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` is CUDA when available, else the CPU; anything else is checked."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device={device!r} is not a torch device: {error}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available")
    return resolved


def draw_seeds(random_state: Any, n: int) -> list[int]:
    """``n`` seeds from ``random_state``; ``None`` uses fresh OS entropy.

    Fresh entropy rather than numpy's global generator, so that fitting or
    sampling never changes the global random state a user may rely on.
    """
    if random_state is None:
        seeds = np.random.default_rng().integers(0, SEED_BOUND, size=n)
    else:
        seeds = check_random_state(random_state).randint(0, SEED_BOUND, size=n)
    return [int(s) for s in seeds]


def layer_sizes(sizes: Any) -> tuple[int, ...]:
    """Hidden layer sizes as a tuple (one int means one hidden layer)."""
    try:
        return tuple(sizes)
    except TypeError:
        return (sizes,)


def check_layer_sizes(name: str, sizes: Any) -> None:
    """A ValueError naming ``name`` unless ``sizes`` are positive ints."""
    values = layer_sizes(sizes)
    if not values or not all(
        isinstance(v, Integral) and not isinstance(v, bool) and v > 0 for v in values
    ):
        raise ValueError(
            f"{name} must be a non-empty sequence of positive ints, got {sizes!r}"
        )


class BaseFlowDensity(DensityMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of the flow density estimators. Not for direct use.

    A subclass declares its parameters, checks what constraints cannot
    express, builds its engine model and says how that model estimates what
    it cannot compute (:meth:`_monte_carlo`); the scikit-learn contract lives
    here.
    """

    _parameter_constraints: dict = {
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "conditioner": [StrOptions(set(CONDITIONERS))],
        "univariate": [StrOptions(set(UNIVARIATES))],
        "base": [StrOptions(set(BASE_STEPS)), Hidden(StrOptions({"deprecated"}))],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "tail_bound": [Interval(Real, 0, None, closed="neither")],
        "batch_norm": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "learning_rate": [StrOptions(set(LEARNING_RATES))],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "n_threads": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
            None,
        ],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # Work from which n_threads="auto" uses the threads it may (None:
    # sklearn_lgf._threads.AUTO_MIN_WORK).
    _auto_min_work: int | None = None

    # ----------------------------------------------------- subclass hooks
    @abstractmethod
    def _build_model(self, n_features: int) -> DensityModel:
        """A fresh, untrained engine model for standardised data (the
        parameters have been checked)."""

    def _check_params(self) -> None:
        """Check what the parameter constraints cannot express (once per fit)."""
        check_layer_sizes("hidden_layer_sizes", self.hidden_layer_sizes)

    def _monte_carlo(self) -> MonteCarlo:
        """How the model estimates what it cannot compute (exact: unused)."""
        return MonteCarlo(seed=self._noise_seed)

    # -------------------------------------------------------------- model
    def _threads(self, rows: int) -> contextlib.AbstractContextManager[None]:
        """Torch's intra-op threads for a computation on ``rows`` rows at once."""
        return torch_threads(
            resolve_threads(self.n_threads, self.model_, rows, self._auto_min_work)
        )

    def _model(self) -> DensityModel:
        """The fitted model on the estimator's device, set up with the current
        parameters (they may have changed since fit, e.g. through
        ``set_params(n_importance_samples=...)``, checked here as ``fit``
        checks them)."""
        self._validate_params()
        device = resolve_device(self.device)
        if getattr(self, "_device", None) != device:
            self.model_.to(device)
            self._device = device
        self.model_.monte_carlo = self._monte_carlo()
        return self.model_

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> BaseFlowDensity:
        """Fit the flow to ``X`` by maximum likelihood (or its lower bound).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. Each feature is standardised internally; all
            log-densities are reported in the units of ``X``. A
            :class:`numpy.memmap` (e.g. from ``np.load(path, mmap_mode="r")``)
            is fitted out of core, for data larger than memory: it is read
            in blocks of rows and never loaded whole (see Notes).
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : object
            The fitted estimator.

        Notes
        -----
        A memmap takes two sequential passes before training: the first
        checks the values (a NaN or infinity raises a ValueError naming its
        row) and computes the fence beyond which rows are too far out to
        train on from a uniform sample of up to ``2**21`` values' worth of
        rows (all rows of a smaller file, which then gets exactly the
        in-memory fence); the second computes the standardisation over all
        other rows (the in-memory statistics, up to rounding). The
        validation rows are drawn by a pseudo-random permutation computed
        on demand, and an epoch reads blocks of about 64 KiB of rows in a
        random order, shuffling the rows of 16 MiB of blocks together:
        memory stays flat in the number of rows. The training order
        therefore differs from the in-memory fit of the same rows (pass
        ``np.asarray(X)`` to get that one); both are random orders of
        equal standing.
        """
        self._check_params()
        resolve_device(self.device)
        warm = self.warm_start and hasattr(self, "model_")
        streamed = _out_of_core.is_streamed(X)
        if streamed:
            validate_data(self, X, skip_check_array=True, reset=not warm)
        else:
            X = validate_data(self, X, dtype=np.float64, reset=not warm)
        if X.shape[0] < 2:
            raise ValueError(
                f"Found n_samples={X.shape[0]}; {type(self).__name__} needs at "
                "least 2 samples to fit."
            )
        init_seed, split_seed, shuffle_seed, noise_seed = draw_seeds(
            self.random_state, 4
        )
        train_rows: torch.Tensor | TrainingRows
        valid_rows: torch.Tensor | Callable[[], Iterator[torch.Tensor]]
        if streamed:
            train_rows, valid_rows = self._streamed_rows(
                X, warm, (init_seed, split_seed, noise_seed)
            )
            model = self._model()
        else:
            # The fence's statistics cost seconds on millions of rows: once.
            fence = fence_scale(X) if len(X) > 1 else None
            far = (
                extreme_rows(X, fence) if fence is not None else np.zeros(len(X), bool)
            )
            if not warm:
                self._initialise(X, init_seed, noise_seed, extreme=far)
            model = self._model()
            Z = self._float32_rows(X, self._standardise(X))
            Z = self._drop_extreme_rows(Z, X, far, fence)
            train_rows, valid_rows = self._split(Z, split_seed, self._device)
        result = self._train(
            model, train_rows, valid_rows, (shuffle_seed, noise_seed), warm
        )
        self._record(result)
        self._warn_about(result)
        if not result.converged and result.divergence is None:
            warnings.warn(
                f"{type(self).__name__} reached max_iter={self.max_iter} epochs before "
                "the stopping criterion was met; consider increasing max_iter.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _initialise(
        self,
        X: np.ndarray,
        init_seed: int,
        noise_seed: int,
        statistics: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
        *,
        extreme: np.ndarray | None = None,
    ) -> None:
        """Standardisation, a fresh model and an empty history for a new fit.
        ``statistics``: :func:`robust_location_scale`'s result if known;
        ``extreme``: :func:`extreme_rows` of ``X`` if known."""
        location, scale, constant = (
            robust_location_scale(X, extreme) if statistics is None else statistics
        )
        if constant.any():
            warnings.warn(
                f"Features {np.flatnonzero(constant).tolist()} are constant in the "
                "training data; the fitted density is degenerate along them.",
                UserWarning,
                stacklevel=4 if statistics is None else 5,
            )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            model = self._build_model(X.shape[1])
        self.location_, self.scale_, self.model_ = location, scale, model
        self.__dict__.pop("_device", None)  # the new model is on the CPU
        self._noise_seed = noise_seed
        self.loss_curve_: list[float] = []
        self.validation_scores_: list[float] = []
        self.best_validation_score_: float | None = None
        self.n_iter_ = 0
        self.converged_ = False

    def _split(
        self, Z: np.ndarray, seed: int, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training and validation rows (none without early stopping)."""
        n_samples = len(Z)
        val_rows = 0
        if self.early_stopping:
            val_rows = max(1, int(math.ceil(self.validation_fraction * n_samples)))
            if val_rows >= n_samples:
                val_rows = n_samples - 1
        order = np.random.RandomState(seed).permutation(n_samples)
        return (
            torch.as_tensor(Z[order[val_rows:]], dtype=torch.float32, device=device),
            torch.as_tensor(Z[order[:val_rows]], dtype=torch.float32, device=device),
        )

    def _streamed_rows(
        self, X: np.ndarray, warm: bool, seeds: tuple[int, int, int]
    ) -> tuple[TrainingRows, torch.Tensor | Callable[[], Iterator[torch.Tensor]]]:
        """The training rows of the memmap ``X`` and a function that streams
        its validation rows, once the passes over ``X`` have set a new fit's
        standardisation and checked every row (see the Notes of
        :meth:`fit`); without validation rows, an empty tensor instead of
        the function. ``seeds``: the model's, the split's and the noise's."""
        init_seed, split_seed, noise_seed = seeds
        found = _out_of_core.scan(X, split_seed)
        if not warm:
            statistics = (found.location, found.scale, found.constant)
            self._initialise(X, init_seed, noise_seed, statistics)
        self._model()  # on its device: sets self._device
        self._check_float32_range(X, found.minimum, found.maximum)
        if len(found.extreme):
            i = int(found.extreme[0])
            row = np.asarray(X[i], dtype=np.float64)
            self._warn_extreme(len(found.extreme), i, row, found.median, found.spread)
        kept = found.n_rows - len(found.extreme)
        n_validation = _out_of_core.validation_rows(
            kept, self.early_stopping, self.validation_fraction
        )
        rows = _out_of_core.MemmapRows(
            X,
            found.extreme,
            self.location_,
            self.scale_,
            n_validation,
            split_seed,
            self._device,
        )
        train_rows = BlockRows(
            rows.read_training,
            rows.n_blocks,
            rows.n_training,
            X.shape[1],
            window_blocks=rows.window_blocks,
            seed=split_seed,
            device=self._device,
        )
        if not n_validation:
            return train_rows, torch.empty(0, X.shape[1], device=self._device)
        return train_rows, rows.validation_parts

    def _check_float32_range(
        self, X: np.ndarray, minimum: np.ndarray, maximum: np.ndarray
    ) -> None:
        """:meth:`_float32_rows`'s check of the memmap ``X`` whose columns
        range from ``minimum`` to ``maximum``: only when a value fails is ``X``
        read again, to name the first one."""
        with np.errstate(over="ignore", invalid="ignore"):
            reach = np.maximum(
                np.abs(self._standardise(minimum)), np.abs(self._standardise(maximum))
            )
        if (reach <= FLOAT32_SAFE).all():
            return
        reader = _out_of_core.RowReader(X)
        for start, x in _out_of_core.chunks(reader):
            self._float32_rows(x, self._standardise(x), first_row=start)

    def _train(
        self,
        model: DensityModel,
        train_rows: torch.Tensor | TrainingRows,
        valid_rows: torch.Tensor | Callable[[], Iterator[torch.Tensor]],
        seeds: tuple[int, int],
        warm: bool,
    ) -> TrainingResult:
        """Run the training loop with the estimator's settings, threads and
        progress display; a failed or interrupted run leaves the estimator in
        a documented state. ``seeds``: the shuffling's and the training
        draws' (fresh for every fit, warm or not). The rows are tensors, or
        for data read on demand a :class:`TrainingRows` and a function that
        streams the validation rows."""
        shuffle_seed, noise_seed = seeds
        if isinstance(train_rows, torch.Tensor):
            n_train = len(train_rows)
        else:
            n_train = train_rows.n_rows
        batch_size = self._batch_size(n_train)
        config = TrainingConfig(
            max_iter=self.max_iter,
            batch_size=batch_size,
            learning_rate=self.learning_rate,
            learning_rate_init=self.learning_rate_init,
            alpha=self.alpha,
            early_stopping=self.early_stopping,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            warm_start=warm,
        )

        def validation() -> float:
            if isinstance(valid_rows, torch.Tensor):
                return float(evaluation.validation_log_prob(model, valid_rows).mean())
            return evaluation.streamed_validation_mean(model, valid_rows())

        validating = not isinstance(valid_rows, torch.Tensor) or len(valid_rows) > 0
        device = train_rows.device
        progress = FitProgress(type(self).__name__, self.max_iter, int(self.verbose))
        try:
            with progress, self._threads(min(batch_size, n_train)):
                return train(
                    model,
                    train_rows,
                    config,
                    validation=validation if validating else None,
                    shuffle_generator=torch.Generator().manual_seed(shuffle_seed),
                    noise_generator=torch.Generator(device=device).manual_seed(
                        noise_seed
                    ),
                    score_offset=self._log_det_correction(),
                    log=progress.message if self.verbose else None,
                    on_epoch=progress.epoch if self.verbose else None,
                )
        except TrainingInterrupted as interrupt:
            # Ctrl-C: keep what was done (best weights so far, history,
            # calibrated batch norms), then let the interrupt through.
            self._record(interrupt.result)
            raise
        except TrainingDiverged as error:
            for name in _FITTED_ATTRIBUTES:
                self.__dict__.pop(name, None)
            raise TrainingDiverged(
                f"{type(self).__name__} could not be fitted: {error}. "
                f"{self._learning_rate_remedy()}"
            ) from None

    def _record(self, result: TrainingResult) -> None:
        """Add one training run to the fitted history."""
        self.loss_curve_ = self.loss_curve_ + result.loss_curve
        self.validation_scores_ = self.validation_scores_ + result.validation_scores
        self.best_validation_score_ = result.best_validation_score
        self.n_iter_ += len(result.loss_curve)
        self.converged_ = bool(result.converged)

    def _learning_rate_remedy(self) -> str:
        rate = self.learning_rate_init
        return (
            f"learning_rate_init={rate:g} is probably too high for this model and "
            f"data: try a smaller one, e.g. learning_rate_init={rate / 10:g}"
        )

    def _warn_about(self, result: TrainingResult) -> None:
        """Say when training diverged, and which weights were restored."""
        event = result.divergence
        if event is None:
            return
        criterion = (
            "validation log-likelihood"
            if result.best_validation_score is not None
            else "training log-likelihood"
        )
        restored = (
            "the weights it started from"
            if event.restored_epoch == 0
            else f"the weights of epoch {event.restored_epoch} of this fit"
        )
        value = (
            ""
            if event.restored_value is None
            else f" ({criterion} {event.restored_value:.4g})"
        )
        warnings.warn(
            f"{type(self).__name__} training diverged at epoch {event.epoch} of "
            f"this fit: {event.cause}. Training stopped and {restored} were "
            f"restored{value}. {self._learning_rate_remedy()}.",
            TrainingDivergedWarning,
            stacklevel=4,
        )

    def _drop_extreme_rows(
        self,
        Z: np.ndarray,
        X: np.ndarray,
        far: np.ndarray,
        fence: tuple[np.ndarray, np.ndarray] | None,
    ) -> np.ndarray:
        """The standardised training rows ``Z`` without the rows ``far`` of
        ``X`` (:func:`extreme_rows` beyond ``fence``, :func:`fence_scale`'s
        ``(median, spread)``; ``None`` for a single row), with a warning
        naming them.

        One row far out (say at 1e6 among values of order 1) would dominate
        the loss and its gradients and wreck the fit of all the other rows;
        even clipped to the fence it pulls the fit measurably. The model is
        trained without such rows and evaluates every density exactly, theirs
        included.
        """
        if fence is None or not far.any():
            return Z
        rows = np.flatnonzero(far)
        median, spread = fence
        i = int(rows[0])
        self._warn_extreme(len(rows), i, X[i], median, spread)
        return Z[~far]

    def _warn_extreme(
        self,
        n_rows: int,
        i: int,
        row: np.ndarray,
        median: np.ndarray,
        spread: np.ndarray,
        stacklevel: int = 5,
    ) -> None:
        """The warning that ``n_rows`` training rows, the first ``X[i] = row``,
        lie beyond the fence (``median``, ``spread``) and are left out."""
        with np.errstate(over="ignore", invalid="ignore"):
            distance = np.abs(row - median) / np.where(spread > 0, spread, np.inf)
        j = int(np.argmax(distance))
        warnings.warn(
            f"{type(self).__name__}: {n_rows} training row"
            f"{'s lie' if n_rows > 1 else ' lies'} more than {TRAINING_FENCE:g} "
            "robust standard deviations from the median of a feature, e.g. "
            f"X[{i}, {j}] = {row[j]:.6g}. Such rows would dominate the training "
            "loss, so they are left out of training (their densities are still "
            "evaluated exactly). Remove them if they are errors; transform the "
            "feature (e.g. a logarithm) if it is heavy-tailed.",
            UserWarning,
            stacklevel=stacklevel,
        )

    def _batch_size(self, n_train: int) -> int:
        if self.batch_size == "auto":
            # About ten steps an epoch on small data, 1000 rows (as in the
            # reference code) on large data.
            return min(1000, max(32, n_train // 10))
        return int(self.batch_size)

    # ----------------------------------------------------------- transforms
    def _standardise(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return (X - self.location_) / self.scale_

    def _float32_rows(
        self, X: np.ndarray, Z: np.ndarray, first_row: int = 0
    ) -> np.ndarray:
        """``Z`` (standardised ``X``), or a ValueError if float32 cannot hold it
        (naming rows from ``first_row`` on: ``X`` may be a part of the data).

        The model computes in float32: a standardised value beyond
        :data:`FLOAT32_SAFE` (about 1.8e19, whose square is float32's largest
        value, 3.4e38) would overflow inside it and could come out as NaN.
        Standardised values are checked, not ``X``: data in any units work as
        long as their spread is representable.
        """
        bad = ~(np.abs(Z) <= FLOAT32_SAFE)
        if bad.any():
            i, j = (int(k) for k in np.argwhere(bad)[0])
            raise ValueError(
                "Input X contains values too large for dtype('float32') once "
                f"standardised: X[{first_row + i}, {j}] = {X[i, j]:.6g} lies "
                f"{abs(Z[i, j]):.3g} "
                f"times the feature's scale ({self.scale_[j]:.3g}) from its "
                f"location ({self.location_[j]:.6g}). {type(self).__name__} "
                f"computes in float32, where values beyond {FLOAT32_SAFE:.2g} "
                "scale units overflow."
            )
        return Z

    def _log_det_correction(self) -> float:
        """``log p_X(x) = log p_Z(z) + this``, for ``z`` the standardised ``x``."""
        return float(-np.log(self.scale_).sum())

    def _model_input(self, X: Any) -> torch.Tensor:
        """Validated, standardised ``X`` as a float32 tensor on the model's device."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        Z = self._float32_rows(X, self._standardise(X)).astype(np.float32)
        return torch.from_numpy(Z).to(resolve_device(self.device))

    def _score_rows(
        self,
        X: Any,
        estimate: Callable[[DensityModel, torch.Tensor], torch.Tensor],
        what: str,
    ) -> np.ndarray:
        """``estimate(model, rows)`` (an :mod:`~sklearn_lgf.nn.evaluation`
        function) of the standardised rows of ``X``, as float64, in the
        standardised units (see :meth:`_log_det_correction`).

        Runs with the estimator's threads and, with ``verbose``, a progress bar
        advancing by segments of whole scoring chunks (a row's value does not
        depend on how the rows are split: every chunk has the same shape).
        A memmap is read, checked and scored a segment at a time.
        """
        if _out_of_core.is_streamed(X):
            return self._score_streamed(X, estimate, what)
        x = self._model_input(X)
        model = self._model()
        chunk, pass_rows = evaluation.scoring_layout(model, x.device)
        with self._threads(pass_rows):
            bar = rows_bar(type(self).__name__, what, len(x), self.verbose)
            if bar is None:
                return estimate(model, x).double().cpu().numpy()
            with bar:
                segment = chunk * max(1, SCORE_SEGMENT_MODEL_ROWS // pass_rows)
                parts = []
                for start in range(0, len(x), segment):
                    parts.append(estimate(model, x[start : start + segment]))
                    bar.update(len(parts[-1]))
                return torch.cat(parts).double().cpu().numpy()

    def _score_streamed(
        self,
        X: np.ndarray,
        estimate: Callable[[DensityModel, torch.Tensor], torch.Tensor],
        what: str,
    ) -> np.ndarray:
        """:meth:`_score_rows` of a memmap: only the results and one segment of
        rows (whole scoring chunks, about
        :data:`~sklearn_lgf._out_of_core.CHUNK_BYTES` of float64) are in memory."""
        check_is_fitted(self, "model_")
        validate_data(self, X, skip_check_array=True, reset=False)
        model = self._model()
        chunk, pass_rows = evaluation.scoring_layout(model, self._device)
        segment = chunk * max(
            1, _out_of_core.chunk_rows(X, _out_of_core.CHUNK_BYTES) // chunk
        )
        reader = _out_of_core.RowReader(X)
        result: np.ndarray | None = None
        bar = rows_bar(type(self).__name__, what, len(X), self.verbose)
        with (
            self._threads(pass_rows),
            bar if bar is not None else contextlib.nullcontext(),
        ):
            for start, x in _out_of_core.chunks(reader, segment * 8 * X.shape[1]):
                _out_of_core.check_finite(x, start)
                z = self._float32_rows(x, self._standardise(x), first_row=start)
                rows = torch.from_numpy(z.astype(np.float32)).to(self._device)
                values = estimate(model, rows).double().cpu().numpy()
                if result is None:
                    result = np.empty((len(X), *values.shape[1:]))
                result[start : start + len(values)] = values
                if bar is not None:
                    bar.update(len(values))
        reader.close()
        assert result is not None
        return result

    # -------------------------------------------------------------- scoring
    def score_samples(
        self, X: Any, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Log-density of each sample, in the units of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to evaluate. A :class:`numpy.memmap` is read, checked and
            scored in segments of rows, never loaded whole: memory holds one
            segment and the result (8 bytes a row, 16 with ``return_std``).
        return_std : bool, default=False
            Also return each row's Monte Carlo standard error (as
            ``GaussianProcessRegressor.predict`` returns its ``std``).

        Returns
        -------
        log_density : ndarray of shape (n_samples,), dtype float64
            ``log p(x)`` for each row. A row's value does not depend on the
            other rows passed with it.
        std : ndarray of shape (n_samples,), dtype float64
            Only with ``return_std``: the standard error of each row's
            ``log_density`` over the draws of an estimate (0 where the
            log-density is exact). See Notes of the estimator.
        """
        if not return_std:
            log_prob = self._score_rows(X, evaluation.log_prob, "score_samples")
            log_prob += self._log_det_correction()  # in place: n rows may be many
            return log_prob
        values = self._score_rows(X, evaluation.log_prob_and_std, "score_samples")
        return values[:, 0] + self._log_det_correction(), values[:, 1]

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-likelihood of ``X`` (a Python float; higher is better).

        The mean, not the sum, so that scores are comparable across
        cross-validation folds of different sizes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to evaluate.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        score : float
            Mean of :meth:`score_samples` over the rows of ``X``.
        """
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples: int = 1, random_state: Any = None) -> np.ndarray:
        """Draw samples from the fitted density.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.
        random_state : int, RandomState instance or None, default=None
            Seeds the draw; pass an int for reproducible samples. ``None``
            draws fresh entropy and leaves numpy's global state alone.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), dtype float64
            Samples in the units of the training data. For a model fitted on
            a DataFrame the columns follow ``feature_names_in_``.
        """
        check_is_fitted(self, "model_")
        if (
            not isinstance(n_samples, Integral)
            or isinstance(n_samples, bool)
            or n_samples < 1
        ):
            raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
        (seed,) = draw_seeds(random_state, 1)
        model = self._model()
        generator = torch.Generator(device=self._device).manual_seed(seed)
        n = int(n_samples)
        Z = np.empty((n, self.n_features_in_))
        rows = min(evaluation.sample_chunk_rows(self._device), n)
        bar = rows_bar(type(self).__name__, "sample", n, self.verbose)
        with self._threads(rows), bar if bar is not None else contextlib.nullcontext():
            start = 0
            for chunk in evaluation.sample_chunks(model, n, generator):
                Z[start : start + len(chunk)] = chunk.cpu().numpy()
                start += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        return Z * self.scale_ + self.location_

    # --------------------------------------------------------- fitted state
    def _get_fitted_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """What ``fit`` left on the estimator, as plain data and tensors: the
        fitted attributes and the model's weights (on the CPU). Model files
        store exactly this (see :mod:`sklearn_lgf.model_io`)."""
        check_is_fitted(self, "model_")
        fitted: dict[str, Any] = {
            "location_": torch.tensor(np.asarray(self.location_, dtype=np.float64)),
            "scale_": torch.tensor(np.asarray(self.scale_, dtype=np.float64)),
            "n_features_in_": int(self.n_features_in_),
            "n_iter_": int(self.n_iter_),
            "loss_curve_": [float(v) for v in self.loss_curve_],
            "validation_scores_": [float(v) for v in self.validation_scores_],
            "best_validation_score_": _optional_float(self.best_validation_score_),
            "converged_": bool(getattr(self, "converged_", False)),
            "noise_seed": int(self._noise_seed),
        }
        if hasattr(self, "feature_names_in_"):
            fitted["feature_names_in_"] = [str(n) for n in self.feature_names_in_]
        weights = {
            name: tensor.detach().cpu()
            for name, tensor in self.model_.state_dict().items()
        }
        return fitted, weights

    def _set_fitted_state(
        self, fitted: dict[str, Any], weights: dict[str, torch.Tensor]
    ) -> None:
        """Restore what :meth:`_get_fitted_state` gave, checking every value;
        a ValueError names the first bad one. The model is rebuilt from the
        parameters, gets ``weights`` (keys and shapes must match exactly) and
        is left in evaluation mode on the CPU; the global torch random state
        is unchanged. ``converged_`` is ``None`` for files that predate it."""
        self._validate_params()
        self._check_params()
        n_features = _expect_int(fitted, "n_features_in_")
        location = _expect_vector(fitted, "location_", n_features)
        scale = _expect_vector(fitted, "scale_", n_features)
        names = fitted.get("feature_names_in_")
        if names is not None and (
            not isinstance(names, list)
            or len(names) != n_features
            or not all(isinstance(n, str) for n in names)
        ):
            raise ValueError("bad feature_names_in_")
        best = fitted.get("best_validation_score_")
        if best is not None and not isinstance(best, float):
            raise ValueError("bad best_validation_score_")
        converged = fitted.get("converged_")
        if converged is not None and not isinstance(converged, bool):
            raise ValueError("bad converged_")
        n_iter = _expect_int(fitted, "n_iter_")
        loss_curve = _expect_floats(fitted, "loss_curve_")
        validation_scores = _expect_floats(fitted, "validation_scores_")
        noise_seed = _expect_int(fitted, "noise_seed")
        with torch.random.fork_rng(devices=[]):
            model = self._build_model(n_features)
        model.load_state_dict(weights, strict=True)
        model.eval()
        self.model_ = model
        self.location_, self.scale_ = location, scale
        self.n_features_in_ = n_features
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_iter_ = n_iter
        self.loss_curve_ = loss_curve
        self.validation_scores_ = validation_scores
        self.best_validation_score_ = best
        self.converged_ = converged
        self._noise_seed = noise_seed

    # ------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        model = state.get("model_")
        if model is not None and next(model.parameters()).device.type != "cpu":
            state["model_"] = copy.deepcopy(model).cpu()
        state.pop("_device", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # An estimator pickled by an earlier version lacks the parameters
        # added since; their defaults keep what it did (e.g. objective="elbo").
        for name, parameter in inspect.signature(
            type(self).__init__
        ).parameters.items():
            if parameter.default is not inspect.Parameter.empty:
                state.setdefault(name, parameter.default)
        super().__setstate__(state)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


_FITTED_ATTRIBUTES = (
    "model_",
    "location_",
    "scale_",
    "n_iter_",
    "loss_curve_",
    "validation_scores_",
    "best_validation_score_",
    "converged_",
    "n_features_in_",
    "feature_names_in_",
    "_noise_seed",
    "_device",
)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _expect_int(fitted: dict[str, Any], key: str) -> int:
    value = fitted.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"bad {key}")
    return value


def _expect_vector(fitted: dict[str, Any], key: str, n_features: int) -> np.ndarray:
    value = fitted.get(key)
    if (
        not isinstance(value, torch.Tensor)
        or value.dtype != torch.float64
        or tuple(value.shape) != (n_features,)
    ):
        raise ValueError(f"bad {key}")
    return np.array(value.numpy(), dtype=np.float64)


def _expect_floats(fitted: dict[str, Any], key: str) -> list[float]:
    value = fitted.get(key)
    if not isinstance(value, list) or not all(isinstance(v, float) for v in value):
        raise ValueError(f"bad {key}")
    return list(value)
