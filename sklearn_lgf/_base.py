"""What MAFDensity and LGFDensity share: parameters, seeding, device and
threads, the call into the training loop, scoring and sampling.

No tensor maths here: rows come from :mod:`sklearn_lgf._rows` (arrays and
memmaps alike), the engine model (:class:`sklearn_lgf.nn.DensityModel`)
computes and :mod:`sklearn_lgf.nn.evaluation` chunks; an estimator only
holds the settings and the fitted state.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import warnings
from abc import ABCMeta, abstractmethod
from collections.abc import Callable
from functools import partial
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import _rows
from ._dequantise import check_spacing
from ._images import check_image_shape, check_n_pixels, check_scales, largest_scales
from ._progress import FitProgress, rows_bar
from ._standardise import SCALINGS, Statistics
from ._steps import BASE_STEPS, CONDITIONERS, UNIVARIATES, resolve_step
from ._threads import resolve_threads, torch_threads
from .nn import DensityModel, MonteCarlo, evaluation
from .nn.conditioners import residual_widths
from .nn.data import TrainingRows
from .nn.training import (
    LEARNING_RATES,
    TrainingConfig,
    TrainingDiverged,
    TrainingInterrupted,
    TrainingResult,
    train,
)

SEED_BOUND = 2**31 - 1
AUTO = "auto"


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
    """A ValueError naming ``name`` unless ``sizes`` are positive ints (or
    ``"auto"``)."""
    if isinstance(sizes, str) and sizes == AUTO:
        return
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
    express, builds its engine model and says how that model trains
    (:meth:`_monte_carlo`) and what its scoring calls take
    (:meth:`_scoring_arguments`); the scikit-learn contract lives here.

    A parameter whose value is ``"auto"`` means the subclass's
    :attr:`_tabular_defaults` entry for it, or, with ``image_shape`` set,
    its :attr:`_image_defaults` entry (read through :meth:`_setting`).
    """

    _tabular_defaults: ClassVar[dict[str, Any]] = {}
    """What ``"auto"`` means for tabular data, per parameter."""
    _image_defaults: ClassVar[dict[str, Any]] = {}
    """What ``"auto"`` means with ``image_shape`` set: the paper's settings
    (``n_layers``, the number of scales, follows the shape)."""

    _parameter_constraints: dict = {
        "n_layers": [Interval(Integral, 1, None, closed="left"), StrOptions({AUTO})],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
            StrOptions({AUTO}),
        ],
        "conditioner": [StrOptions({*CONDITIONERS, AUTO})],
        "univariate": [StrOptions({*UNIVARIATES, AUTO})],
        "base": [StrOptions(set(BASE_STEPS)), Hidden(StrOptions({"deprecated"}))],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "tail_bound": [Interval(Real, 0, None, closed="neither")],
        "batch_norm": ["boolean", StrOptions({AUTO})],
        "image_shape": [None, tuple, list],
        "n_levels": [Interval(Integral, 2, None, closed="left")],
        "dequantise": [StrOptions({AUTO}), None, "array-like"],
        "scaling": [StrOptions({*SCALINGS, AUTO})],
        "max_iter": [Interval(Integral, 1, None, closed="left"), StrOptions({AUTO})],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({AUTO}),
        ],
        "learning_rate": [StrOptions(set(LEARNING_RATES))],
        "learning_rate_init": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({AUTO}),
        ],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({AUTO}),
        ],
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

    # ----------------------------------------------------- subclass hooks
    @abstractmethod
    def _build_model(self, n_features: int) -> DensityModel:
        """A fresh, untrained engine model for standardised data (the
        parameters have been checked)."""

    def _check_params(self) -> None:
        """Check what the parameter constraints cannot express (once per fit)."""
        check_layer_sizes("hidden_layer_sizes", self.hidden_layer_sizes)
        if self.image_shape is None:
            return
        shape = check_image_shape(self.image_shape)
        check_scales(shape, self._setting("n_layers"))
        residual_widths(self._setting("hidden_layer_sizes"), "hidden_layer_sizes")
        self._refuse_tabular_choices()

    def _tabular_only(self) -> dict[str, Any]:
        """The parameters set to a value that only tabular data can take
        (refused with ``image_shape``)."""
        refused: dict[str, Any] = {}
        conditioner, _ = resolve_step(self, warn=False)
        if conditioner == "autoregressive":
            refused["conditioner"] = conditioner
        if not (isinstance(self.dequantise, str) and self.dequantise == AUTO):
            refused["dequantise"] = self.dequantise
        return refused

    def _refuse_tabular_choices(self) -> None:
        defaults = inspect.signature(type(self).__init__).parameters
        for name, value in self._tabular_only().items():
            raise ValueError(
                f"{type(self).__name__}: {name}={value!r} is for tabular data; "
                f"with image_shape={tuple(self.image_shape)} {_IMAGE_MEANING[name]}. "
                f"Leave {name} at its default ({name}={defaults[name].default!r})."
            )

    def _setting(self, name: str) -> Any:
        """The value of parameter ``name``, ``"auto"`` resolved: the
        subclass's tabular default or, with ``image_shape``, its image one."""
        value = getattr(self, name)
        if not (isinstance(value, str) and value == AUTO):
            return value
        if self.image_shape is None:
            return self._tabular_defaults[name]
        if name == "n_layers":
            return largest_scales(check_image_shape(self.image_shape))
        return self._image_defaults[name]

    def _step(self, *, warn: bool) -> tuple[str, str]:
        """The ``(conditioner, univariate)`` of the model, ``"auto"`` resolved
        (see :func:`~sklearn_lgf._steps.resolve_step` for ``base``)."""
        conditioner, univariate = resolve_step(self, warn=warn)
        defaults = (
            self._tabular_defaults if self.image_shape is None else self._image_defaults
        )
        return (
            defaults["conditioner"] if conditioner == AUTO else conditioner,
            defaults["univariate"] if univariate == AUTO else univariate,
        )

    def _size(self, name: str, n_features: int) -> Any:
        """:meth:`_setting` of a size parameter whose tabular ``"auto"`` is
        a rule of the data (:mod:`sklearn_lgf._size_rule`): applied to
        ``n_features`` and the rows fitted on (``n_samples_fit_``)."""
        value = self._setting(name)
        if callable(value):
            return value(n_features, getattr(self, "n_samples_fit_", None))
        return value

    @property
    def _levels(self) -> int | None:
        """Images' intensity levels, ``None`` for tabular data."""
        return None if self.image_shape is None else int(self.n_levels)

    def _monte_carlo(self) -> MonteCarlo:
        """How the model trains and validates, set on it once per fit (and
        when a model file is loaded); an exact model uses none of it."""
        return MonteCarlo(seed=self._noise_seed)

    def _scoring_arguments(self) -> dict[str, Any]:
        """The scoring-time settings, passed to every scoring call of
        :mod:`~sklearn_lgf.nn.evaluation` as keyword arguments and checked
        here, where they are read: they may be set after ``fit``. An exact
        model takes none."""
        return {}

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
        X = _rows.check(self, X, reset=not warm)
        if X.shape[0] < 2:
            raise ValueError(
                f"Found n_samples={X.shape[0]}; {type(self).__name__} needs at "
                "least 2 samples to fit."
            )
        if self.image_shape is not None:
            shape = check_image_shape(self.image_shape)
            check_n_pixels(shape, X.shape[1], type(self).__name__)
        spacing = self._given_spacing(X.shape[1])
        init_seed, split_seed, shuffle_seed, noise_seed = draw_seeds(
            self.random_state, 4
        )
        detect = spacing is None and not warm
        found = _rows.scan(
            X,
            split_seed,
            grids=detect,
            levels=self._levels,
            owner=type(self).__name__,
            scaling=self.scaling,
        )
        if not warm:
            if detect:
                spacing = found.spacing
            self._initialise(found, init_seed, noise_seed, spacing)
        model = self._fitted_model()
        model.monte_carlo = self._monte_carlo()
        standardisation = self._standardisation()
        _rows.check_range(standardisation, X, found)
        _rows.warn_extreme(type(self).__name__, X, found, stacklevel=3)
        n_validation = _rows.validation_rows(
            found.n_rows - len(found.extreme),
            self.early_stopping,
            self.validation_fraction,
        )
        rows, validation = _rows.training_rows(
            X, found, standardisation, n_validation, split_seed, self._device
        )
        result = self._train(model, rows, validation, (shuffle_seed, noise_seed), warm)
        self._record(result)
        _warn_about(type(self).__name__, result, self._setting("learning_rate_init"))
        if not result.converged and result.divergence is None:
            warnings.warn(
                f"{type(self).__name__} reached max_iter={self._setting('max_iter')} "
                "epochs before "
                "the stopping criterion was met; consider increasing max_iter.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _given_spacing(self, n_features: int) -> np.ndarray | None:
        """The grid spacings ``dequantise`` gives for ``n_features`` features
        (all 0 for ``None``), or ``None`` for ``"auto"``: to be found."""
        if self.image_shape is not None:
            return np.ones(n_features)  # every pixel, a grid of spacing 1
        if isinstance(self.dequantise, str):  # "auto", the one string allowed
            return None
        if self.dequantise is None:
            return np.zeros(n_features)
        return check_spacing(self.dequantise, n_features, "dequantise")

    def _initialise(
        self,
        found: Statistics,
        init_seed: int,
        noise_seed: int,
        spacing: np.ndarray | None,
    ) -> None:
        """The standardisation ``found``, the grid ``spacing`` (all 0 if
        ``None``), a fresh model and an empty history for a new fit."""
        if found.constant.any():
            warnings.warn(
                f"Features {np.flatnonzero(found.constant).tolist()} are constant "
                "in the training data; the fitted density is degenerate along them.",
                UserWarning,
                stacklevel=4,
            )
        # The rows the model is fitted on, validation rows included: what
        # the size rule of "auto" networks reads (kept for model files).
        self.n_samples_fit_ = int(found.n_rows - len(found.extreme))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            model = self._build_model(len(found.location))
        self.location_, self.scale_, self.model_ = found.location, found.scale, model
        n_features = len(found.location)
        self.grid_spacing_ = np.zeros(n_features) if spacing is None else spacing
        self.__dict__.pop("_device", None)  # the new model is on the CPU
        self._noise_seed = noise_seed
        self.loss_curve_: list[float] = []
        self.validation_scores_: list[float] = []
        self.best_validation_score_: float | None = None
        self.n_iter_ = 0
        self.converged_ = False

    def _train(
        self,
        model: DensityModel,
        rows: torch.Tensor | TrainingRows,
        validation: _rows.Validation | None,
        seeds: tuple[int, int],
        warm: bool,
    ) -> TrainingResult:
        """Run the training loop with the estimator's settings, threads and
        progress display; a failed or interrupted run leaves the estimator in
        a documented state. ``seeds``: the shuffling's and the training
        draws' (fresh for every fit, warm or not)."""
        shuffle_seed, noise_seed = seeds
        n_train = len(rows) if isinstance(rows, torch.Tensor) else rows.n_rows
        if self.batch_size == AUTO and self.image_shape is not None:
            batch_size = int(self._image_defaults["batch_size"])
        else:
            batch_size = _batch_size(self.batch_size, n_train)
        max_iter = self._setting("max_iter")
        config = TrainingConfig(
            max_iter=max_iter,
            batch_size=batch_size,
            learning_rate=self.learning_rate,
            learning_rate_init=self._setting("learning_rate_init"),
            alpha=self.alpha,
            early_stopping=self.early_stopping,
            n_iter_no_change=self._setting("n_iter_no_change"),
            tol=self.tol,
            warm_start=warm,
        )
        validate = None if validation is None else partial(validation, model)
        progress = FitProgress(type(self).__name__, max_iter, int(self.verbose))
        try:
            with progress, self._threads(min(batch_size, n_train)):
                return train(
                    model,
                    rows,
                    config,
                    validation=validate,
                    shuffle_generator=torch.Generator().manual_seed(shuffle_seed),
                    noise_generator=torch.Generator(device=rows.device).manual_seed(
                        noise_seed
                    ),
                    score_offset=self._standardisation().log_det_correction,
                    dequantise=self._standardisation().noise_widths,
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
                f"{_learning_rate_remedy(self._setting('learning_rate_init'))}"
            ) from None

    def _record(self, result: TrainingResult) -> None:
        """Add one training run to the fitted history."""
        self.loss_curve_ = self.loss_curve_ + result.loss_curve
        self.validation_scores_ = self.validation_scores_ + result.validation_scores
        self.best_validation_score_ = result.best_validation_score
        self.n_iter_ += len(result.loss_curve)
        self.converged_ = bool(result.converged)

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
            other rows passed with it. With discrete features
            (``grid_spacing_`` not all 0) ``p`` is the density of the
            dequantised data and ``x`` is the row moved within its grid
            cell by a draw fixed by its values: a density, not a
            probability (see Notes of the estimator).
        std : ndarray of shape (n_samples,), dtype float64
            Only with ``return_std``: the standard error of each row's
            ``log_density`` over the draws of an estimate (0 where the
            log-density is exact). See Notes of the estimator.
        """
        estimate = evaluation.log_prob_and_std if return_std else evaluation.log_prob
        arguments = self._scoring_arguments()
        values = self._score(X, estimate, "score_samples", **arguments)
        correction = self._standardisation().log_det_correction
        if not return_std:
            values += correction  # in place: n rows may be many
            return values
        return values[:, 0] + correction, values[:, 1]

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

    def _score(
        self,
        X: Any,
        estimate: Callable[..., torch.Tensor],
        what: str,
        **arguments: Any,
    ) -> np.ndarray:
        """``estimate(model, rows, **arguments)`` (an
        :mod:`~sklearn_lgf.nn.evaluation` function and its scoring-time
        arguments) of the standardised rows of ``X``, as float64, in the
        standardised units, with the estimator's threads and, with
        ``verbose``, a progress bar named ``what``."""
        check_is_fitted(self, "model_")
        X = _rows.check(self, X, reset=False)
        model = self._fitted_model()
        draws = arguments.get("n_importance_samples")
        layout = model.scoring_layout(self._device, draws)
        with self._threads(layout[1]):
            return _rows.score(
                X,
                self._standardisation(),
                partial(estimate, model, **arguments),
                layout,
                self._device,
                progress=(f"{type(self).__name__} {what}", self.verbose),
            )

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
            a DataFrame the columns follow ``feature_names_in_``. Draws of
            the fitted density: discrete features come out continuous, as
            the dequantised data are. To put feature ``j`` back on its grid,
            round it as ``o + np.round((X[:, j] - o) / h) * h`` with
            ``h = grid_spacing_[j]`` and ``o`` any training value of the
            feature (e.g. its minimum).
        """
        check_is_fitted(self, "model_")
        if (
            not isinstance(n_samples, Integral)
            or isinstance(n_samples, bool)
            or n_samples < 1
        ):
            raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
        (seed,) = draw_seeds(random_state, 1)
        model = self._fitted_model()
        generator = torch.Generator(device=self._device).manual_seed(seed)
        n = int(n_samples)
        Z = np.empty((n, self.n_features_in_))
        rows = min(model.sample_chunk_rows(self._device), n)
        bar = rows_bar(f"{type(self).__name__} sample", self.verbose, total=n)
        with self._threads(rows), bar:
            start = 0
            for chunk in evaluation.sample_chunks(model, n, generator):
                Z[start : start + len(chunk)] = chunk.cpu().numpy()
                start += len(chunk)
                bar.update(len(chunk))
        return Z * self.scale_ + self.location_

    # ------------------------------------------------------ fitted model
    def _fitted_model(self) -> DensityModel:
        """The fitted model, on the device that ``device`` names now (it may
        have been set since ``fit``)."""
        device = resolve_device(self.device)
        if getattr(self, "_device", None) != device:
            self.model_.to(device)
            self._device = device
        return self.model_

    def _standardisation(self) -> _rows.Standardisation:
        return _rows.Standardisation(
            self.location_,
            self.scale_,
            type(self).__name__,
            self.grid_spacing_,
            self._noise_seed,
            self._levels,
        )

    def _model_input(self, X: Any) -> torch.Tensor:
        """Validated, standardised ``X`` as one float32 tensor on the model's
        device."""
        check_is_fitted(self, "model_")
        X = _rows.check(self, X, reset=False)
        return _rows.as_tensor(X, self._standardisation(), resolve_device(self.device))

    def _threads(self, rows: int) -> contextlib.AbstractContextManager[None]:
        """Torch's intra-op threads for a computation on ``rows`` rows at once."""
        return torch_threads(resolve_threads(self.n_threads, self.model_, rows))

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
        # It did not dequantise: no grid, and None for a refit (not the
        # default "auto").
        state.setdefault("dequantise", None)
        # It scaled every feature by its own standard deviation.
        state.setdefault("scaling", "feature")
        if "model_" in state and "grid_spacing_" not in state:
            state["grid_spacing_"] = np.zeros(len(state["location_"]))
        for name, parameter in inspect.signature(
            type(self).__init__
        ).parameters.items():
            if parameter.default is not inspect.Parameter.empty:
                state.setdefault(name, parameter.default)
        super().__setstate__(state)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        if self.image_shape is not None:
            # Images take integer pixels 0 .. n_levels - 1: scikit-learn's
            # checks then feed such values (rounded, shifted to 0).
            tags.input_tags.positive_only = True
            tags.input_tags.categorical = True
        return tags


_IMAGE_MEANING = {
    "conditioner": "every step is a convolutional coupling of the multi-scale "
    "layout (conditioner='coupling')",
    "dequantise": "every pixel is dequantised over its level (a grid of spacing 1)",
    "indexing": "u enters each layer as G(z; u) = s(u) * z + t(u) (indexing='affine')",
}


_FITTED_ATTRIBUTES = (
    "model_",
    "location_",
    "scale_",
    "grid_spacing_",
    "n_samples_fit_",
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


def _batch_size(batch_size: int | str, n_train: int) -> int:
    if batch_size == "auto":
        # About ten steps an epoch on small data, 1000 rows (as in the
        # reference code) on large data.
        return min(1000, max(32, n_train // 10))
    return int(batch_size)


def _learning_rate_remedy(rate: float) -> str:
    return (
        f"learning_rate_init={rate:g} is probably too high for this model and "
        f"data: try a smaller one, e.g. learning_rate_init={rate / 10:g}"
    )


def _warn_about(owner: str, result: TrainingResult, rate: float) -> None:
    """Say when training diverged, and which weights were restored (called
    by ``fit``: the warning names the line that called it)."""
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
        f"{owner} training diverged at epoch {event.epoch} of "
        f"this fit: {event.cause}. Training stopped and {restored} were "
        f"restored{value}. {_learning_rate_remedy(rate)}.",
        TrainingDivergedWarning,
        stacklevel=4,
    )
