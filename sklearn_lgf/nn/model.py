"""The interface every engine model offers, an exact flow and an LGF alike.

Estimators hold a :class:`DensityModel` and use nothing else of it: they do
not need to know whether its log-density is exact or estimated. The
scoring-time settings (``n_importance_samples``) are arguments of each call;
a model that computes its log-density exactly ignores them.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .chunks import exact_chunk_rows, map_fixed_chunks, sample_chunk_rows


@dataclass(frozen=True)
class MonteCarlo:
    """How a model with latent variables trains and validates, set once per fit.

    An exact flow ignores all of it. For an LGF:

    training_draws
        Draws of ``u`` per row and training step.
    training_objective
        ``"elbo"``: the loss is minus the mean of ``log w`` over the draws.
        ``"iwae"``: minus ``logsumexp_k log w_k - log K`` over a row's
        ``K = training_draws`` draws (Burda et al. 2016), the bound that
        importance-sampling scoring estimates with ``K`` draws; tighter
        than the ELBO as ``K`` grows, and equal to it for one draw.
    path_gradient
        Train on the path ("sticking the landing") gradient of the ELBO.
    validation_samples
        ``K`` of :meth:`DensityModel.validation_log_prob`.
    seed
        Seeds the scoring draws, which are keyed by each row's values (so a
        row's value does not depend on the batch, and different rows' errors
        are independent), and, plus one, the validation draws.
    """

    training_draws: int = 1
    path_gradient: bool = False
    training_objective: str = "elbo"
    validation_samples: int = 5
    seed: int = 0


def importance_estimate(
    log_sum_w: Tensor, log_sum_w2: Tensor, k: Tensor
) -> tuple[Tensor, Tensor]:
    """The importance-sampling estimate ``log(mean_k w_k)`` per row and its
    standard error by the delta method, ``sqrt((mean w^2 / (mean w)^2 - 1) / K)``,
    from ``logsumexp_k log w_k``, ``logsumexp_k 2 log w_k`` and ``K`` (per row)."""
    log_k = torch.log(k)
    # mean w^2 / (mean w)^2 = exp(log_sum_w2 + log K - 2 log_sum_w), >= 1.
    excess = torch.expm1(log_sum_w2 + log_k - 2 * log_sum_w).clamp_min(0)
    return log_sum_w - log_k, (excess / k).sqrt()


class DensityModel(nn.Module, metaclass=ABCMeta):
    """A density on ``features``-dimensional (standardised) data.

    ``log_prob`` and ``elbo`` take any number of rows at once and stay
    differentiable; :mod:`sklearn_lgf.nn.evaluation` applies them in
    fixed-shape chunks (:meth:`scoring_layout`) for memory-bounded,
    batch-independent scoring. The defaults here are those of a model whose
    log-density is exact; a model that estimates it overrides them.
    """

    features: int
    monte_carlo: MonteCarlo
    exact: bool = True
    """Whether :meth:`log_prob` is exact (else an estimate from draws)."""
    calibration_chunk_rows: int | None = None
    """Rows per pass when the batch norms are set to the training data's
    statistics after training: ``None``, all rows in one pass (exact
    statistics); image models, whose activations per row are large, set a
    number, and the passes' statistics are pooled (see
    :func:`~sklearn_lgf.nn.bijections.calibrate_batch_norms`)."""

    @abstractmethod
    def log_prob(
        self,
        x: Tensor,
        noise: Tensor | None = None,
        *,
        n_importance_samples: int | None = None,
    ) -> Tensor:
        """``log p(x)`` per row: exact, or an importance-sampling estimate
        from the standard-normal draws ``noise``, ``(n, K, ...)`` for each
        row or ``(K, ...)`` for all (``None``: each row's own first
        ``n_importance_samples`` of :meth:`importance_draws`)."""

    def elbo(
        self,
        x: Tensor,
        noise: Tensor | None = None,
        *,
        n_importance_samples: int | None = None,
    ) -> Tensor:
        """A lower bound of ``log p(x)`` per row (exact flows: ``log p(x)``)."""
        return self.log_prob(x, noise)

    def log_prob_and_std(
        self,
        x: Tensor,
        noise: Tensor | None = None,
        *,
        n_importance_samples: int | None = None,
    ) -> Tensor:
        """:meth:`log_prob` and its Monte Carlo standard error per row, as
        ``(n, 2)`` (exact models: an error of 0)."""
        log_prob = self.log_prob(x, noise)
        return torch.stack([log_prob, torch.zeros_like(log_prob)], dim=1)

    def log_weight_sums(self, x: Tensor, noise: Tensor) -> Tensor:
        """``logsumexp_k log w_k`` and ``logsumexp_k 2 log w_k`` per row, as
        ``(n, 2)``, over the draws ``noise`` (as in :meth:`log_prob`; models
        that estimate; the pieces of :func:`importance_estimate`)."""
        raise NotImplementedError(f"{type(self).__name__} draws nothing")

    def importance_draws(self, x: Tensor, first: int, count: int) -> Tensor:
        """Draws ``first`` to ``first + count - 1`` of each row's own
        deterministic sequence, ``(n, count, ...)`` (models that estimate)."""
        raise NotImplementedError(f"{type(self).__name__} draws nothing")

    def sample_chunk_rows(self, device: torch.device) -> int:
        """Rows drawn together when sampling on ``device``: at most
        :attr:`calibration_chunk_rows` for models that set it, whose
        activations per row are large (a CUDA chunk of a tabular model
        would take tens of GiB through an image model)."""
        rows = sample_chunk_rows(device)
        cap = self.calibration_chunk_rows
        return rows if cap is None else min(rows, cap)

    def scoring_layout(
        self, device: torch.device, n_importance_samples: int | None = None
    ) -> tuple[int, int]:
        """Rows scored together in one fixed-shape chunk on ``device``, and
        the rows of the model's input in one pass over such a chunk (an
        estimate repeats each row for its ``n_importance_samples`` draws)."""
        rows = exact_chunk_rows(device, sum(p.numel() for p in self.parameters()))
        return rows, rows

    def validation_log_prob(
        self, x: Tensor, *, generator: torch.Generator | None = None
    ) -> Tensor:
        """``log p(x)`` per row as early stopping should see it, memory
        bounded (an estimate whose errors are independent across rows, for
        models that estimate, drawn from ``generator``: ``None`` for
        :meth:`validation_generator`'s)."""
        return map_fixed_chunks(self.log_prob, x, self.scoring_layout(x.device)[0])

    def validation_generator(self, device: torch.device) -> torch.Generator | None:
        """A fresh generator for :meth:`validation_log_prob` (``None``: exact)."""
        return None

    @abstractmethod
    def training_loss(
        self, x: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """The minibatch loss whose gradient trains the model."""

    @abstractmethod
    def generate(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Data from draws ``z`` of the standard normal base distribution."""

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` rows drawn from the model."""
        reference = next(self.parameters())
        z = torch.randn(
            n,
            self.features,
            generator=generator,
            device=reference.device,
            dtype=reference.dtype,
        )
        return self.generate(z, generator)
