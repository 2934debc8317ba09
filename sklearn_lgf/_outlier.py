"""Outlier detection by thresholding the log-density of any density estimator."""

from __future__ import annotations

import math
import warnings
from numbers import Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn import config_context
from sklearn.base import (
    BaseEstimator,
    MetaEstimatorMixin,
    OutlierMixin,
    _fit_context,
    clone,
)
from sklearn.utils import Tags, check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, has_fit_parameter, validate_data

__all__ = ["DensityOutlierDetector"]


def conformal_threshold(
    scores: NDArray[np.float64], contamination: float
) -> tuple[float, int]:
    """Threshold on held-out scores that flags a share ``contamination``.

    With ``m`` scores sorted as ``s_1 <= ... <= s_m`` and
    ``k = floor(contamination * (m + 1))``, the threshold lies halfway
    between ``s_{k-1}`` and ``s_k``. A new score drawn like the held-out
    ones falls below ``s_k`` with probability ``k / (m + 1)`` and below
    ``s_{k-1}`` with probability ``(k - 1) / (m + 1)`` (its rank among the
    ``m + 1`` is uniform), so it falls below the threshold with a
    probability in ``[(k - 1) / (m + 1), k / (m + 1)]``: at most
    ``contamination``. Halfway, rather than at ``s_k`` itself, so that no
    held-out row sits on the threshold, where rounding would decide it.

    Parameters
    ----------
    scores : ndarray of shape (m,)
        Scores (higher is more normal) of rows the model was not fitted on.
    contamination : float
        Share of rows to flag, in (0, 0.5].

    Returns
    -------
    threshold : float
        Scores strictly below it are flagged.
    n_needed : int
        Rows needed for ``k >= 1``. With fewer, ``k`` is raised to 1 and the
        flag rate may exceed ``contamination`` (up to ``1 / (m + 1)``).
    """
    ordered = np.sort(np.asarray(scores, dtype=np.float64))  # NaN sort last
    m = ordered.shape[0]
    # The small margin keeps e.g. 0.29 * 100 = 28.999999999999996 at 29.
    k = math.floor(contamination * (m + 1) + 1e-9)
    n_needed = math.ceil(1.0 / contamination - 1.0 - 1e-9)
    k = max(k, 1)
    upper = ordered[k - 1]
    if k >= 2:
        lower = ordered[k - 2]
    elif m >= 2:
        # No score below s_1: mirror the gap between the two lowest.
        lower = 2.0 * upper - ordered[1]
    else:
        lower = upper
    threshold = 0.5 * (lower + upper)
    # An infinite neighbour (a row of density 0) would drag the threshold
    # to -inf, where nothing is flagged: s_k itself keeps the guarantee.
    if not np.isfinite(threshold):
        threshold = upper
    return float(threshold), n_needed


# The default density of the detector. Affine steps: on the ADBench design
# splits the spline LGF fitted the inliers better (held-out likelihood) but
# ranked the anomalies of Pima, cardio and pendigits 0.03-0.05 worse (ROC-AUC)
# and gained under 0.011 elsewhere, in 2.5-3 times the fitting time
# (benchmarks/results/adbench_design_*.md).
DEFAULT_LGF = {"univariate": "affine"}


