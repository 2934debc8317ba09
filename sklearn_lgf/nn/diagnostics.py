"""Does a fitted LGF use its index ``u``? Statistics that tell collapse apart.

An LGF whose posteriors ``q_l(u | z_l)`` ignore their input and whose
``s(u)``, ``t(u)`` are constant is its base flow plus noise: the ELBO then
equals the importance-sampling estimate and every statistic below is near
zero. A model that uses ``u`` shows ``s``/``t`` varying over ``u ~ q``,
posterior means that move with the data, and a positive ELBO-to-IS gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .indexed import IndexedAffine
from .lgf import LGF, LGFLayer


@dataclass
class LayerDiagnostics:
    """Collapse statistics of one indexed layer (counted from the data side)."""

    shift_spread: float
    """Std of ``t(u)`` over ``u ~ q`` for a fixed row, averaged over rows and
    features (0 when ``t`` ignores ``u``; ``nan`` without an affine index)."""
    log_scale_spread: float
    """The same for ``log s(u)``."""
    posterior_mean_spread: float
    """Std across rows of ``q``'s mean, averaged over the dimensions of ``u``."""
    posterior_std: float
    """Mean of ``q``'s standard deviation over rows and dimensions."""


@dataclass
class CollapseDiagnostics:
    """Per-layer statistics and the ELBO-to-importance-sampling gap."""

    layers: list[LayerDiagnostics]
    elbo: float
    importance: float
    n_draws: int

    @property
    def elbo_gap(self) -> float:
        """``IS - ELBO`` in nats per row; near zero when ``u`` is unused."""
        return self.importance - self.elbo

    def table(self) -> str:
        """A markdown table: one row per layer, then the ELBO and IS figures."""
        lines = [
            "| layer | spread of t(u) | spread of log s(u) | spread of q's mean "
            "| q's std |",
            "|---|---|---|---|---|",
        ]
        for index, layer in enumerate(self.layers, start=1):
            lines.append(
                f"| {index} | {layer.shift_spread:.4f} | "
                f"{layer.log_scale_spread:.4f} | "
                f"{layer.posterior_mean_spread:.4f} | {layer.posterior_std:.4f} |"
            )
        lines.append("")
        lines.append(
            f"ELBO {self.elbo:.4f}, IS (K={self.n_draws}) {self.importance:.4f}, "
            f"gap {self.elbo_gap:.4f} nats (standardised units)"
        )
        return "\n".join(lines)


@torch.no_grad()
def collapse_diagnostics(
    model: LGF, x: Tensor, n_draws: int = 16, generator: torch.Generator | None = None
) -> CollapseDiagnostics:
    """Collapse statistics of ``model`` on the rows ``x`` with ``n_draws`` draws.

    Each row is pushed through the layers ``n_draws`` times with ``u ~ q``,
    as in the importance-sampling estimate; the statistics are taken along
    the way, so later layers see the inputs they see when scoring.
    """
    n = x.shape[0]
    # One draw per indexed layer, in layer order: the values a per-layer
    # draw from ``generator`` gives, laid out as the model's noise.
    noise = torch.cat(
        [
            torch.randn(
                n * n_draws,
                math.prod(shape),
                generator=generator,
                device=x.device,
                dtype=x.dtype,
            )
            for shape in model.u_shapes
        ],
        dim=1,
    ).view(n * n_draws, *model.noise_shape)
    layers: list[LayerDiagnostics] = []

    def observe(layer: LGFLayer, mean: Tensor, log_std: Tensor, u: Tensor) -> None:
        shift_spread = log_scale_spread = math.nan
        if isinstance(layer.bijection, IndexedAffine):
            log_scale, shift = layer.bijection._log_scale_shift(u)
            shift_spread = _within_row_std(shift, n, n_draws)
            log_scale_spread = _within_row_std(log_scale, n, n_draws)
        row_means = mean.view(n, n_draws, -1)[:, 0]
        layers.append(
            LayerDiagnostics(
                shift_spread=shift_spread,
                log_scale_spread=log_scale_spread,
                posterior_mean_spread=float(row_means.std(0).mean()) if n > 1 else 0.0,
                posterior_std=float(log_std.exp().mean()),
            )
        )

    log_w = model.log_weights(x, noise, on_layer=observe, draws=n_draws)
    log_w = log_w.view(n, n_draws)
    importance = torch.logsumexp(log_w, dim=1) - math.log(n_draws)
    return CollapseDiagnostics(
        layers=layers,
        elbo=float(log_w.mean()),
        importance=float(importance.mean()),
        n_draws=n_draws,
    )


def _within_row_std(values: Tensor, rows: int, draws: int) -> float:
    return float(values.view(rows, draws, -1).std(1).mean()) if draws > 1 else 0.0
