"""Docstring text that MAFDensity and LGFDensity share, written once.

A class docstring names a shared paragraph by a line holding only
``{{name}}``; :func:`fill_doc` replaces that line by :data:`SHARED`'s
paragraph, indented as the line was. The result is a plain ``__doc__``, which
``help()``, numpydoc, Sphinx's autodoc and doctest read as written.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from typing import TypeVar

_T = TypeVar("_T", bound=type)

_PLACEHOLDER = re.compile(r"^( *)\{\{(\w+)\}\}\n", re.MULTILINE)


def _paragraphs(**texts: str) -> dict[str, str]:
    return {name: inspect.cleandoc(text) + "\n" for name, text in texts.items()}


SHARED: dict[str, str] = _paragraphs(
    conditioner="""
    conditioner : {"autoregressive", "coupling", "auto"}, default="auto"
        What each step's network sees: all earlier features (MADE, most
        flexible) or half of them (RealNVP, one-pass sampling). ``"auto"``
        is ``"autoregressive"``; images always take ``"coupling"``.
    """,
    base="""
    base : {"made", "coupling", "spline", "spline-coupling"}, default="deprecated"
        .. deprecated:: 0.2.0
            Use ``conditioner`` and ``univariate`` (a value here wins over
            their defaults); removed in 0.3.0.
    """,
    n_bins="""
    n_bins : int, default=8
        Bins of each spline (``univariate="spline"``); more bend more.
    """,
    tail_bound="""
    tail_bound : float, default=3.0
        Splines act on ``[-tail_bound, tail_bound]`` (standardised units),
        identity outside; raise it for heavy tails.
    """,
    image_shape="""
    image_shape : tuple of 3 int or None, default=None
        ``(C, H, W)``: the rows are images, flattened in C order (channel,
        row, column, as ``load_digits().data``; transpose images stored
        height-width-channel first). The model becomes the paper's
        multi-scale image flow and ``"auto"`` parameters its settings (see
        Notes).
    """,
    n_levels="""
    n_levels : int, default=256
        Intensity levels of images: pixels are the integers ``0 ..
        n_levels - 1`` (17 for ``load_digits``). Only with ``image_shape``.
    """,
    images="""
    **Images.** With ``image_shape`` set, each pixel is dequantised over
    its level, ``[v - 1/2, v + 1/2)`` (fresh noise per training step, a
    draw fixed by the row when scoring, as for ``dequantise``), the rows
    are not standardised (``scale_`` is 1, ``location_`` -1/2), and the
    model starts with RealNVP's logit transform, so scores are densities of
    the dequantised pixels in their own units:
    :func:`~sklearn_lgf.metrics.bits_per_dimension` turns them into bits
    per dimension. The layout is Dinh et al.'s multi-scale RealNVP with
    ``n_layers`` scales: on each scale but the last three checkerboard
    couplings, a squeeze and three channel couplings, then half the
    channels factored out; on the last, four checkerboard couplings (two
    scales: the paper's ten couplings). Each coupling's network is a
    residual conv net of ``hidden_layer_sizes`` blocks. ``"auto"`` then
    means the paper's settings: Adam at ``learning_rate_init=1e-4``,
    ``batch_size=100``, ``max_iter=1000``, ``n_iter_no_change=50``, and
    two scales where the height and width are even. Tabular-only choices
    (``conditioner="autoregressive"``, a ``dequantise`` other than
    ``"auto"``) are refused. At the paper's sizes an epoch of 60,000
    28 x 28 images takes tens of minutes on a CPU: use a GPU, or narrow
    the networks.
    """,
    dequantise="""
    dequantise : "auto", None or array-like of shape (n_features,), default="auto"
        Features on a regular grid (binary, counts, levels, values recorded
        at a fixed resolution; still a grid after a ``StandardScaler``) are
        point masses to a continuous density, whose likelihood on them is
        unbounded: training chases them and a rare value scores thousands
        of nats low. Each value of such a feature is spread uniformly over
        its grid cell (fresh noise at every training step, one draw fixed
        by the row when scoring). ``"auto"`` finds the grids (see Notes);
        ``None`` models the values as they are; an array gives each
        feature's spacing in the units of ``X`` (``0``: continuous), when
        you know the resolutions. A warm start keeps the first fit's.
    """,
    scaling="""
    How the features are put on a common scale before the flow sees them.
    ``"feature"``: each by its own mean and standard deviation, for
    features in different units. ``"shared"``: all by one location and one
    scale (those of all their values pooled), for features in one unit,
    such as pixels or scores on one scale, where a feature that is nearly
    constant must stay narrow rather than be blown up to unit variance.
    ``"auto"``: shared when the typical feature spans at least half the
    range all of them span together, else per feature (see Notes). A warm
    start keeps the first fit's.
    """,
    max_iter="""
    max_iter : int or "auto", default="auto"
        Maximum epochs; raise it after a ``ConvergenceWarning``.
        ``"auto"``: 200, 1000 for images.
    """,
    batch_size="""
    batch_size : int or "auto", default="auto"
        Rows per training step; ``"auto"`` is
        ``min(1000, max(32, n_train // 10))``, 100 for images.
    """,
    learning_rate="""
    learning_rate : {"constant", "adaptive", "cosine"}, default="constant"
        ``"constant"``: ``learning_rate_init`` throughout; ``"adaptive"``:
        divided by 5 at each stall instead of stopping; ``"cosine"``:
        annealed to 0 over ``max_iter`` epochs.
    """,
    learning_rate_init="""
    learning_rate_init : float or "auto", default="auto"
        Adam's initial step size; lower it if training diverges.
        ``"auto"``: 1e-3, 1e-4 for images.
    """,
    alpha="""
    alpha : float, default=0.0
        L2 penalty on the weights, as in ``MLPClassifier``; raise it
        against overfitting.
    """,
    early_stopping="""
    early_stopping : bool, default=True
        Stop once the held-out log-likelihood stalls, keeping the best
        epoch's weights; otherwise the training loss decides.
    """,
    validation_fraction="""
    validation_fraction : float, default=0.1
        Share of rows held out for early stopping.
    """,
    tol="""
    tol : float, default=1e-4
        Improvement, in nats per row, that resets the patience.
    """,
    warm_start="""
    warm_start : bool, default=False
        Continue from the last fit, keeping its weights unless an epoch
        beats them.
    """,
    device="""
    device : str or torch.device, default="auto"
        ``"auto"``: CUDA if available, else the CPU.
    """,
    n_threads="""
    n_threads : int, "auto" or None, default="auto"
        Torch CPU threads per call; ``"auto"``: one for small networks,
        ``None``: torch's setting.
    """,
    random_state="""
    random_state : int, RandomState instance or None, default=None
        Seeds all draws (not the global generators); an int gives
        bit-identical fits.
    """,
    verbose="""
    verbose : bool or int, default=False
        ``1``: progress bars on stderr; ``2``: a line per epoch on stdout.
    """,
    fitted_attributes="""
    model_ : sklearn_lgf.nn.DensityModel
        The fitted network, on standardised data.
    location_, scale_ : ndarray of shape (n_features,)
        The standardisation (see Notes).
    grid_spacing_ : ndarray of shape (n_features,)
        Each feature's grid spacing in the units of ``X``, 0 for a
        continuous one (see ``dequantise``).
    n_features_in_ : int
        Number of features seen during fit.
    n_samples_fit_ : int
        Rows the model was fitted on (validation rows included, rows beyond
        the fence not); the size rule of ``"auto"`` networks reads it.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        String feature names seen during fit.
    n_iter_ : int
        Epochs run, summed over warm starts.
    validation_scores_ : list of float
        Mean held-out log-likelihood per epoch.
    best_validation_score_ : float or None
        The best of them, whose weights are kept.
    converged_ : bool or None
        Whether the last fit met its stopping criterion.
    """,
    notes="""
    Features are standardised (``(X - location_) / scale_``, see
    ``scaling``); rows over 30 robust standard deviations from a median
    are left out of training, with a warning. ``scaling="auto"`` compares
    the ranges of the rows within that fence; shared features are fenced
    in the shared unit too (no spread below the pooled standard
    deviation), and every entry of ``scale_`` is the same but a constant
    feature's (1, its value as location). A diverging
    fit keeps its best weights, with a ``TrainingDivergedWarning``; so
    does Ctrl-C.

    ``dequantise="auto"`` reads the training rows within that fence,
    validation rows included (so one wild value cannot hide a grid): a
    feature is discrete when its values, two or more distinct ones, all
    lie on ``offset + k * h`` (to 0.1 % of ``h``), ``h`` the largest such
    spacing, over at most ``2**20`` cells, and some value repeats or five
    or more are distinct. With discrete
    features the model is the density of the dequantised data, and
    :meth:`score_samples` is its log at the row moved uniformly within its
    cell, by a draw fixed by the row's values and the model's seed
    (continuous features are untouched): deterministic and independent of
    the other rows. Adding ``np.log(grid_spacing_[grid_spacing_ > 0]).sum()``
    gives, on average over that draw, a lower bound on the log-probability
    of the row's cell (times the density of its continuous features).
    Continuous data are modelled exactly as with ``dequantise=None``.
    """,
)


def fill_doc(cls: _T) -> _T:
    """Class decorator: replace each ``{{name}}`` line of the docstring."""
    if cls.__doc__ is None:  # python -OO
        return cls

    def paragraph(match: re.Match[str]) -> str:
        indent, name = match.groups()
        return textwrap.indent(SHARED[name], indent)

    cls.__doc__ = _PLACEHOLDER.sub(paragraph, cls.__doc__)
    return cls