class DensityOutlierDetector(OutlierMixin, MetaEstimatorMixin, BaseEstimator):
    """Flag low-density samples as outliers, using any density estimator.

    The wrapped density estimator is fitted on training rows, and the
    log-density it assigns to a row, ``estimator_.score_samples(X)``, is the
    row's score: the higher, the more normal (for an ``LGFDensity``, its
    evidence lower bound by default, see ``score_method``). A row is flagged as an
    outlier when its score falls below the threshold ``offset_``.

    **How the threshold is set.** By default a random fraction
    ``calibration_fraction`` of the training rows is held out: the density
    is fitted on the other rows and the held-out rows are scored. With
    their ``m`` scores sorted as ``s_1 <= ... <= s_m`` and
    ``k = floor(contamination * (m + 1))``, ``offset_`` lies halfway between
    ``s_{k-1}`` and ``s_k``. A new row drawn like the training rows is then
    flagged with a probability between ``(k - 1) / (m + 1)`` and
    ``k / (m + 1)``: at most ``contamination``, and less by under
    ``2 / (m + 1)``. This is split conformal prediction: it holds for any
    density model, as long as the new rows are exchangeable with the
    training rows. The training rows' own scores would not do: a flexible
    density scores the rows it was fitted on higher than new rows, so a
    threshold at the ``contamination`` quantile of the training scores
    flags more new rows than ``contamination``, up to two or three times as
    many when the density was fitted on a few hundred rows.
    :meth:`set_threshold` sets the threshold in the same way on rows you
    give it.

    **What** ``contamination`` **means.** The share of rows drawn like the
    training data that :meth:`predict` flags: the expected false-alarm rate
    on new normal rows when the training data are clean (novelty
    detection), or the share of outliers you expect in the data when they
    are not (outlier detection). It sets the threshold only: the scores,
    and hence ranking metrics such as the ROC-AUC, do not depend on it.

    Parameters
    ----------
    estimator : estimator object, default=None
        A density estimator implementing ``fit(X)`` and ``score_samples(X)``,
        where ``score_samples`` returns the log-density of each sample, e.g.
        :class:`~sklearn.mixture.GaussianMixture`,
        :class:`~sklearn.neighbors.KernelDensity`, ``MAFDensity`` or
        ``LGFDensity``. It is cloned before fitting and never modified.
        ``None`` means ``LGFDensity(univariate="affine")``, seeded from
        ``random_state``: affine steps, not the splines of
        ``LGFDensity()``, because they rank anomalies better on small
        tables even where the splines reach a higher held-out likelihood
        (user guide, Anomaly detection, "Which density ranks best"). To keep a
        density you have already fitted, wrap it in
        ``sklearn.frozen.FrozenEstimator``: its ``fit`` does nothing, so the
        detector's ``fit`` only sets the threshold (on the held-out share of
        the rows, or on all of them with ``calibration_fraction=None``);
        pass it rows the density was not fitted on.

    contamination : float, default=0.1
        The share of rows drawn like the training data to flag as outliers
        (see above). Range is (0, 0.5].

    calibration_fraction : float or None, default=0.2
        Fraction of the training rows held out from the density fit, on
        whose scores the threshold is set. The gain is a threshold that
        flags about ``contamination`` of new rows; the cost is fewer rows to
        fit the density on (for a ``MAFDensity`` on ADBench sets of 300 to
        1,000 rows, the ROC-AUC moved by less than its spread between
        seeds). The threshold rests on ``m = ceil(calibration_fraction *
        n_samples)`` rows, so the share it flags varies by about
        ``sqrt(contamination / m)`` from one split to another: raise the
        fraction when ``m`` is small, e.g. for a small ``contamination``.
        With fewer than ``1 / contamination - 1`` held-out rows the rule
        would flag nothing, so the threshold goes just below the lowest
        held-out score, with a warning. ``None`` fits the density on every
        training row and sets ``offset_`` at the ``100 * contamination``
        percentile of their scores, so that exactly a share
        ``contamination`` of the training rows is flagged (the rule before
        this parameter existed, and that of scikit-learn's detectors); new
        rows are then flagged more often (see above), unless you call
        :meth:`set_threshold` with rows the density was not fitted on.

    random_state : int, RandomState instance or None, default=None
        Seeds the choice of the held-out rows (with ``calibration_fraction``
        set) and, with ``estimator=None``, the default ``LGFDensity``; an int
        makes the detector reproducible. A given estimator's own randomness
        is set by its own parameters.

    score_method : {"auto", "score_samples", "elbo"}, default="auto"
        The wrapped estimator's method that scores a row. ``"elbo"`` suits
        models whose log-density is estimated (``LGFDensity``): an
        importance-sampling estimate is pulled up by a rare large weight,
        and such weights occur most on the rows the model fits worst, the
        anomalies, which then rank as more normal than they are; the
        evidence lower bound has no such upward errors, and its gap below
        the log-density is widest on those same rows, which ranks them
        lower still. ``"auto"``: ``"elbo"`` when the estimator has an
        ``elbo`` method, else ``"score_samples"`` (the exact log-density of
        ``MAFDensity``, ``KernelDensity``, ``GaussianMixture``).

    Attributes
    ----------
    estimator_ : estimator object
        The fitted clone of ``estimator`` (or of the default ``LGFDensity``).

    offset_ : float
        The threshold: ``decision_function = score_samples - offset_``, and
        rows with a negative decision function are outliers. How it is set
        is told above.

    n_samples_threshold_ : int
        Number of rows whose scores set ``offset_``: the held-out rows, the
        training rows (``calibration_fraction=None``) or the rows given to
        :meth:`set_threshold`.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.covariance.EllipticEnvelope : Outliers of a robust Gaussian fit.
    sklearn.ensemble.IsolationForest : Isolation-based outlier detection.
    sklearn.neighbors.LocalOutlierFactor : Local-density-based outliers.
    sklearn.svm.OneClassSVM : Unsupervised outlier detection by a kernel SVM.

    Notes
    -----
    With a held-out threshold, the training rows themselves are flagged
    less often than ``contamination`` (the density was fitted on most of
    them), so ``fit_predict(X)`` flags fewer than ``contamination *
    n_samples`` rows. scikit-learn's estimator checks expect that share to
    be exact; they pass with ``calibration_fraction=None``.

    The wrapped estimator is fitted and scored on the validated NumPy array
    (with array API dispatch disabled), so feature names are checked by this
    detector (``feature_names_in_``) rather than by the inner estimator.

    The scores are log-densities (or their lower bounds), so they are only
    as good as the density model. Integer-valued or few-valued columns are
    degenerate for a continuous density: ``MAFDensity`` and ``LGFDensity``
    dequantise them themselves (their ``dequantise="auto"``); with another
    estimator, add uniform noise over each value's grid cell first.

    Examples
    --------
    Fit on normal rows, and count the outliers among new normal rows:

    >>> import numpy as np
    >>> from sklearn_lgf import DensityOutlierDetector, MAFDensity
    >>> rng = np.random.RandomState(0)
    >>> X_train, X_new = rng.normal(size=(1000, 2)), rng.normal(size=(2000, 2))
    >>> maf = MAFDensity(n_layers=2, hidden_layer_sizes=(16,), max_iter=20,
    ...                  random_state=0)
    >>> detector = DensityOutlierDetector(
    ...     maf, contamination=0.05, random_state=0).fit(X_train)
    >>> detector.n_samples_threshold_   # 20 % of the rows set the threshold
    200
    >>> # predict returns 1 for an inlier and -1 for an outlier
    >>> detector.predict([[0, 0], [4, 4]])
    array([ 1, -1])
    >>> share = (detector.predict(X_new) == -1).mean()
    >>> bool(0.03 < share < 0.07)
    True

    To change ``contamination`` without refitting, set the threshold again
    on rows the density was not fitted on:

    >>> X_check = rng.normal(size=(1000, 2))
    >>> detector = detector.set_params(contamination=0.1).set_threshold(X_check)
    >>> detector.n_samples_threshold_
    1000
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "score_samples"]), None],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
        "calibration_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "random_state": ["random_state"],
        "score_method": [StrOptions({"auto", "score_samples", "elbo"})],
    }

    def __init__(
        self,
        estimator: Any = None,
        *,
        contamination: float = 0.1,
        calibration_fraction: float | None = 0.2,
        random_state: Any = None,
        score_method: str = "auto",
    ) -> None:
        self.estimator = estimator
        self.contamination = contamination
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state
        self.score_method = score_method

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        if self.estimator is not None:
            # Scores are as (non-)deterministic as the wrapped density model;
            # a duck-typed model without scikit-learn tags keeps the default.
            try:
                inner_tags = get_tags(self.estimator)
            except AttributeError:
                return tags
            tags.non_deterministic = inner_tags.non_deterministic
        return tags

    def _make_estimator(self) -> Any:
        """Return an unfitted clone of ``estimator`` or the default model,
        seeded from ``random_state`` (so that one seed fixes the detector)."""
        if self.estimator is None:
            # Imported lazily: the flow module pulls in torch.
            from ._lgf import LGFDensity

            seed = None
            if self.random_state is not None:
                # From a generator of its own for an int seed, so that the
                # held-out rows are the same with and without an estimator.
                seed = int(check_random_state(self.random_state).randint(2**31 - 1))
            return LGFDensity(**DEFAULT_LGF, random_state=seed)
        return clone(self.estimator)

    @_fit_context(
        # The wrapped estimator's parameters are validated by its own fit.
        prefer_skip_nested_validation=False
    )
    def fit(self, X: ArrayLike, y: object = None) -> DensityOutlierDetector:
        """Fit the density estimator and set the outlier threshold.

        With ``calibration_fraction`` set, the density is fitted on all but a
        random ``calibration_fraction`` of the rows and the threshold is set
        on the scores of the rows held out; with ``None``, on the scores of
        all the rows, which the density was fitted on (see the class
        docstring).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            Returns the instance itself.
        """
        # This detector works on NumPy arrays only: validate and fit with array
        # API dispatch disabled so that the wrapped estimator sees plain NumPy
        # semantics even when dispatch is enabled globally.
        with config_context(array_api_dispatch=False):
            X = validate_data(self, X, dtype=[np.float64, np.float32])
            self.estimator_ = self._make_estimator()
            if self.calibration_fraction is None:
                self._fit_estimator(X)
                scores = self._score(X)
                self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
                self.n_samples_threshold_ = scores.shape[0]
                return self
            fit_rows, held_out = self._split_rows(X.shape[0])
            self._fit_estimator(X[fit_rows])
            # The user's call, then fit_context's wrapper, fit and this call.
            self._set_held_out_threshold(self._score(X[held_out]), stacklevel=4)
        return self

    def _fit_estimator(self, X: NDArray[Any]) -> None:
        """Fit ``estimator_`` on ``X``, passing ``y=None`` where its ``fit``
        takes a ``y``: scikit-learn's ``FrozenEstimator`` requires one (its
        ``fit`` does nothing, so a frozen density only gets its threshold
        set), and a duck-typed ``fit(X)`` must not receive one."""
        if has_fit_parameter(self.estimator_, "y"):
            self.estimator_.fit(X, None)
        else:
            self.estimator_.fit(X)

    def _split_rows(self, n_samples: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Indices of the rows to fit the density on and of those held out."""
        n_held_out = math.ceil(self.calibration_fraction * n_samples)
        if n_held_out >= n_samples:
            raise ValueError(
                f"calibration_fraction={self.calibration_fraction} of "
                f"n_samples={n_samples} holds out every row and leaves none to "
                "fit the density on; pass more rows or lower "
                "calibration_fraction."
            )
        order = check_random_state(self.random_state).permutation(n_samples)
        # Sorted, so that the density sees its rows in their original order.
        return np.sort(order[n_held_out:]), np.sort(order[:n_held_out])

    def _set_held_out_threshold(
        self, scores: NDArray[np.float64], stacklevel: int
    ) -> None:
        """Set ``offset_`` from the scores of rows the density was not fitted on.

        ``stacklevel`` points the warning at the user's call.
        """
        offset, n_needed = conformal_threshold(scores, self.contamination)
        if n_needed > scores.shape[0]:
            n = scores.shape[0]
            warnings.warn(
                f"The threshold is set on {n} held-out rows, too few for "
                f"contamination={self.contamination}: at least {n_needed} are "
                "needed for the rule to flag any row. The threshold is put just "
                "below the lowest held-out score instead, which flags new rows "
                f"at a rate of up to {1 / (n + 1):.2g}. Pass more rows, raise "
                "calibration_fraction or call set_threshold with more rows.",
                UserWarning,
                stacklevel=stacklevel,
            )
        self.offset_ = offset
        self.n_samples_threshold_ = scores.shape[0]

    def set_threshold(self, X: ArrayLike) -> DensityOutlierDetector:
        """Set the threshold on rows the density was not fitted on.

        ``offset_`` is set on the scores of ``X`` as ``fit`` sets it on its
        held-out rows: with ``m`` rows, new rows drawn like ``X`` are then
        flagged with a probability of at most ``contamination``, and less by
        under ``2 / (m + 1)`` (see the class docstring). Use it to set the
        threshold on a clean validation set of your own (e.g. after fitting
        with ``calibration_fraction=None`` on all the training rows), or to
        change ``contamination`` without refitting:
        ``detector.set_params(contamination=0.01).set_threshold(X_val)``.
        The density is not refitted, and the next ``fit`` sets the threshold
        anew. Rows the density was fitted on would give a threshold that
        flags too many new rows (see the class docstring).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows drawn like the rows to be screened, not used to fit the
            density. At least ``1 / contamination - 1`` of them, or the
            threshold goes just below the lowest score, with a warning.

        Returns
        -------
        self : object
            Returns the instance itself.
        """
        check_is_fitted(self)
        # contamination may have been changed by set_params since fit.
        self._validate_params()
        with config_context(array_api_dispatch=False):
            X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
            self._set_held_out_threshold(self._score(X), stacklevel=3)
        return self

    def _score(self, X: NDArray[Any]) -> NDArray[np.float64]:
        """The scores of the already validated ``X`` as a float64 vector."""
        method = self.score_method
        if method == "auto":
            method = "elbo" if hasattr(self.estimator_, "elbo") else "score_samples"
        if not hasattr(self.estimator_, method):
            raise ValueError(
                f"score_method={self.score_method!r}: "
                f"{type(self.estimator_).__name__} has no {method} method; use "
                "score_method='score_samples'"
            )
        scores = np.asarray(getattr(self.estimator_, method)(X), dtype=np.float64)
        return scores.reshape(X.shape[0])

    def score_samples(self, X: ArrayLike) -> NDArray[np.float64]:
        """Log-density of each sample under the fitted density estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data matrix.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``estimator_.score_samples(X)``, or ``estimator_.elbo(X)`` (see
            ``score_method``). The higher, the more normal.
        """
        check_is_fitted(self)
        with config_context(array_api_dispatch=False):
            X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
            return self._score(X)

    def decision_function(self, X: ArrayLike) -> NDArray[np.float64]:
        """Shifted log-density: negative for outliers, non-negative for inliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data matrix.

        Returns
        -------
        decision : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_``. The threshold for being an outlier
            is 0, as for the other scikit-learn outlier detectors.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X: ArrayLike) -> NDArray[np.int_]:
        """Predict whether each sample is an inlier (1) or an outlier (-1).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data matrix.

        Returns
        -------
        is_inlier : ndarray of shape (n_samples,)
            -1 for outliers (negative decision function), 1 for inliers.
        """
        decision = self.decision_function(X)
        is_inlier = np.ones(decision.shape[0], dtype=int)
        is_inlier[decision < 0] = -1
        return is_inlier
