"""LGFDensity: the localised generative flow as a scikit-learn density estimator."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

from . import _size_rule
from ._base import (
    AUTO,
    BaseFlowDensity,
    check_layer_sizes,
    draw_seeds,
    layer_sizes,
)
from ._docs import fill_doc
from ._images import check_image_shape
from ._steps import resolve_step
from .nn import (
    CollapseDiagnostics,
    DensityModel,
    MonteCarlo,
    build_image_lgf,
    build_lgf,
    collapse_diagnostics,
    evaluation,
)
from .nn.conditioners import residual_widths


@fill_doc
class LGFDensity(BaseFlowDensity):
    """Localised generative flow density estimator (Cornish et al., 2020).

    A flow smears mass between separate components or around holes. An
    LGF (a continuously indexed flow) gives each layer a latent index
    ``u`` choosing one bijection of a family, each covering part of the
    target. With ``image_shape``, the paper's LGF-RealNVP of images.

    Parameters
    ----------
    n_layers : int or "auto", default="auto"
        Number of indexed layers; more fit more intricate targets.
        ``"auto"``: 5. With ``image_shape``: the number of scales (see
        Notes), each coupling followed by an indexed layer.
    hidden_layer_sizes : tuple of int or "auto", default="auto"
        Hidden widths of each base step's network; small, as ``u`` carries
        much of the model. ``"auto"``: ``(32, 32)``. With ``image_shape``:
        one width per residual block of each coupling's conv net, all
        equal; ``"auto"``: ``(64,) * 4``, the paper's LGF-RealNVP (4).
    {{conditioner}}
    univariate : {"affine", "spline", "auto"}, default="auto"
        What each base step does to a feature: monotone splines, or a
        faster affine map (the paper's LGF-MAF). ``"auto"``: ``"spline"``;
        ``"affine"`` for images, as in the paper.
    {{base}}
    {{n_bins}}
    {{tail_bound}}
    u_dim : int or "auto", default="auto"
        Dimension of each layer's ``u``; raise it for targets of many
        parts. ``"auto"``: 4. With ``image_shape``, ``u`` is an image of
        the layer's height and width and ``u_dim`` channels (``"auto"``: 1).
    pq_hidden_layer_sizes : tuple of int or "auto", default="auto"
        Hidden widths of the prior ``p(u | z)`` and posterior ``q(u | x)``
        (residual blocks for images). ``"auto"``: two layers of the power
        of two nearest to ``2.5 * n_features``, between 32 and 128, at most
        a quarter of the training rows (at least 16);
        ``(64, 64)`` for images.
    st_hidden_layer_sizes : tuple of int or "auto", default="auto"
        Hidden widths of the network giving ``s(u)`` and ``t(u)``
        (residual blocks for images). ``"auto"``: as
        ``pq_hidden_layer_sizes``; ``(8, 8)`` for images.
    indexing : {"affine", "conditioner"}, default="affine"
        How ``u`` enters a layer: ``G(x; u) = s(u) * g(x) + t(u)``, or as
        an input of the base step's network (tabular only).
    n_elbo_samples : int or "auto", default="auto"
        Draws of ``u`` per row and training step; more lower the gradient's
        variance. Each draw passes through the prior and ``s``/``t``
        networks of every layer, most of a step's time: 1 trains about
        twice as fast, as well on some data and worse on others; try it
        when fits are too slow. ``"auto"``: 4, 1 for images.
    objective : {"elbo", "iwae"}, default="elbo"
        Train on the ELBO or on the tighter importance-weighted bound over
        the draws (Burda et al., 2016); try ``"iwae"`` for small models.
    n_importance_samples : int, default=100
        ``K``, draws per row when scoring, at ``K`` passes per row; more
        tighten the estimate.
    importance_tol : float or None, default=None
        If set, a row stops drawing once its standard error is at most this
        many nats: cheaper, slightly lower.
    n_validation_samples : int or "auto", default="auto"
        ``K`` of the estimate that early stopping watches. ``"auto"``: 5,
        10 for images.
    batch_norm : bool, default=False
        Batch normalisation between layers; may steady deep flows. For
        images: one per channel, without learned scale and shift, after
        every indexed layer (the authors' later code; the paper has none).
    {{image_shape}}
    {{n_levels}}
    {{dequantise}}
    scaling : {"auto", "feature", "shared"}, default="feature"
        {{scaling}}
        The default here is ``"feature"``: on pixels, where ``"shared"``
        gains :class:`MAFDensity` much, it cost the LGF both likelihood
        and epochs (its index networks rescale the features anyway).
    {{max_iter}}
    {{batch_size}}
    {{learning_rate}}
    {{learning_rate_init}}
    {{alpha}}
    {{early_stopping}}
    {{validation_fraction}}
    n_iter_no_change : int or "auto", default="auto"
        Epochs without improvement before stopping (the estimate is noisy).
        ``"auto"``: 20, 50 for images.
    {{tol}}
    {{warm_start}}
    {{device}}
    {{n_threads}}
    {{random_state}}
    {{verbose}}

    Attributes
    ----------
    {{fitted_attributes}}
    loss_curve_ : list of float
        Mean training loss (minus the ``objective``) per epoch.

    See Also
    --------
    MAFDensity : A flow without index, with an exact log-density.

    Notes
    -----
    Layer ``l`` maps ``z`` to ``G(z; u)``, ``u ~ p(u | z)``. Training
    maximises the ELBO ``E_q[log p(x, u) - log q(u | x)]``;
    :meth:`score_samples` estimates ``log p(x)`` by
    ``log mean_k p(x, u_k) / q(u_k | x)`` over ``K`` draws ``u_k ~ q``
    (its standard error with ``return_std=True``), from draws fixed per row.

    {{notes}}

    {{images}}

    References
    ----------
    R. Cornish, A. Caterini, G. Deligiannidis, A. Doucet. "Relaxing
    bijectivity constraints with continuously indexed normalising flows",
    ICML 2020.

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
    """

    _parameter_constraints: dict = {
        **BaseFlowDensity._parameter_constraints,
        "u_dim": [Interval(Integral, 1, None, closed="left"), StrOptions({AUTO})],
        "pq_hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
            StrOptions({AUTO}),
        ],
        "st_hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
            StrOptions({AUTO}),
        ],
        "indexing": [StrOptions({"affine", "conditioner"})],
        "n_elbo_samples": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({AUTO}),
        ],
        "objective": [StrOptions({"elbo", "iwae"})],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
        "importance_tol": [Interval(Real, 0, None, closed="left"), None],
        "n_validation_samples": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({AUTO}),
        ],
    }
    _tabular_defaults = {
        "n_layers": 5,
        "hidden_layer_sizes": (32, 32),
        "conditioner": "autoregressive",
        "univariate": "spline",
        "u_dim": 4,
        "pq_hidden_layer_sizes": _size_rule.index_layers,
        "st_hidden_layer_sizes": _size_rule.index_layers,
        "n_elbo_samples": 4,
        "n_validation_samples": 5,
        "max_iter": 200,
        "learning_rate_init": 1e-3,
        "n_iter_no_change": 20,
    }
    _image_defaults = {
        "hidden_layer_sizes": (64,) * 4,
        "conditioner": "coupling",
        "univariate": "affine",
        "u_dim": 1,
        "pq_hidden_layer_sizes": (64, 64),
        "st_hidden_layer_sizes": (8, 8),
        "n_elbo_samples": 1,
        "n_validation_samples": 10,
        "max_iter": 1000,
        "batch_size": 100,
        "learning_rate_init": 1e-4,
        "n_iter_no_change": 50,
    }

    def __init__(
        self,
        n_layers: int | str = "auto",
        hidden_layer_sizes: tuple[int, ...] | str = "auto",
        *,
        conditioner: str = "auto",
        univariate: str = "auto",
        base: str = "deprecated",
        n_bins: int = 8,
        tail_bound: float = 3.0,
        u_dim: int | str = "auto",
        pq_hidden_layer_sizes: tuple[int, ...] | str = "auto",
        st_hidden_layer_sizes: tuple[int, ...] | str = "auto",
        indexing: str = "affine",
        n_elbo_samples: int | str = "auto",
        objective: str = "elbo",
        n_importance_samples: int = 100,
        importance_tol: float | None = None,
        n_validation_samples: int | str = "auto",
        batch_norm: bool = False,
        image_shape: tuple[int, int, int] | None = None,
        n_levels: int = 256,
        dequantise: str | ArrayLike | None = "auto",
        scaling: str = "feature",
        max_iter: int | str = "auto",
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float | str = "auto",
        alpha: float = 0.0,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int | str = "auto",
        tol: float = 1e-4,
        warm_start: bool = False,
        device: str | torch.device = "auto",
        n_threads: int | str | None = "auto",
        random_state: Any = None,
        verbose: bool | int = False,
    ) -> None:
        self.n_layers = n_layers
        self.hidden_layer_sizes = hidden_layer_sizes
        self.conditioner = conditioner
        self.univariate = univariate
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
        self.image_shape = image_shape
        self.n_levels = n_levels
        self.dequantise = dequantise
        self.scaling = scaling
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
        resolve_step(self, warn=True)
        check_layer_sizes("pq_hidden_layer_sizes", self.pq_hidden_layer_sizes)
        check_layer_sizes("st_hidden_layer_sizes", self.st_hidden_layer_sizes)
        if self.image_shape is not None:
            for name in ("pq_hidden_layer_sizes", "st_hidden_layer_sizes"):
                residual_widths(self._setting(name), name)

    def _tabular_only(self) -> dict[str, Any]:
        refused = super()._tabular_only()
        if self.indexing != "affine":
            refused["indexing"] = self.indexing
        return refused

    def _build_model(self, n_features: int) -> DensityModel:
        conditioner, univariate = self._step(warn=False)
        hidden = layer_sizes(self._setting("hidden_layer_sizes"))
        pq_hidden = layer_sizes(self._size("pq_hidden_layer_sizes", n_features))
        st_hidden = layer_sizes(self._size("st_hidden_layer_sizes", n_features))
        if self.image_shape is not None:
            return build_image_lgf(
                check_image_shape(self.image_shape),
                n_levels=self.n_levels,
                n_scales=self._setting("n_layers"),
                hidden_channels=hidden,
                u_channels=self._setting("u_dim"),
                pq_hidden_channels=pq_hidden,
                st_hidden_channels=st_hidden,
                batch_norm=self.batch_norm,
                univariate=univariate,
                n_bins=self.n_bins,
                tail_bound=self.tail_bound,
            )
        return build_lgf(
            n_features,
            self._setting("n_layers"),
            hidden,
            conditioner=conditioner,
            univariate=univariate,
            n_bins=self.n_bins,
            tail_bound=self.tail_bound,
            u_dim=self._setting("u_dim"),
            pq_hidden_layer_sizes=pq_hidden,
            st_hidden_layer_sizes=st_hidden,
            indexing=self.indexing,
            batch_norm=self.batch_norm,
        )

    def _monte_carlo(self) -> MonteCarlo:
        # The path ("sticking the landing") gradient has the ELBO gradient's
        # expectation and less variance; for the IWAE bound it is biased
        # (Tucker et al. 2019), so that bound takes the plain gradient.
        return MonteCarlo(
            training_draws=self._setting("n_elbo_samples"),
            path_gradient=self.objective == "elbo",
            training_objective=self.objective,
            validation_samples=self._setting("n_validation_samples"),
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
