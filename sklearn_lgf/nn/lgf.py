"""The localised generative flow (LGF / CIF, Cornish et al. 2020).

Generative direction, one layer: ``u ~ p(u | z_{l-1})``, ``z_l = G^{-1}(z_{l-1}; u)``.
Inference runs from the data side: ``u ~ q(u | z_l)``, ``z_{l-1} = G(z_l; u)``.
One pass from the data side with one ``u`` per layer gives an unbiased
estimate ``log w`` of ``log p(x, u) - log q(u | x)``: its mean is the ELBO
(the paper's Algorithm 1 unrolled), and ``logsumexp_k log w_k - log K`` is
the importance-sampling estimate of ``log p(x)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from . import chunks
from .activations import logaddexp
from .bijections import Bijection
from .conditioners import ResNet
from .flow import flow_steps, standard_normal_log_prob
from .images.layout import Shape, join_leading, split_leading
from .indexed import ConditionalGaussian, IndexedAffine, gaussian_log_prob_of_noise
from .keyed_noise import keyed_standard_normal, row_keys
from .model import DensityModel, MonteCarlo, importance_estimate
from .transforms import DEFAULT_BINS, DEFAULT_TAIL_BOUND

INDEXINGS = ("affine", "conditioner")

LayerObserver = Callable[["LGFLayer", Tensor, Tensor, Tensor], None]


class LGFLayer(nn.Module):
    """Indexed bijection, its prior ``p(u | z_out)`` and posterior ``q(u | z_in)``.

    With a ``shape`` the layer works on the leading part of each flat row,
    viewed as ``shape`` (an image ``(C, H, W)`` in a multi-scale model, see
    :mod:`sklearn_lgf.nn.images`): the bijection, ``p`` and ``q`` see that
    image, and the rest of the row passes unchanged. Without one they see
    the whole row.
    """

    def __init__(
        self,
        bijection: Bijection,
        prior: ConditionalGaussian,
        posterior: ConditionalGaussian,
        shape: Shape | None = None,
    ) -> None:
        super().__init__()
        self.bijection = bijection
        self.prior = prior
        self.posterior = posterior
        self.shape = None if shape is None else tuple(shape)

    def _split(self, z: Tensor) -> tuple[Tensor, Tensor | None]:
        return (z, None) if self.shape is None else split_leading(z, self.shape)

    def _join(self, z: Tensor, rest: Tensor | None) -> Tensor:
        return z if self.shape is None else join_leading(z, rest)

    def forward(
        self,
        z: Tensor,
        eps: Tensor,
        path_gradient: bool = False,
        on_layer: LayerObserver | None = None,
        expand: Callable[[Tensor], Tensor] | None = None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One layer from the data side with ``u ~ q(u | z)`` reparametrised
        by the standard-normal ``eps``.

        ``expand`` maps each row of ``z`` to its rows of ``eps`` (several
        draws of ``u`` per row); what does not depend on ``u`` (``q``'s
        parameters, the base step of an affine indexing) is computed once per
        row of ``z``. Returns the layer's output, ``log|det dG/dz|``,
        ``log p(u | output)`` and ``log q(u | z)``, one row per row of
        ``eps``: the layer's terms of ``log w``. ``eps`` has the shape of
        ``u``. See :meth:`LGF.log_weights` for ``path_gradient`` and
        ``on_layer``.
        """
        z, rest = self._split(z)
        if rest is not None and expand is not None:
            rest = expand(rest)
        mean, log_std = self.posterior.mean_log_std(z)
        if expand is not None:
            mean, log_std = expand(mean), expand(log_std)
        u = mean + log_std.exp() * eps
        if on_layer is not None:
            on_layer(self, mean, log_std, u)
        if path_gradient:
            mean, log_std = mean.detach(), log_std.detach()
            posterior_log_prob = gaussian_log_prob_of_noise(
                (u - mean) * (-log_std).exp(), log_std
            )
        else:
            posterior_log_prob = gaussian_log_prob_of_noise(eps, log_std)
        if expand is None:
            out, log_det = self.bijection(z, u)
        elif isinstance(self.bijection, IndexedAffine):
            out, log_det = self.bijection.forward_expanded(z, u, expand)
        else:
            out, log_det = self.bijection(expand(z), u)
        prior_log_prob = self.prior.log_prob(u, out)
        return self._join(out, rest), log_det, prior_log_prob, posterior_log_prob

    def inverse(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One generative step: ``u ~ p(u | z)``, then ``G^{-1}(z; u)``."""
        z, rest = self._split(z)
        x = self.bijection.inverse(z, self.prior.sample(z, generator))
        return self._join(x, rest)


class LGF(DensityModel):
    """A stack of LGF layers (and plain bijections) onto a standard normal prior.

    ``layers`` is ordered from the data side; entries that are plain
    :class:`Bijection` (order reversal, batch norm) carry no index. How it
    trains and validates is set by :attr:`monte_carlo`; how many draws
    estimate the intractable ``log p(x)`` is an argument of each scoring call.

    Every indexed layer's ``u`` is a vector of ``u_dim`` entries, unless
    ``u_shapes`` gives each layer's own shape (an image model's ``u`` is an
    image of its layer's height and width). The standard-normal noise that
    reparametrises the draws has one row of :attr:`noise_shape` per draw:
    ``(n_indexed, u_dim)`` when every ``u`` is a vector of ``u_dim``, else
    one flat axis holding every layer's ``u`` in layer order.
    """

    exact = False

    def __init__(
        self,
        layers: Sequence[nn.Module],
        features: int,
        u_dim: int,
        u_shapes: Sequence[Shape] | None = None,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.features = features
        self.u_dim = u_dim
        self.n_indexed = sum(isinstance(layer, LGFLayer) for layer in layers)
        if u_shapes is None:
            u_shapes = [(u_dim,)] * self.n_indexed
        self.u_shapes = tuple(tuple(shape) for shape in u_shapes)
        if len(self.u_shapes) != self.n_indexed:
            raise ValueError(
                f"{len(self.u_shapes)} u shapes for {self.n_indexed} indexed layers"
            )
        sizes = [math.prod(shape) for shape in self.u_shapes]
        self.noise_shape: tuple[int, ...] = (
            (self.n_indexed, u_dim)
            if all(shape == (u_dim,) for shape in self.u_shapes)
            else (sum(sizes),)
        )
        """The shape of one draw's noise (all layers' ``u``)."""
        self._u_slices = [
            (sum(sizes[:index]), size) for index, size in enumerate(sizes)
        ]
        self.monte_carlo = MonteCarlo()

    def _layer_noise(self, noise: Tensor, index: int) -> Tensor:
        """Indexed layer ``index``'s share of ``noise``, shaped like its ``u``."""
        if len(self.noise_shape) == 2:
            return noise[:, index]
        start, size = self._u_slices[index]
        return noise[:, start : start + size].reshape(
            noise.shape[0], *self.u_shapes[index]
        )

    # ---------------------------------------------------------------- core
    def log_weights(
        self,
        x: Tensor,
        noise: Tensor,
        path_gradient: bool = False,
        on_layer: LayerObserver | None = None,
        *,
        draws: int = 1,
        row_major: bool = True,
    ) -> Tensor:
        """``log p(x, u) - log q(u | x)`` per draw, ``u`` reparametrised by ``noise``.

        ``noise`` has shape ``(rows * draws, *noise_shape)``, standard
        normal: ``draws`` draws for each row of ``x``, grouped by row
        (``row_major``: row 0's draws, then row 1's, ...) or by draw (every
        row's first draw, then every row's second, ...). The result has one
        entry per row of ``noise``. Work that does not depend on ``u`` (the
        layers before the first indexed one, the first ``q`` and an affine
        indexing's base step) runs once per row of ``x``.

        With ``path_gradient`` the density ``q`` is evaluated with its
        parameters detached (Roeder et al. 2017, "sticking the landing"): the
        value is unchanged, and the gradient drops the score term of ``q``,
        whose expectation is zero, so it is unbiased with a lower variance.
        ``on_layer(layer, mean, log_std, u)`` is called at each indexed layer
        with ``q``'s parameters and the drawn ``u`` (for diagnostics).
        """
        if noise.shape[0] != x.shape[0] * draws:
            raise ValueError(
                f"noise has {noise.shape[0]} rows; {x.shape[0]} rows of x with "
                f"{draws} draws each need {x.shape[0] * draws}"
            )
        expand: Callable[[Tensor], Tensor] | None = None
        if draws > 1:
            expand = (
                (lambda t: t.repeat_interleave(draws, dim=0))
                if row_major
                else (lambda t: t.repeat(draws, *(1,) * (t.dim() - 1)))
            )
        z = x
        total = x.new_zeros(x.shape[0])
        index = 0
        for layer in self.layers:
            if isinstance(layer, LGFLayer):
                z, log_det, prior, posterior = layer(
                    z, self._layer_noise(noise, index), path_gradient, on_layer, expand
                )
                if expand is not None:
                    total, expand = expand(total), None
                index += 1
                total = total + log_det + prior - posterior
            else:
                z, log_det = layer(z)
                total = total + log_det
        if expand is not None:  # no indexed layer: nothing was drawn
            total, z = expand(total), expand(z)
        return total + standard_normal_log_prob(z)

    def tiled_log_weights(self, x: Tensor, noise: Tensor) -> Tensor:
        """``log w`` of every row with each of its ``K`` draws in ``noise``: ``(n, K)``.

        ``noise`` is ``(n, K, *noise_shape)``, each row's own draws (as
        :meth:`importance_draws` gives them), or ``(K, *noise_shape)``, one
        set of draws for every row.
        """
        n = x.shape[0]
        if noise.dim() == 2 + len(self.noise_shape):
            k = noise.shape[1]
            per_row = noise.reshape(n * k, *noise.shape[2:])
        else:
            k = noise.shape[0]
            per_row = noise.repeat(n, *(1,) * len(self.noise_shape))
        return self.log_weights(x, per_row, draws=k).view(n, k)

    def generate(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        for layer in reversed(self.layers):
            z = (
                layer.inverse(z, generator)
                if isinstance(layer, LGFLayer)
                else layer.inverse(z)
            )
        return z

    # ------------------------------------------------------------ training
    def training_loss(
        self, x: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """Minus the bound of ``monte_carlo.training_objective`` over
        ``monte_carlo.training_draws`` draws of ``u`` per row, averaged over
        the batch."""
        draws = self.monte_carlo.training_draws
        noise = self._standard_normal(x.shape[0] * draws, generator, x)
        log_w = self.log_weights(
            x, noise, self.monte_carlo.path_gradient, draws=draws, row_major=False
        )
        if self.monte_carlo.training_objective == "iwae" and draws > 1:
            bound = log_w.view(draws, x.shape[0]).logsumexp(0) - math.log(draws)
            return -bound.mean()
        return -log_w.mean()

    # ------------------------------------------------------------- scoring
    def importance_draws(self, x: Tensor, first: int, count: int) -> Tensor:
        """Draws ``first, ..., first + count - 1`` of each row's own sequence,
        ``(n, count, *noise_shape)``: a function of the row's values and
        ``monte_carlo.seed`` alone, so a row's estimate is the same on every
        call and in any batch, while different rows' draws are independent."""
        return keyed_standard_normal(
            row_keys(x, self.monte_carlo.seed),
            first,
            count,
            self.noise_shape,
            x.dtype,
        )

    def row_sample_budget(self, device: torch.device) -> int:
        """Rows x draws in memory at once when scoring on ``device``, for
        networks of this model's width (see
        :func:`~sklearn_lgf.nn.chunks.row_sample_budget`; the output units of
        residual conv nets count every pixel, and on any device they keep a
        chunk within :data:`IMAGE_ACTIVATION_BUDGET`)."""
        units = sum(m.out_features for m in self.modules() if isinstance(m, nn.Linear))
        image_units = self._image_units()
        per_draw = (units + image_units) // max(1, self.n_indexed)
        budget = chunks.row_sample_budget(device, per_draw)
        if image_units:
            budget = min(budget, _image_budget(device, per_draw))
        return budget

    def _image_units(self) -> int:
        """Output units of the residual conv nets, every pixel counted."""
        return sum(m.units_per_row for m in self.modules() if isinstance(m, ResNet))

    def scoring_layout(
        self, device: torch.device, n_importance_samples: int | None = None
    ) -> tuple[int, int]:
        draws = _draws(n_importance_samples)
        budget = self.row_sample_budget(device)
        rows = max(1, budget // draws)
        return rows, rows * min(draws, budget)

    def log_prob(
        self,
        x: Tensor,
        noise: Tensor | None = None,
        *,
        n_importance_samples: int | None = None,
        max_row_samples: int | None = None,
    ) -> Tensor:
        """Importance-sampling estimate ``logsumexp_k log w_k - log K`` per row.

        It tends to ``log p(x)`` from below as ``K`` grows. ``noise``: the
        draws, as :meth:`tiled_log_weights` takes them (``None``: each row's
        first ``K = n_importance_samples`` of :meth:`importance_draws`).
        At most ``max_row_samples`` (default: the device's budget) draws per
        row are in memory at once; more are taken in slices and combined
        exactly.
        """
        return self._over_draws(
            x, noise, n_importance_samples, max_row_samples, importance=True
        )

    def elbo(
        self,
        x: Tensor,
        noise: Tensor | None = None,
        *,
        n_importance_samples: int | None = None,
        max_row_samples: int | None = None,
    ) -> Tensor:
        """The mean of ``log w_k`` over the draws: a Monte Carlo estimate of
        the evidence lower bound. Arguments as in :meth:`log_prob`."""
        return self._over_draws(
            x, noise, n_importance_samples, max_row_samples, importance=False
        )

    def log_prob_and_std(
        self,
        x: Tensor,
        noise: Tensor | None = None,
        *,
        n_importance_samples: int | None = None,
        max_row_samples: int | None = None,
    ) -> Tensor:
        """:meth:`log_prob` and its standard error per row, as ``(n, 2)``.

        The standard error of ``log(mean_k w_k)`` by the delta method,
        ``sqrt((mean_k w_k^2 / (mean_k w_k)^2 - 1) / K)``, estimated from the
        same ``K`` draws: it says how far the estimate may move with other
        draws (and shrinks as ``1 / sqrt(K)``), but it cannot see weights
        the draws never reached, so it is optimistic when ``q`` misses part
        of the posterior. The first column equals :meth:`log_prob` exactly.
        """
        return self._over_draws(
            x,
            noise,
            n_importance_samples,
            max_row_samples,
            importance=True,
            with_std=True,
        )

    def log_weight_sums(self, x: Tensor, noise: Tensor) -> Tensor:
        log_w = self.tiled_log_weights(x, noise)
        return torch.stack(
            [torch.logsumexp(log_w, dim=1), torch.logsumexp(2 * log_w, dim=1)], dim=1
        )

    def _over_draws(
        self,
        x: Tensor,
        noise: Tensor | None,
        n_importance_samples: int | None,
        max_row_samples: int | None,
        importance: bool,
        with_std: bool = False,
    ) -> Tensor:
        budget = max_row_samples or self.row_sample_budget(x.device)
        draw_axis = -1 - len(self.noise_shape)
        k = _draws(n_importance_samples) if noise is None else noise.shape[draw_axis]
        k_slice = min(k, budget)
        total: Tensor | None = None
        for start in range(0, k, k_slice):
            count = min(k_slice, k - start)
            draws = (
                self.importance_draws(x, start, count)
                if noise is None
                else noise.narrow(noise.dim() + draw_axis, start, count)
            )
            if importance:
                sums = self.log_weight_sums(x, draws)
                total = sums if total is None else logaddexp(total, sums)
            else:
                part = self.tiled_log_weights(x, draws).sum(dim=1)
                total = part if total is None else total + part
        assert total is not None
        if not importance:
            return total / k
        estimate, std = importance_estimate(
            total[:, 0], total[:, 1], torch.full_like(total[:, 0], k)
        )
        return torch.stack([estimate, std], dim=1) if with_std else estimate

    @torch.no_grad()
    def validation_log_prob(
        self,
        x: Tensor,
        *,
        max_row_samples: int | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Importance-sampling estimate with ``monte_carlo.validation_samples``
        draws of its own per row.

        Unlike :meth:`log_prob`, whose draws are keyed by each row's values,
        every row here gets fresh draws from a generator seeded with
        ``monte_carlo.seed + 1``: as there, the errors of the rows are
        independent and average out in their mean (early stopping). The same
        ``x`` gives the same values on every call.
        A set scored in parts passes one ``generator`` (seeded as above) to
        every part, so that the parts' draws differ.
        """
        n_draws = self.monte_carlo.validation_samples
        budget = max_row_samples or (
            self.row_sample_budget(x.device)
            if self._image_units()
            else chunks.row_sample_budget(x.device)
        )
        if generator is None:
            generator = self.validation_generator(x.device)
        k_slice = min(n_draws, budget)
        rows_per_chunk = max(1, budget // n_draws)
        result = x.new_empty(x.shape[0])
        for start in range(0, x.shape[0], rows_per_chunk):
            rows = x[start : start + rows_per_chunk]
            total: Tensor | None = None
            for first in range(0, n_draws, k_slice):
                k = min(k_slice, n_draws - first)
                noise = self._standard_normal(rows.shape[0] * k, generator, x)
                log_w = self.log_weights(rows, noise, draws=k)
                part = torch.logsumexp(log_w.view(rows.shape[0], k), dim=1)
                total = part if total is None else logaddexp(total, part)
            assert total is not None
            result[start : start + rows.shape[0]] = total - math.log(n_draws)
        return result

    def validation_generator(self, device: torch.device) -> torch.Generator:
        """The generator of :meth:`validation_log_prob`'s draws, freshly seeded."""
        return torch.Generator(device=device).manual_seed(self.monte_carlo.seed + 1)

    def _standard_normal(
        self, rows: int, generator: torch.Generator | None, like: Tensor
    ) -> Tensor:
        """``(rows, *noise_shape)`` standard-normal draws of ``u``'s noise."""
        return torch.randn(
            rows,
            *self.noise_shape,
            generator=generator,
            device=like.device,
            dtype=like.dtype,
        )


IMAGE_ACTIVATION_BUDGET = {"cpu": 2**26, "cuda": 2**31}
"""Activations (row-draws x output units of one indexed layer's networks)
of an image model's scoring chunk, per device: the residual conv nets'
activations grow with every pixel, and the tabular row-draw budgets would
hold several GiB of them at once."""


def _image_budget(device: torch.device, units_per_draw: int) -> int:
    """Row-draws of an image model's chunk: a power of two within
    :data:`IMAGE_ACTIVATION_BUDGET`, at least one."""
    fit = IMAGE_ACTIVATION_BUDGET.get(device.type, 2**26) // max(1, units_per_draw)
    return 1 << max(0, fit.bit_length() - 1)


def _draws(n_importance_samples: int | None) -> int:
    """``n_importance_samples``, which an estimate from its own draws needs."""
    if n_importance_samples is None:
        raise ValueError(
            "an LGF's estimate from its own draws needs n_importance_samples"
        )
    return n_importance_samples


def build_lgf(
    features: int,
    n_layers: int = 5,
    hidden_layer_sizes: Sequence[int] = (32, 32),
    *,
    conditioner: str = "autoregressive",
    univariate: str = "spline",
    n_bins: int = DEFAULT_BINS,
    tail_bound: float = DEFAULT_TAIL_BOUND,
    u_dim: int = 4,
    pq_hidden_layer_sizes: Sequence[int] = (128, 128),
    st_hidden_layer_sizes: Sequence[int] = (128, 128),
    indexing: str = "affine",
    batch_norm: bool = False,
    log_scale_bound: float = 5.0,
) -> LGF:
    """An LGF-MAF (``univariate="affine"``), LGF-RealNVP (``"affine"`` with
    ``conditioner="coupling"``) or LGF-NSF (``univariate="spline"``); see
    :func:`~.flow.flow_steps`.

    ``conditioner`` and ``univariate`` choose the step; the other arguments
    and defaults are those of :class:`~sklearn_lgf.LGFDensity`;
    ``log_scale_bound`` bounds ``log s(u)`` (the steps keep theirs).
    ``indexing="affine"``: ``G(x; u) = s(u) * g(x) + t(u)`` with ``s`` and
    ``t`` from an MLP of ``u`` of widths ``st_hidden_layer_sizes``;
    ``"conditioner"``: ``u`` is fed into the step's conditioner instead
    (the paper's alternative indexing).
    """
    if indexing not in INDEXINGS:
        raise ValueError(
            f"unknown indexing {indexing!r}; use 'affine' or 'conditioner'"
        )
    concat_u = indexing == "conditioner"
    steps = flow_steps(
        features,
        n_layers,
        hidden_layer_sizes,
        conditioner=conditioner,
        univariate=univariate,
        batch_norm=batch_norm,
        context_features=u_dim if concat_u else 0,
        n_bins=n_bins,
        tail_bound=tail_bound,
    )
    layers: list[nn.Module] = []
    for step, *extras in steps:
        bijection = (
            step
            if concat_u
            else IndexedAffine.dense(
                step, features, u_dim, st_hidden_layer_sizes, log_scale_bound
            )
        )
        layers.append(
            LGFLayer(
                bijection,
                prior=ConditionalGaussian.dense(features, u_dim, pq_hidden_layer_sizes),
                posterior=ConditionalGaussian.dense(
                    features, u_dim, pq_hidden_layer_sizes
                ),
            )
        )
        layers.extend(extras)
    return LGF(layers, features, u_dim)
