"""MAFDensity: a masked autoregressive flow as a scikit-learn density estimator."""

from __future__ import annotations

from typing import Any

import torch
from numpy.typing import ArrayLike

from ._base import BaseFlowDensity, layer_sizes
from ._docs import fill_doc
from ._images import check_image_shape
from ._steps import resolve_step
from .nn import DensityModel, build_flow, build_image_flow


@fill_doc
class MAFDensity(BaseFlowDensity):
    """Masked autoregressive flow density estimator (Papamakarios et al., 2017).

    Invertible steps map the data onto a standard normal; the log-density
    is exact. ``conditioner="coupling"`` makes a RealNVP,
    ``univariate="spline"`` a neural spline flow; with ``image_shape``, the
    multi-scale RealNVP of images (Dinh et al., 2017).

    Parameters
    ----------
    n_layers : int or "auto", default="auto"
        Number of flow steps; more fit more intricate targets. ``"auto"``:
        5. With ``image_shape``: the number of scales (see Notes).
    hidden_layer_sizes : tuple of int or "auto", default="auto"
        Hidden widths of each step's network; narrow them if it overfits.
        ``"auto"``: ``(100, 100)``. With ``image_shape``: one width per
        residual block of each coupling's conv net, all equal; ``"auto"``:
        ``(64,) * 8``, the paper's RealNVP (8).
    {{conditioner}}
    univariate : {"affine", "spline"}, default="affine"
        What each step does to a feature: an affine map or monotone
        rational-quadratic splines (Durkan et al., 2019), more flexible
        per step and slower.
    {{base}}
    {{n_bins}}
    {{tail_bound}}
    batch_norm : bool or "auto", default="auto"
        Batch normalisation between layers; may steady deep flows.
        ``"auto"``: none; for images one per channel after every coupling,
        as RealNVP has.
    {{image_shape}}
    {{n_levels}}
    {{dequantise}}
    scaling : {"auto", "feature", "shared"}, default="auto"
        {{scaling}}
    {{max_iter}}
    {{batch_size}}
    {{learning_rate}}
    {{learning_rate_init}}
    {{alpha}}
    {{early_stopping}}
    {{validation_fraction}}
    n_iter_no_change : int or "auto", default="auto"
        Epochs without improvement before stopping. ``"auto"``: 10, 50 for
        images.
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

    {{images}}

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

    _tabular_defaults = {
        "n_layers": 5,
        "hidden_layer_sizes": (100, 100),
        "conditioner": "autoregressive",
        "univariate": "affine",
        "batch_norm": False,
        "max_iter": 200,
        "learning_rate_init": 1e-3,
        "n_iter_no_change": 10,
    }
    _image_defaults = {
        "hidden_layer_sizes": (64,) * 8,
        "conditioner": "coupling",
        "univariate": "affine",
        "batch_norm": True,
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
        univariate: str = "affine",
        base: str = "deprecated",
        n_bins: int = 8,
        tail_bound: float = 3.0,
        batch_norm: bool | str = "auto",
        image_shape: tuple[int, int, int] | None = None,
        n_levels: int = 256,
        dequantise: str | ArrayLike | None = "auto",
        scaling: str = "auto",
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

    def _build_model(self, n_features: int) -> DensityModel:
        conditioner, univariate = self._step(warn=False)
        hidden = layer_sizes(self._setting("hidden_layer_sizes"))
        batch_norm = self._setting("batch_norm")
        if self.image_shape is not None:
            return build_image_flow(
                check_image_shape(self.image_shape),
                n_levels=self.n_levels,
                n_scales=self._setting("n_layers"),
                hidden_channels=hidden,
                batch_norm="channel" if batch_norm else None,
                univariate=univariate,
                n_bins=self.n_bins,
                tail_bound=self.tail_bound,
            )
        return build_flow(
            n_features,
            self._setting("n_layers"),
            hidden,
            conditioner=conditioner,
            univariate=univariate,
            n_bins=self.n_bins,
            tail_bound=self.tail_bound,
            batch_norm=batch_norm,
        )
