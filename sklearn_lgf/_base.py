"""What MAFDensity and LGFDensity share: validation, standardisation, seeding,
device handling, the call into the training loop, scoring and sampling."""

from __future__ import annotations

import copy
import math
import sys
import warnings
from abc import abstractmethod
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .nn import TrainingConfig, train

SEED_BOUND = 2**31 - 1


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


def check_layer_sizes(name: str, sizes: Any) -> tuple[int, ...]:
    """A non-empty tuple of positive ints, or a ValueError naming ``name``."""
    try:
        values = tuple(sizes)
    except TypeError:
        values = (sizes,)
    if not values or not all(
        isinstance(v, Integral) and not isinstance(v, bool) and v > 0 for v in values
    ):
        raise ValueError(
            f"{name} must be a non-empty sequence of positive ints, got {sizes!r}"
        )
    return tuple(int(v) for v in values)


class BaseFlowDensity(DensityMixin, BaseEstimator):
    """Base class of the flow density estimators. Not for direct use.

    Subclasses build the torch model and say how a batch of standardised rows
    is scored; everything else (the scikit-learn contract) lives here.
    """

    _parameter_constraints: dict = {
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "base": [StrOptions({"made", "coupling"})],
        "batch_norm": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "learning_rate": [StrOptions({"constant", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # Rows evaluated together when scoring are a fixed number, so that a
    # row's result does not depend on the batch; padding makes one row cost a
    # whole chunk. On the CPU the chunk holds about this many parameter-rows
    # (small models get large chunks, large models small ones), within bounds.
    _score_chunk_budget = 2**28
    _score_chunk_bounds = {"cpu": (1024, 8192), "cuda": (8192, 8192)}
    # Rows drawn together when sampling (no batch-independence needed).
    _sample_chunk_rows = {"cpu": 8192, "cuda": 262144}

    @abstractmethod
    def _build_model(self, n_features: int) -> torch.nn.Module:
        """A fresh, untrained torch model for standardised data."""

    @abstractmethod
    def _log_prob(self, x: torch.Tensor, purpose: str) -> torch.Tensor:
        """Log-density of standardised rows; ``purpose`` is "score" or "validation"."""

    def _loss_kwargs(self) -> dict[str, Any]:
        return {}

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> BaseFlowDensity:
        """Fit the flow to ``X`` by maximum likelihood (or its lower bound).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. Each feature is standardised internally; all
            log-densities are reported in the units of ``X``.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        check_layer_sizes("hidden_layer_sizes", self.hidden_layer_sizes)
        self._check_extra_params()
        device = resolve_device(self.device)
        warm = self.warm_start and hasattr(self, "model_")
        X = validate_data(self, X, dtype=np.float64, reset=not warm)
        n_samples, n_features = X.shape
        if n_samples < 2:
            raise ValueError(
                f"Found n_samples={n_samples}; {type(self).__name__} needs at least "
                "2 samples to fit."
            )
        init_seed, split_seed, shuffle_seed, noise_seed = draw_seeds(
            self.random_state, 4
        )

        if not warm:
            self.location_ = X.mean(axis=0)
            scale = X.std(axis=0)
            constant = scale <= 1e-12 * np.maximum(1.0, np.abs(self.location_))
            if constant.any():
                warnings.warn(
                    f"Features {np.flatnonzero(constant).tolist()} are constant in the "
                    "training data; the fitted density is degenerate along them.",
                    UserWarning,
                    stacklevel=3,
                )
            self.scale_ = np.where(constant, 1.0, scale)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(init_seed)
                self.model_ = self._build_model(n_features)
            self._noise_seed = noise_seed
            self.loss_curve_: list[float] = []
            self.validation_scores_: list[float] = []
            self.n_iter_ = 0
        self.model_.to(device)
        self._device = device

        Z = self._standardise(X)
        val_rows = 0
        if self.early_stopping:
            val_rows = max(1, int(math.ceil(self.validation_fraction * n_samples)))
            if val_rows >= n_samples:
                val_rows = n_samples - 1
        order = np.random.RandomState(split_seed).permutation(n_samples)
        train_rows = torch.as_tensor(
            Z[order[val_rows:]], dtype=torch.float32, device=device
        )
        valid_rows = torch.as_tensor(
            Z[order[:val_rows]], dtype=torch.float32, device=device
        )

        def validation() -> float:
            return float(self._log_prob(valid_rows, "validation").mean())

        config = TrainingConfig(
            max_iter=self.max_iter,
            batch_size=self._batch_size(len(train_rows)),
            learning_rate=self.learning_rate,
            learning_rate_init=self.learning_rate_init,
            early_stopping=self.early_stopping,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            loss_kwargs=self._loss_kwargs(),
        )
        result = train(
            self.model_,
            train_rows,
            config,
            validation=validation if val_rows else None,
            shuffle_generator=torch.Generator().manual_seed(shuffle_seed),
            noise_generator=torch.Generator(device=device).manual_seed(noise_seed),
            score_offset=self._log_det_correction(),
            log=self._log if self.verbose else None,
        )
        self.loss_curve_ = self.loss_curve_ + result.loss_curve
        self.validation_scores_ = self.validation_scores_ + result.validation_scores
        self.best_validation_score_ = result.best_validation_score
        self.n_iter_ += len(result.loss_curve)
        if not result.converged:
            warnings.warn(
                f"{type(self).__name__} reached max_iter={self.max_iter} epochs before "
                "the stopping criterion was met; consider increasing max_iter.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _batch_size(self, n_train: int) -> int:
        if self.batch_size == "auto":
            # About ten steps an epoch on small data, 1000 rows (as in the
            # reference code) on large data.
            return min(1000, max(32, n_train // 10))
        return int(self.batch_size)

    def _check_extra_params(self) -> None:
        """Subclasses check parameters that constraints cannot express."""

    def _log(self, message: str) -> None:
        print(f"[{type(self).__name__}] {message}", file=sys.stdout, flush=True)

    # ----------------------------------------------------------- transforms
    def _standardise(self, X: np.ndarray) -> np.ndarray:
        return (X - self.location_) / self.scale_

    def _log_det_correction(self) -> float:
        """``log p_X(x) = log p_Z(z) + this``, for ``z`` the standardised ``x``."""
        return float(-np.log(self.scale_).sum())

    def _model_device(self) -> torch.device:
        """The device for computation; moves the model there if needed."""
        device = resolve_device(self.device)
        if getattr(self, "_device", None) != device:
            self.model_.to(device)
            self._device = device
        return device

    def _chunk_rows(self) -> int:
        """Rows per scoring chunk: a power of two fixed by the model and device."""
        low, high = self._score_chunk_bounds.get(
            self._model_device().type, (1024, 8192)
        )
        n_parameters = sum(p.numel() for p in self.model_.parameters())
        wanted = self._score_chunk_budget // max(1, n_parameters)
        return int(np.clip(1 << max(0, wanted.bit_length() - 1), low, high))

    def _model_input(self, X: Any) -> torch.Tensor:
        """Validated, standardised ``X`` as a float32 tensor on the model's device."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        Z = self._standardise(X).astype(np.float32)
        return torch.from_numpy(Z).to(self._model_device())

    def _to_log_density(self, log_prob: torch.Tensor) -> np.ndarray:
        """Standardised-space log-densities as float64 in the units of ``X``."""
        return log_prob.double().cpu().numpy() + self._log_det_correction()

    # -------------------------------------------------------------- scoring
    def score_samples(self, X: Any) -> np.ndarray:
        """Log-density of each sample, in the units of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to evaluate.

        Returns
        -------
        log_density : ndarray of shape (n_samples,), dtype float64
            ``log p(x)`` for each row. A row's value does not depend on the
            other rows passed with it.
        """
        return self._to_log_density(self._log_prob(self._model_input(X), "score"))

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
        device = self._model_device()
        generator = torch.Generator(device=device).manual_seed(seed)
        Z = np.empty((int(n_samples), self.n_features_in_))
        chunk = self._sample_chunk_rows.get(device.type, 8192)
        for start in range(0, int(n_samples), chunk):
            rows = min(chunk, int(n_samples) - start)
            Z[start : start + rows] = self.model_.sample(rows, generator).cpu().numpy()
        return Z * self.scale_ + self.location_

    # ------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        model = state.get("model_")
        if model is not None and next(model.parameters()).device.type != "cpu":
            state["model_"] = copy.deepcopy(model).cpu()
        state.pop("_device", None)
        return state

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
