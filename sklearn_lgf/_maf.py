"""MAFDensity: a masked autoregressive flow as a scikit-learn density estimator."""

from __future__ import annotations

from typing import Any

import torch
from numpy.typing import ArrayLike

from ._base import BaseFlowDensity, layer_sizes
from ._docs import fill_doc
from ._steps import resolve_step
from .nn import DensityModel, build_flow


@fill_doc
class MAFDensity(BaseFlowDensity):
    """Masked autoregressive flow density estimator (Papamakarios et al., 2017).

    Invertible steps map the data onto a standard normal; the log-density
    is exact. ``conditioner="coupling"`` makes a RealNVP,
    ``univariate="spline"`` a neural spline flow.

    Parameters
    ----------
    n_layers : int, default=5
        Number of flow steps; more fit more intricate targets.
    hidden_layer_sizes : tuple of int, default=(100, 100)
        Hidden widths of each step's network; narrow them if it overfits.
    {{conditioner}}
    univariate : {"affine", "spline"}, default="affine"
        What each step does to a feature: an affine map or monotone
        rational-quadratic splines (Durkan et al., 2019), more flexible
        per step and slower.
    {{base}}
    {{n_bins}}
    {{tail_bound}}
    {{batch_norm}}
    {{dequantise}}
    {{max_iter}}
    {{batch_size}}
    {{learning_rate}}
    {{learning_rate_init}}
    {{alpha}}
    {{early_stopping}}
    {{validation_fraction}}
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
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
        Mean training negative log-likelihood per epoch.

    See Also
    --------
    LGFDensity : For targets with several components or holes.
    sklearn.neighbors.KernelDensity : Kernel density estimation.

    Notes
    -----
    {{notes}}

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
    """

    def __init__(
        self,
        n_layers: int = 5,
        hidden_layer_sizes: tuple[int, ...] = (100, 100),
        *,
        conditioner: str = "autoregressive",
        univariate: str = "affine",
        base: str = "deprecated",
        n_bins: int = 8,
        tail_bound: float = 3.0,
        batch_norm: bool = False,
        dequantise: str | ArrayLike | None = "auto",
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
        self.conditioner = conditioner
        self.univariate = univariate
        self.base = base
        self.n_bins = n_bins
        self.tail_bound = tail_bound
        self.batch_norm = batch_norm
        self.dequantise = dequantise
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

    def _build_model(self, n_features: int) -> DensityModel:
        conditioner, univariate = resolve_step(self, warn=False)
        return build_flow(
            n_features,
            self.n_layers,
            layer_sizes(self.hidden_layer_sizes),
            conditioner=conditioner,
            univariate=univariate,
            n_bins=self.n_bins,
            tail_bound=self.tail_bound,
            batch_norm=self.batch_norm,
        )
