"""MAFDensity: a masked autoregressive flow as a scikit-learn density estimator."""

from __future__ import annotations

from typing import Any

import torch

from ._base import BaseFlowDensity, layer_sizes
from .nn import DensityModel, build_flow


class MAFDensity(BaseFlowDensity):
    """Masked autoregressive flow density estimator (Papamakarios et al., 2017).

    A stack of MADE affine autoregressive steps (or RealNVP affine coupling
    steps) with the feature order reversed between steps, mapping the data
    onto a standard normal. Trained by maximum likelihood with Adam on
    internally standardised data; :meth:`score_samples` returns the exact
    log-density in the units of ``X``.

    Parameters
    ----------
    n_layers : int, default=5
        Number of flow steps.
    hidden_layer_sizes : tuple of int, default=(100, 100)
        Hidden widths of each step's conditioner (MADE or coupling MLP).
        Widths below ``n_features`` are allowed; the masks stay autoregressive.
    base : {"made", "coupling", "spline", "spline-coupling"}, default="made"
        The flow step. ``"made"`` gives a MAF; ``"coupling"`` a RealNVP with
        alternating masks; ``"spline"`` a neural spline flow (Durkan et al.,
        2019): monotonic rational-quadratic splines with a MADE conditioner,
        more flexible per step than an affine map; ``"spline-coupling"`` the
        same splines with coupling conditioners (faster to sample).
    n_bins : int, default=8
        Bins ``K`` of each rational-quadratic spline (``base="spline"`` or
        ``"spline-coupling"``; unused otherwise). A spline step's conditioner
        gives ``3 K - 1`` numbers per feature.
    tail_bound : float, default=3.0
        Each spline maps ``[-tail_bound, tail_bound]`` onto itself and is the
        identity outside, in the standardised units the model works in (as
        in the neural spline flow authors' code for standardised data).
    batch_norm : bool, default=False
        Batch normalisation between steps. Its evaluation statistics are set
        from the whole training set once training ends.
    max_iter : int, default=200
        Maximum number of epochs.
    batch_size : int or "auto", default="auto"
        Minibatch size (capped at the number of training rows). ``"auto"``
        is ``min(1000, max(32, n_train // 10))``: about ten steps an epoch on
        small data, 1000 rows on large data.
    learning_rate : {"constant", "adaptive", "cosine"}, default="constant"
        ``"constant"`` keeps ``learning_rate_init``. ``"adaptive"`` divides
        the learning rate by 5 each time the stopping criterion is met
        instead of stopping, and stops once it would fall below 1e-6: a
        longer run that settles closer to the optimum. ``"cosine"`` lowers
        it step by step along half a cosine, from ``learning_rate_init`` to
        0 at the end of epoch ``max_iter`` (the schedule of the
        neural-spline-flow paper); early stopping can still end it sooner,
        and each call of ``fit`` (a warm start's too) anneals afresh.
    learning_rate_init : float, default=1e-3
        Adam's (initial) learning rate.
    alpha : float, default=0.0
        Strength of an L2 penalty on the networks' weight matrices (not the
        biases), as in scikit-learn's ``MLPClassifier``: each step adds
        ``alpha * W / batch_size`` to a weight's gradient. The recorded
        losses leave the penalty out.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the data, stop when its
        log-likelihood has not improved by ``tol`` for ``n_iter_no_change``
        epochs, and restore the weights of the best epoch. Without it, the
        training loss decides when to stop.
    validation_fraction : float, default=0.1
        Share of the data held out for early stopping.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    tol : float, default=1e-4
        Minimum improvement, in nats per sample.
    warm_start : bool, default=False
        Continue from the previous fit's weights and standardisation. The
        starting weights compete with every epoch for the best: if training
        diverges or no epoch beats them on the validation split, they are
        kept, so a warm refit never leaves the model worse than it found it.
    device : str or torch.device, default="auto"
        Where the model lives and computes; ``"auto"`` picks CUDA when
        available, else the CPU.
    n_threads : int, "auto" or None, default="auto"
        Torch CPU threads for :meth:`fit`, :meth:`score_samples`,
        :meth:`score` and :meth:`sample`, set for the duration of each
        call and restored afterwards, also when it fails. ``"auto"``: one
        thread unless a step multiplies matrices of at least 2**27
        multiply-adds (rows in the batch or scoring chunk times the model's
        largest weight matrix), then ``torch.get_num_threads()`` as found when
        the call starts, which carries any limit set by ``OMP_NUM_THREADS``,
        ``torch.set_num_threads``, threadpoolctl or joblib's workers, so
        ``"auto"`` never oversubscribes. Networks of the default sizes lose
        more to threads starting and waiting than they gain (a default 2-D
        LGF fit took 2.4 to 10 times as long on two busy cores as on one);
        a d=64 MAF of 512-wide MADEs took 0.6 times as long per step on two
        cores while the second was mostly idle. An int uses that many threads
        (on cores busy with other work, 1 is usually fastest); ``None``
        leaves torch's setting alone.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, the validation split and shuffling. With an int,
        two fits give bit-identical models; the global numpy and torch random
        states are never used or changed.
    verbose : bool or int, default=False
        ``1`` (or ``True``): a progress bar on stderr for each fit, advancing
        by epoch with the training loss, validation score and learning rate,
        and for scoring or sampling calls that last over a second, by chunk
        of rows. ``2``: one line per epoch on stdout instead of the fit's bar.

    Attributes
    ----------
    model_ : torch.nn.Module
        The fitted flow, on standardised data.
    location_ : ndarray of shape (n_features,)
        Per-feature mean of the non-extreme training rows (see Notes), used
        for standardisation.
    scale_ : ndarray of shape (n_features,)
        Per-feature standard deviation of the same rows (1 for a constant
        feature), used for standardisation.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_iter_ : int
        Number of epochs run (summed over warm starts).
    loss_curve_ : list of float
        Mean training negative log-likelihood per epoch, in the units of ``X``.
    validation_scores_ : list of float
        Mean validation log-likelihood per epoch (empty without early stopping).
    best_validation_score_ : float or None
        Best validation log-likelihood; the returned weights are those of that
        epoch (or, after a warm start, possibly the starting weights).
    converged_ : bool or None
        Whether the last fit ended because its stopping criterion was met;
        ``False`` when it ran out of ``max_iter`` epochs, diverged or was
        interrupted. ``None`` for a model loaded from a file written before
        this attribute existed.

    See Also
    --------
    LGFDensity : The localised generative flow, for targets with several
        components or holes.
    sklearn.neighbors.KernelDensity : Kernel density estimation.
    sklearn.mixture.GaussianMixture : Gaussian mixture density.

    Notes
    -----
    Each feature is standardised by the mean and standard deviation of the
    training rows that are not extreme: a row further than 30 robust
    standard deviations (the larger of the interquartile range / 1.349 and
    the spread of the central 99 % of the values) from a feature's median is
    left out of the statistics and of training, with a warning, so that one
    wild value cannot dominate the fit. Densities are always evaluated
    exactly (those rows' too) and reported in the units of ``X``. Values whose
    standardised form float32 cannot hold (beyond about 1.8e19 scale units)
    are refused with a ValueError.

    Training fails safely. An epoch whose training loss or validation score
    is not finite, or is more than ``max(10, 5 * n_features)`` nats per
    sample worse than the best point seen, ends training: the best weights
    are restored and a ``TrainingDivergedWarning`` names the cause and the
    remedy (a smaller ``learning_rate_init``). A fresh fit that diverges
    before any epoch is usable raises ``TrainingDiverged`` and leaves the
    estimator unfitted. With ``learning_rate="adaptive"`` each division of
    the rate starts again from the best weights. ``KeyboardInterrupt``
    (Ctrl-C) during :meth:`fit` still propagates, but leaves the estimator
    fitted with what was done: the history of the finished epochs,
    ``n_iter_``, ``best_validation_score_`` and the best weights so far.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_lgf import MAFDensity
    >>> X = load_iris().data
    >>> maf = MAFDensity(n_layers=2, hidden_layer_sizes=(32,), max_iter=20,
    ...                  random_state=0).fit(X)
    >>> maf.score_samples(X[:3]).shape
    (3,)
    >>> maf.sample(5, random_state=0).shape
    (5, 4)
    >>> isinstance(maf.score(X), float)
    True
    """

    def __init__(
        self,
        n_layers: int = 5,
        hidden_layer_sizes: tuple[int, ...] = (100, 100),
        *,
        base: str = "made",
        n_bins: int = 8,
        tail_bound: float = 3.0,
        batch_norm: bool = False,
        max_iter: int = 200,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 1e-3,
        alpha: float = 0.0,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        warm_start: bool = False,
        device: str | torch.device = "auto",
        n_threads: int | str | None = "auto",
        random_state: Any = None,
        verbose: bool | int = False,
    ) -> None:
        self.n_layers = n_layers
        self.hidden_layer_sizes = hidden_layer_sizes
        self.base = base
        self.n_bins = n_bins
        self.tail_bound = tail_bound
        self.batch_norm = batch_norm
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.alpha = alpha
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def _build_model(self, n_features: int) -> DensityModel:
        return build_flow(
            n_features,
            self.n_layers,
            layer_sizes(self.hidden_layer_sizes),
            base=self.base,
            n_bins=self.n_bins,
            tail_bound=self.tail_bound,
            batch_norm=self.batch_norm,
        )
