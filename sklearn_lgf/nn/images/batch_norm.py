"""Batch normalisation of images with one statistic per channel."""

from __future__ import annotations

from torch import Tensor

from ..bijections import BatchNorm


class ChannelBatchNorm(BatchNorm):
    """:class:`~sklearn_lgf.nn.BatchNorm` of ``(N, C, H, W)`` images whose
    statistics (and learned scale and shift) are per channel, over the
    batch and all pixels, as in Dinh et al.'s RealNVP and the LGF authors'
    later code.

    Its log-determinant counts every pixel: ``H W sum_c (log_gamma_c - log
    sigma_c)``. Running statistics are used in evaluation, so that a row's
    value does not depend on its batch, and the end of training sets them to
    exact statistics of the training data, as for the flat batch norm.
    """

    def __init__(
        self,
        channels: int,
        momentum: float = 0.1,
        eps: float = 1e-5,
        affine: bool = True,
    ) -> None:
        super().__init__(channels, momentum, eps, affine)

    def _moments(self, x: Tensor) -> tuple[Tensor, Tensor, int]:
        axes = (0, 2, 3)
        count = x.numel() // x.shape[1]
        mean = x.mean(axes)
        var = x.var(axes, unbiased=False) if count > 1 else mean.new_ones(mean.shape)
        return mean, var, count

    def _shaped(self, statistic: Tensor) -> Tensor:
        return statistic.view(-1, 1, 1)

    def _per_statistic(self, x: Tensor) -> int:
        return x.shape[2] * x.shape[3]
