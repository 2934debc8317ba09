"""The bijections of image models (RealNVP's multi-scale architecture).

An image model takes flat rows of ``C H W`` values in C order and views the
leading part of each row as an image (:mod:`~.layout`, which also says why
factoring out channels is no map at all); :func:`~sklearn_lgf.nn.build_image_flow`
and :func:`~sklearn_lgf.nn.build_image_lgf` put these pieces together:

- :class:`LogitTransform`, RealNVP's pre-transform of intensities in ``[0,
  n_levels)``, with its log-determinant, so that scores are densities of the
  data in the data's units;
- :class:`Squeeze`, each 2 x 2 block of pixels to 4 channels;
- :class:`ChannelBatchNorm`, batch normalisation with one statistic per
  channel;
- :class:`OnLeading`, any bijection on the leading part of a row, viewed as
  an image.

The couplings are the ordinary
:class:`~sklearn_lgf.nn.steps.CouplingStep` with a checkerboard or channel
mask and a residual conv conditioner
(:func:`~sklearn_lgf.nn.steps.conv_coupling_step`).
"""

from __future__ import annotations

from .batch_norm import ChannelBatchNorm
from .layout import OnLeading, Shape, join_leading, split_leading
from .logit import LogitTransform
from .squeeze import Squeeze, squeezed_shape

__all__ = [
    "ChannelBatchNorm",
    "LogitTransform",
    "OnLeading",
    "Shape",
    "Squeeze",
    "join_leading",
    "split_leading",
    "squeezed_shape",
]
