"""Outlier detection by thresholding the log-density of any density estimator."""

from __future__ import annotations

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
from sklearn.utils import Tags, get_tags
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["DensityOutlierDetector"]


class DensityOutlierDetector(OutlierMixin, MetaEstimatorMixin, BaseEstimator):
    """Flag low-density samples as outliers, using any density estimator.

    The wrapped density estimator is fitted on the training data and the
    log-density it assigns to each sample, ``estimator_.score_samples(X)``, is
    the outlyingness score: the higher it is, the more normal the sample. The
    threshold ``offset_`` is the ``100 * contamination`` percentile of the
    training scores, so that a fraction ``contamination`` of the training
    samples is flagged as outliers (exactly, unless scores are tied).

    Parameters
    ----------
    estimator : estimator object, default=None
        A density estimator implementing ``fit(X)`` and ``score_samples(X)``,
        where ``score_samples`` returns the log-density of each sample, e.g.
        :class:`~sklearn.mixture.GaussianMixture`,
        :class:`~sklearn.neighbors.KernelDensity`, ``MAFDensity`` or
        ``LGFDensity``. It is cloned before fitting and never modified.
        ``None`` means ``LGFDensity()`` with default parameters.

    contamination : float, default=0.1
        The proportion of outliers in the data set, i.e. the fraction of the
        training samples whose score falls below the threshold. Range is
        (0, 0.5].

    Attributes
    ----------
    estimator_ : estimator object
        The fitted clone of ``estimator`` (or of the default ``LGFDensity``).

    offset_ : float
        Offset used to define the decision function from the raw scores:
        ``decision_function = score_samples - offset_``. It is the
        ``100 * contamination`` percentile of the training scores, so that
        about ``contamination * n_samples`` training samples have a negative
        decision function.

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
    The wrapped estimator is fitted and scored on the validated NumPy array
    (with array API dispatch disabled), so feature names are checked by this
    detector (``feature_names_in_``) rather than by the inner estimator.

    The scores are log-densities, so they are only as good as the density
    model. In particular, integer-valued (or otherwise discretised) data is
    degenerate for a continuous density model: its likelihood can grow
    without bound on the repeated values and many scores tie, which makes
    the threshold and the number of flagged samples unreliable. Dequantise
    such data first, e.g. add independent uniform noise on ``[0, 1)`` to each
    integer feature before fitting and scoring.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture
    >>> from sklearn_lgf import DensityOutlierDetector
    >>> X = np.random.RandomState(0).normal(size=(200, 2))
    >>> detector = DensityOutlierDetector(
    ...     GaussianMixture(random_state=0), contamination=0.1
    ... ).fit(X)
    >>> # predict returns 1 for an inlier and -1 for an outlier
    >>> detector.predict([[0, 0], [4, 4]])
    array([ 1, -1])
    >>> int((detector.predict(X) == -1).sum())
    20
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "score_samples"]), None],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
    }

    def __init__(self, estimator: Any = None, *, contamination: float = 0.1) -> None:
        self.estimator = estimator
        self.contamination = contamination

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
        """Return an unfitted clone of ``estimator`` or the default model."""
        if self.estimator is None:
            # Imported lazily: the flow module pulls in torch.
            from ._lgf import LGFDensity

            return LGFDensity()
        return clone(self.estimator)

    @_fit_context(
        # The wrapped estimator's parameters are validated by its own fit.
        prefer_skip_nested_validation=False
    )
    def fit(self, X: ArrayLike, y: object = None) -> DensityOutlierDetector:
        """Fit the density estimator and set the outlier threshold.

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
            self.estimator_.fit(X)
            scores = self._score(X)
        self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
        return self

    def _score(self, X: NDArray[Any]) -> NDArray[np.float64]:
        """Log-density of the already validated ``X`` as a float64 vector."""
        scores = np.asarray(self.estimator_.score_samples(X), dtype=np.float64)
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
            ``estimator_.score_samples(X)``. The higher, the more normal.
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
