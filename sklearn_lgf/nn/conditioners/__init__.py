"""Conditioners: what computes a step's parameters.

A step applies a :class:`~sklearn_lgf.nn.transforms.MonotoneTransform` to
the elements it changes, with parameters that a conditioner computes from
the elements the transform may depend on and the optional context (the
LGF's index ``u``, when it indexes the conditioner). Every conditioner
returns the parameters with the shape of the changed elements plus a last
axis of the transform's ``params_per_feature``, so any transform fits any
conditioner:

- autoregressive (:class:`~sklearn_lgf.nn.steps.AutoregressiveStep`): a
  :class:`MADE` maps the rows ``(N, D)`` (images are flattened to ``D = C H
  W`` and back) to every element's parameters, element ``i``'s depending on
  the elements before it only; the inverse solves element by element;
- coupling (:class:`~sklearn_lgf.nn.steps.CouplingStep`): a mask, the flat
  indices of the ``kept`` and ``changed`` elements over all non-batch axes,
  splits the input; the conditioner sees the kept elements and returns the
  parameters of the changed ones (:class:`DenseConditioner`, an MLP).

Images plug into the coupling step without changing it
(:func:`~sklearn_lgf.nn.steps.conv_coupling_step`):

- a checkerboard mask (:func:`checkerboard_mask`) is the flat indices of the
  pixels with ``(h + w) % 2 == parity`` in every channel, a channel mask
  (:func:`channel_mask`) those of the first (or second) half of the
  channels; the step gathers and scatters along the flattened ``C H W``
  axis, and alternating ``parity`` alternates the mask;
- a :class:`ConvConditioner` is called as ``conditioner(kept, context)``
  like :class:`DenseConditioner`. It lays the kept elements out as an image
  (for a channel mask they are whole channels: a view ``(N, C/2, H, W)``;
  for a checkerboard it scatters them into zeros, RealNVP's ``x * b``),
  stacks an image-shaped context ``u`` on as channels, runs a residual conv
  net (:class:`ResNet`) to ``params_per_feature`` output maps per channel,
  ordered by the transform's ``packing``, and returns the changed elements'
  parameters ``(N, changed, params_per_feature)`` by gathering;
- squeeze and the multi-scale layout are bijections and views beside the
  steps (:mod:`sklearn_lgf.nn.images`), not conditioners.
"""

from __future__ import annotations

from .conv import ConvConditioner, ResidualBlock, ResNet, residual_widths
from .coupling import DenseConditioner, parity_split
from .made import MADE, MaskedLinear, hidden_degrees
from .masks import ImageShape, channel_mask, checkerboard_mask

CONDITIONERS = ("autoregressive", "coupling")
"""The names of the conditioners, as ``conditioner=`` takes them."""

__all__ = [
    "CONDITIONERS",
    "MADE",
    "ConvConditioner",
    "DenseConditioner",
    "ImageShape",
    "MaskedLinear",
    "ResNet",
    "ResidualBlock",
    "channel_mask",
    "checkerboard_mask",
    "hidden_degrees",
    "parity_split",
    "residual_widths",
]
