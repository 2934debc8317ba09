"""RealNVP's logit pre-transform of pixel intensities."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..bijections import Bijection


class LogitTransform(Bijection):
    """``z = logit(lambda + (1 - 2 lambda) x / n_levels)``, elementwise.

    ``x`` are (dequantised) intensities in ``[0, n_levels)``: scaled to
    ``[0, 1)``, squeezed into ``[lambda, 1 - lambda)`` so that the logit
    stays finite at the ends, then mapped onto the real line, where a flow
    with a Gaussian base fits them better. The log-determinant is that of
    the whole map,

        sum_i [log(1 - 2 lambda) - log(n_levels) - log p_i - log(1 - p_i)],

    so a model that starts with it gives a density of ``x`` in the units of
    ``x`` (bits per dimension follow as ``-log p(x) / (D ln 2)``).

    The model's density lives on ``(a, n_levels - a)^D`` with ``a = -lambda
    n_levels / (1 - 2 lambda)``, the preimage of ``(0, 1)``: at ``lambda =
    1e-6`` and 256 levels that is within ``3e-4`` of ``[0, 256)``.
    :meth:`inverse` maps a latent value beyond the image of ``[0,
    n_levels)`` onto its nearest end, so that generated data always lie in
    ``[0, n_levels)``; it is the exact inverse on that image.

    Parameters
    ----------
    n_levels : int
        Number of intensity levels (256 for 8-bit pixels): the data lie in
        ``[0, n_levels)``.
    lam : float
        The squeeze, in ``[0, 0.5)``: larger values keep the logit further
        from its poles at the cost of wasting more of the latent space (the
        LGF authors use ``1e-6`` for MNIST and Fashion-MNIST, ``0.05`` for
        CIFAR-10).
    """

    def __init__(self, n_levels: int, lam: float) -> None:
        super().__init__()
        if not 0 <= lam < 0.5:
            raise ValueError(f"lam must be in [0, 0.5), got {lam}")
        if n_levels < 1:
            raise ValueError(f"n_levels must be positive, got {n_levels}")
        self.n_levels = n_levels
        self.lam = lam
        self._slope = (1 - 2 * lam) / n_levels
        self._log_slope = math.log1p(-2 * lam) - math.log(n_levels)

    def forward(
        self, x: Tensor, context: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        # 1 - p from n_levels - x, which is exact, rather than by subtracting
        # p from 1: near the top level p rounds to within lambda of 1.
        p = self.lam + self._slope * x
        q = self.lam + self._slope * (self.n_levels - x)
        log_p, log_q = p.log(), q.log()
        log_det = (self._log_slope - log_p - log_q).flatten(1).sum(-1)
        return log_p - log_q, log_det

    def inverse(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        x = (torch.sigmoid(z) - self.lam) / self._slope
        top = torch.nextafter(
            torch.tensor(float(self.n_levels), dtype=x.dtype, device=x.device),
            torch.tensor(0.0, dtype=x.dtype, device=x.device),
        )
        return x.clamp(min=0.0).minimum(top)

    def extra_repr(self) -> str:
        return f"n_levels={self.n_levels}, lam={self.lam}"
