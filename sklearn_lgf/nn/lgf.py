"""The localised generative flow (LGF / CIF, Cornish et al. 2020).

Generative direction, one layer: ``u ~ p(u | z_{l-1})``, ``z_l = G^{-1}(z_{l-1}; u)``.
Inference runs from the data side: ``u ~ q(u | z_l)``, ``z_{l-1} = G(z_l; u)``.
One pass from the data side with one ``u`` per layer gives an unbiased
estimate ``log w`` of ``log p(x, u) - log q(u | x)``: its mean is the ELBO
(the paper's Algorithm 1 unrolled), and ``logsumexp_k log w_k - log K`` is
the importance-sampling estimate of ``log p(x)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from .bijections import Bijection
from .flow import flow_steps, standard_normal_log_prob
from .indexed import ConditionalGaussian, IndexedAffine, gaussian_log_prob_of_noise


class LGFLayer(nn.Module):
    """Indexed bijection, its prior ``p(u | z_out)`` and posterior ``q(u | z_in)``."""

    def __init__(
        self,
        bijection: Bijection,
        prior: ConditionalGaussian,
        posterior: ConditionalGaussian,
    ) -> None:
        super().__init__()
        self.bijection = bijection
        self.prior = prior
        self.posterior = posterior


class LGF(nn.Module):
    """A stack of LGF layers (and plain bijections) onto a standard normal prior.

    ``layers`` is ordered from the data side; entries that are plain
    :class:`Bijection` (order reversal, batch norm) carry no index.
    """

    def __init__(
        self, layers: Sequence[nn.Module], features: int, u_features: int
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.features = features
        self.u_features = u_features
        self.n_indexed = sum(isinstance(layer, LGFLayer) for layer in layers)

    def log_weights(
        self,
        x: Tensor,
        noise: Tensor,
        path_gradient: bool = False,
        on_layer: Callable[[LGFLayer, Tensor, Tensor, Tensor], None] | None = None,
    ) -> Tensor:
        """``log p(x, u) - log q(u | x)`` per row, ``u`` reparametrised by ``noise``.

        ``noise`` has shape ``(rows, n_indexed, u_features)``, standard normal.
        With ``path_gradient`` the density ``q`` is evaluated with its
        parameters detached (Roeder et al. 2017, "sticking the landing"): the
        value is unchanged, and the gradient drops the score term of ``q``,
        whose expectation is zero, so it is unbiased with a lower variance.
        ``on_layer(layer, mean, log_std, u)`` is called at each indexed layer
        with ``q``'s parameters and the drawn ``u`` (for diagnostics).
        """
        z = x
        total = x.new_zeros(x.shape[0])
        index = 0
        for layer in self.layers:
            if not isinstance(layer, LGFLayer):
                z, log_det = layer(z)
                total = total + log_det
                continue
            eps = noise[:, index]
            index += 1
            mean, log_std = layer.posterior.mean_log_std(z)
            u = mean + log_std.exp() * eps
            if on_layer is not None:
                on_layer(layer, mean, log_std, u)
            if path_gradient:
                mean, log_std = mean.detach(), log_std.detach()
                posterior_log_prob = gaussian_log_prob_of_noise(
                    (u - mean) * (-log_std).exp(), log_std
                )
            else:
                posterior_log_prob = gaussian_log_prob_of_noise(eps, log_std)
            z, log_det = layer.bijection(z, u)
            total = total + log_det + layer.prior.log_prob(u, z) - posterior_log_prob
        return total + standard_normal_log_prob(z)

    def training_loss(
        self,
        x: Tensor,
        generator: torch.Generator | None = None,
        n_draws: int = 1,
        path_gradient: bool = False,
    ) -> Tensor:
        """Negative ELBO averaged over the batch and ``n_draws`` draws of ``u``.

        ``path_gradient``: see :meth:`log_weights`.
        """
        if n_draws > 1:
            x = x.repeat(n_draws, 1)
        noise = torch.randn(
            x.shape[0],
            self.n_indexed,
            self.u_features,
            generator=generator,
            device=x.device,
            dtype=x.dtype,
        )
        return -self.log_weights(x, noise, path_gradient).mean()

    def tiled_log_weights(self, x: Tensor, noise: Tensor) -> Tensor:
        """``log w`` of every row with each of the ``K`` draws in ``noise``: ``(n, K)``.

        ``noise`` has shape ``(K, n_indexed, u_features)`` and is shared by all
        rows, so a row's weights do not depend on the other rows.
        """
        n, k = x.shape[0], noise.shape[0]
        rows = x.repeat_interleave(k, dim=0)
        return self.log_weights(rows, noise.repeat(n, 1, 1)).view(n, k)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        ref = next(self.parameters())
        z = torch.randn(
            n, self.features, generator=generator, device=ref.device, dtype=ref.dtype
        )
        for layer in reversed(self.layers):
            if isinstance(layer, LGFLayer):
                u = layer.prior.sample(z, generator)
                z = layer.bijection.inverse(z, u)
            else:
                z = layer.inverse(z)
        return z


def build_lgf(
    features: int,
    n_layers: int,
    hidden_sizes: Sequence[int],
    base: str = "made",
    u_features: int = 1,
    prior_hidden_sizes: Sequence[int] = (50, 50, 50, 50),
    posterior_hidden_sizes: Sequence[int] = (50, 50, 50, 50),
    scale_shift_hidden_sizes: Sequence[int] | None = (10, 10),
    batch_norm: bool = False,
    log_scale_bound: float = 5.0,
) -> LGF:
    """An LGF-MAF (``base="made"``) or LGF-RealNVP (``base="coupling"``).

    With ``scale_shift_hidden_sizes=None`` the index ``u`` is fed into the base
    step's conditioner instead (the paper's alternative indexing).
    """
    concat_u = scale_shift_hidden_sizes is None
    steps = flow_steps(
        features,
        n_layers,
        base,
        hidden_sizes,
        batch_norm,
        u_features if concat_u else 0,
        log_scale_bound,
    )
    layers: list[nn.Module] = []
    for step, *extras in steps:
        bijection = (
            step
            if concat_u
            else IndexedAffine(
                step, features, u_features, scale_shift_hidden_sizes, log_scale_bound
            )
        )
        layers.append(
            LGFLayer(
                bijection,
                prior=ConditionalGaussian(features, u_features, prior_hidden_sizes),
                posterior=ConditionalGaussian(
                    features, u_features, posterior_hidden_sizes
                ),
            )
        )
        layers.extend(extras)
    return LGF(layers, features, u_features)
