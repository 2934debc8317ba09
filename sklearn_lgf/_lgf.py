"""LGFDensity: the localised generative flow as a scikit-learn density estimator."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

from ._base import BaseFlowDensity, check_layer_sizes, draw_seeds, layer_sizes
from .nn import (
    CollapseDiagnostics,
    DensityModel,
    MonteCarlo,
    build_lgf,
    collapse_diagnostics,
    evaluation,
)


class LGFDensity(BaseFlowDensity):
    """Localised generative flow density estimator (Cornish et al., 2020).

    A normalising flow pushes one Gaussian through one continuous bijection,
    so its support is always connected like the Gaussian's: targets with
    several components or holes force it to smear mass between them. LGF
    (published as continuously indexed flows, CIF) replaces each step ``g`` by
    a family ``G(x; u) = s(u) * g(x) + t(u)`` indexed by a latent ``u`` with a
    learned conditional prior ``p(u | z)``, so each member only has to cover a
    local part of the target. The model is trained on its evidence lower
    bound (ELBO) with an amortised posterior ``q(u | z)``, and its
    log-density is estimated by importance sampling with ``K`` draws.

    Parameters
    ----------
    n_layers : int, default=5
        Number of indexed flow layers.
    hidden_layer_sizes : tuple of int, default=(32, 32)
        Hidden widths of each base step's conditioner (MADE or coupling MLP).
        Small on purpose: the index ``u`` carries much of the model, and
        wider base steps overfit sooner (see Notes).
    base : {"spline", "made", "coupling", "spline-coupling"}, default="spline"
        The base step ``g``: a monotonic rational-quadratic spline step with a
        MADE conditioner (``"spline"``: an LGF over a neural spline flow,
        LGF-NSF, the indexed affine map on top of each spline step), a MADE
        affine autoregressive step (``"made"``: LGF-MAF, the paper's model,
        with the order reversed between layers), an affine coupling step
        (LGF-RealNVP, alternating masks) or a spline coupling step. The
        default was chosen on held-out data: on two uniforms, the digits
        validation split and four ADBench sets the spline base's held-out
        log-likelihood was higher than the affine one's on every set
        (digits: 86.4 against 71.4 nats), at 0.5 to 6 times the fit time
        (``benchmarks/results/defaults.md`` for the affine LGF,
        ``spline_tail_bound.md`` for the spline one).
    n_bins : int, default=8
        Bins ``K`` of each rational-quadratic spline (``base="spline"`` or
        ``"spline-coupling"``; unused otherwise). A spline step's conditioner
        gives ``3 K - 1`` numbers per feature.
    tail_bound : float, default=3.0
        Each spline maps ``[-tail_bound, tail_bound]`` onto itself and is the
        identity outside, in the standardised units the model works in (as
        in the neural spline flow authors' code for standardised data).
    u_dim : int, default=4
        Dimension of the index ``u`` of each layer.
    pq_hidden_layer_sizes : tuple of int, default=(128, 128)
        Hidden widths of the MLPs giving the mean and log-std of the prior
        ``p(u | z_{l-1})`` and of the posterior ``q(u | z_l)``.
    st_hidden_layer_sizes : tuple of int, default=(128, 128)
        Hidden widths of the MLP giving ``s(u)`` and ``t(u)``.
    indexing : {"affine", "conditioner"}, default="affine"
        ``"affine"``: ``G(x; u) = s(u) * g(x) + t(u)``. ``"conditioner"``: the
        paper's alternative, ``u`` is fed into the base step's conditioner
        network next to its inputs (``st_hidden_layer_sizes`` is unused).
    n_elbo_samples : int, default=4
        Draws of ``u`` per row and training step. More draws lower the
        variance of the gradient at a proportional cost per epoch; on the
        2-D targets and digits they also reach a better model in less time
        than one draw (the authors' code used 10).
    objective : {"elbo", "iwae"}, default="elbo"
        What training maximises. ``"elbo"``: the evidence lower bound, the
        mean of ``log w = log p(x, u) - log q(u | x)`` over the
        ``n_elbo_samples`` draws. ``"iwae"``: the importance-weighted bound
        ``log(mean_k w_k)`` over those draws (Burda et al., 2016; the
        training objective of the LGF authors' later code), the quantity
        that :meth:`score_samples` estimates with ``n_importance_samples``
        draws. It is tighter than the ELBO, so the flow is trained closer
        to the likelihood it is scored on, at the same cost per epoch; with
        one draw the two are the same. See Notes. Measured on held-out
        data, it helped the paper's 2-D LGF-MAFs (MADE base, ``u_dim=1``,
        10 draws: ahead of their MAFs on 5 of 5 targets on one seed, 4 of 5
        on another, against 2 of 5 with the ELBO), but not these defaults
        (behind the ELBO on 5 of 6 sets,
        ``benchmarks/results/lgf_objective.md``), hence ``"elbo"``.
    n_importance_samples : int, default=100
        ``K``, the importance samples per row in :meth:`score_samples`,
        :meth:`score` and :meth:`elbo`. Scoring costs ``K`` passes through
        the model per row (memory stays bounded: rows are processed in chunks
        of at most a fixed number of row-samples). The estimate is a lower
        bound in expectation that tightens as ``K`` grows; report ``K`` with
        any figure.
    importance_tol : float or None, default=None
        ``None``: every row's estimate in :meth:`score_samples` and
        :meth:`score` uses all ``n_importance_samples`` draws. A number:
        each row draws only until the standard error of its estimate (see
        Notes) is at most ``importance_tol`` nats, so rows that are easy to
        estimate cost less. The ``K`` fixed draws are taken in blocks of
        ``ceil(K / 10)``; a row uses the first ``m >= 2`` blocks after which
        its standard error is at most ``importance_tol``, or all ``K``. The
        rule depends only on the row, so scores stay deterministic and
        independent of the other rows. Stopping early makes the estimate a
        little lower on average (it is a lower bound that tightens with
        ``K``). :meth:`elbo` always uses all ``K`` draws.
    n_validation_samples : int, default=5
        ``K`` of the importance-sampling estimate used for early stopping.
    batch_norm : bool, default=False
        Batch normalisation between layers (off in the reference LGF models).
    max_iter : int, default=200
        Maximum number of epochs.
    batch_size : int or "auto", default="auto"
        Minibatch size (capped at the number of training rows). ``"auto"``
        is ``min(1000, max(32, n_train // 10))``.
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
        importance-sampling log-likelihood (``n_validation_samples`` draws)
        has not improved by ``tol`` for ``n_iter_no_change`` epochs, and
        restore the weights of the best epoch. Without it, the training loss
        (minus the ``objective``) decides when to stop.
    validation_fraction : float, default=0.1
        Share of the data held out for early stopping.
    n_iter_no_change : int, default=20
        Epochs without improvement before stopping. Twice MAFDensity's: the
        LGF's validation estimate is noisier and its training keeps
        improving for longer (on two uniforms, 10 stopped at epoch 66 with
        -1.555 nats, 20 at 190 with -1.469; see
        ``benchmarks/results/defaults.md``).
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
        :meth:`score`, :meth:`elbo` and :meth:`sample`, set for the duration of each
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
        Seeds initialisation, the validation split, shuffling, the training
        draws of ``u`` and the fixed importance-sampling draws. With an int,
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
        The fitted LGF, on standardised data.
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
        Mean training loss per epoch (minus the ELBO, or minus the IWAE
        bound with ``objective="iwae"``), in the units of ``X``.
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
    MAFDensity : The plain masked autoregressive flow (exact log-density).
    sklearn.neighbors.KernelDensity : Kernel density estimation.

    Notes
    -----
    A row's ``K`` importance-sampling draws are a fixed function of its own
    values (a counter-based hash of the row, a seed fixed when the model is
    fitted, and the draw's number), so :meth:`score_samples` is
    deterministic and a row's value does not depend on the other rows, while
    different rows get independent draws: their errors average out in
    :meth:`score`, instead of moving together as one bank of draws shared by
    all rows would make them.
    ``score_samples(X, return_std=True)`` also returns each row's standard
    error over those draws, ``sqrt((mean w^2 / (mean w)^2 - 1) / K)`` for
    the importance weights ``w`` (the delta method), at no extra model
    passes: it shrinks as ``1 / sqrt(K)`` and says whether ``K`` is large
    enough for a row. Estimated from the same draws, it cannot see weights
    they never reached, so it is optimistic where the posterior ``q`` misses
    part of the true one.

    Each feature is standardised by the mean and standard deviation of the
    training rows that are not extreme: a row further than 30 robust
    standard deviations (the larger of the interquartile range / 1.349 and
    the spread of the central 99 % of the values) from a feature's median is
    left out of the statistics and of training, with a warning, so that one
    wild value cannot dominate the fit. Densities are always evaluated
    exactly (those rows' too) and reported in the units of ``X``. Values whose
    standardised form float32 cannot hold (beyond about 1.8e19 scale units)
    are refused with a ValueError.

    With ``objective="iwae"`` each training step maximises
    ``log(mean_k w_k)`` over ``K = n_elbo_samples`` draws per row, the
    importance-weighted bound of Burda et al. (2016): it lies between the
    ELBO and ``log p(x)`` and tightens as ``K`` grows, so the model is fitted
    to the likelihood that scoring estimates rather than to a looser bound.
    Its gradient weights each draw by its normalised importance weight; it
    is taken without the path gradient used for the ELBO (which would bias
    it). The gap between :meth:`elbo` and :meth:`score_samples` is then
    wider, as ``q`` is no longer trained to be tight draw by draw, and the
    importance-sampling estimate needs more draws to settle: on two spirals
    the paper's LGF-MAF trained so scored -2.848 with ``K = 100`` and
    -2.818 with ``K = 1000`` (``score_samples(X, return_std=True)`` tells
    whether ``K`` is enough).

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

    References
    ----------
    R. Cornish, A. Caterini, G. Deligiannidis, A. Doucet. "Relaxing
    bijectivity constraints with continuously indexed normalising flows",
    ICML 2020 (first circulated as "Localised Generative Flows").

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lgf import LGFDensity
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(-3, 0.5, (100, 2)), rng.normal(3, 0.5, (100, 2))])
    >>> lgf = LGFDensity(n_layers=2, hidden_layer_sizes=(16,), max_iter=5,
    ...                  n_importance_samples=10, random_state=0).fit(X)
    >>> lgf.score_samples(X[:3]).shape
    (3,)
    >>> bool(np.all(lgf.elbo(X[:3]) <= lgf.score_samples(X[:3]) + 1e-6))
    True
    >>> lgf.sample(4, random_state=0).shape
    (4, 2)
    """

    _parameter_constraints: dict = {
        **BaseFlowDensity._parameter_constraints,
        "u_dim": [Interval(Integral, 1, None, closed="left")],
        "pq_hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "st_hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "indexing": [StrOptions({"affine", "conditioner"})],
        "n_elbo_samples": [Interval(Integral, 1, None, closed="left")],
        "objective": [StrOptions({"elbo", "iwae"})],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
        "importance_tol": [Interval(Real, 0, None, closed="left"), None],
        "n_validation_samples": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_layers: int = 5,
        hidden_layer_sizes: tuple[int, ...] = (32, 32),
        *,
        base: str = "spline",
        n_bins: int = 8,
        tail_bound: float = 3.0,
        u_dim: int = 4,
        pq_hidden_layer_sizes: tuple[int, ...] = (128, 128),
        st_hidden_layer_sizes: tuple[int, ...] = (128, 128),
        indexing: str = "affine",
        n_elbo_samples: int = 4,
        objective: str = "elbo",
        n_importance_samples: int = 100,
        importance_tol: float | None = None,
        n_validation_samples: int = 5,
        batch_norm: bool = False,
        max_iter: int = 200,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 1e-3,
        alpha: float = 0.0,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 20,
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
        self.u_dim = u_dim
        self.pq_hidden_layer_sizes = pq_hidden_layer_sizes
        self.st_hidden_layer_sizes = st_hidden_layer_sizes
        self.indexing = indexing
        self.n_elbo_samples = n_elbo_samples
        self.objective = objective
        self.n_importance_samples = n_importance_samples
        self.importance_tol = importance_tol
        self.n_validation_samples = n_validation_samples
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

    def _check_params(self) -> None:
        super()._check_params()
        check_layer_sizes("pq_hidden_layer_sizes", self.pq_hidden_layer_sizes)
        check_layer_sizes("st_hidden_layer_sizes", self.st_hidden_layer_sizes)

    def _build_model(self, n_features: int) -> DensityModel:
        return build_lgf(
            n_features,
            self.n_layers,
            layer_sizes(self.hidden_layer_sizes),
            base=self.base,
            n_bins=self.n_bins,
            tail_bound=self.tail_bound,
            u_dim=self.u_dim,
            pq_hidden_layer_sizes=layer_sizes(self.pq_hidden_layer_sizes),
            st_hidden_layer_sizes=layer_sizes(self.st_hidden_layer_sizes),
            indexing=self.indexing,
            batch_norm=self.batch_norm,
        )

    def _monte_carlo(self) -> MonteCarlo:
        # The path ("sticking the landing") gradient has the ELBO gradient's
        # expectation and less variance; for the IWAE bound it is biased
        # (Tucker et al. 2019), so that bound takes the plain gradient.
        return MonteCarlo(
            training_draws=self.n_elbo_samples,
            path_gradient=self.objective == "elbo",
            training_objective=self.objective,
            validation_samples=self.n_validation_samples,
            seed=self._noise_seed,
        )

    def _scoring_arguments(self) -> dict[str, Any]:
        arguments = {
            "n_importance_samples": self.n_importance_samples,
            "importance_tol": self.importance_tol,
        }
        validate_parameter_constraints(
            {name: self._parameter_constraints[name] for name in arguments},
            arguments,
            caller_name=type(self).__name__,
        )
        if arguments["importance_tol"] is not None:
            arguments["importance_tol"] = float(arguments["importance_tol"])
        return arguments

    def elbo(self, X: Any) -> np.ndarray:
        """Per-row evidence lower bound, in the units of ``X``.

        Estimated as the mean of ``log p(x, u_k) - log q(u_k | x)`` over the
        same ``n_importance_samples`` draws per row that :meth:`score_samples`
        uses, so ``elbo(X) <= score_samples(X)`` row by row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to evaluate.

        Returns
        -------
        elbo : ndarray of shape (n_samples,), dtype float64
            The bound for each row.
        """
        k = self._scoring_arguments()["n_importance_samples"]
        bound = self._score(X, evaluation.elbo, "elbo", n_importance_samples=k)
        return bound + self._standardisation().log_det_correction

    def collapse_diagnostics(
        self, X: Any, n_draws: int = 64, random_state: Any = 0
    ) -> CollapseDiagnostics:
        """Does the fitted model use its index ``u``? Per-layer statistics.

        An LGF whose posteriors ignore their input and whose ``s(u)``,
        ``t(u)`` are constant has collapsed onto its base flow: its spreads
        are near zero and its ELBO equals its importance-sampling estimate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to push through the model, ``n_draws`` times each.
        n_draws : int, default=64
            Draws of ``u ~ q`` per row.
        random_state : int, RandomState instance or None, default=0
            Seeds the draws.

        Returns
        -------
        diagnostics : sklearn_lgf.nn.CollapseDiagnostics
            Per layer (from the data side): the spread of ``t(u)`` and of
            ``log s(u)`` over ``u ~ q``, the spread of ``q``'s mean across
            rows and ``q``'s standard deviation; and the ELBO, the
            importance-sampling estimate and their gap (all in the
            standardised units the model works in). ``table()`` renders it.
        """
        if (
            not isinstance(n_draws, Integral)
            or isinstance(n_draws, bool)
            or n_draws < 1
        ):
            raise ValueError(f"n_draws must be a positive int, got {n_draws!r}")
        x = self._model_input(X)
        (seed,) = draw_seeds(random_state, 1)
        generator = torch.Generator(device=x.device).manual_seed(seed)
        model = self._fitted_model()
        with self._threads(len(x) * int(n_draws)):
            return collapse_diagnostics(model, x, int(n_draws), generator)
