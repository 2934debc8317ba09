"""Standard-normal draws keyed by a row's own values.

Importance-sampling scores need draws that are deterministic (the same row
gets the same value on every call, whatever else is in the batch) and yet
independent across rows (so that the errors of the rows average out in a
set's mean instead of moving together, as they do when every row reuses one
bank of draws). A counter-based generator gives both: draw ``j`` of a row is
a hash of the row's bytes, a seed and ``j``, mapped to a normal through the
inverse normal CDF. Every operation is elementwise on tensors, so it runs on
any device, and the arithmetic stays in 32-bit lanes of ``int64`` tensors, so
no product overflows.
"""

from __future__ import annotations

import torch
from torch import Tensor

MASK32 = 0xFFFFFFFF
# Seeds a row's hash; any odd constant would do.
_ROW_SALT = 0x9E3779B9


def _times(x: Tensor, constant: int) -> Tensor:
    """The low 32 bits of ``x * constant`` for ``x`` in ``[0, 2**32)``, in
    two 16-bit halves of ``constant`` so that no partial product passes
    ``2**48`` (an ``int64`` product of two 32-bit values could overflow)."""
    low, high = constant & 0xFFFF, constant >> 16
    return (x * low + (((x * high) & 0xFFFF) << 16)) & MASK32


def mix32(x: Tensor) -> Tensor:
    """A bijection of ``[0, 2**32)`` with strong avalanche (Wellons's
    "triple32" integer hash), elementwise on an ``int64`` tensor."""
    x = x ^ (x >> 17)
    x = _times(x, 0xED5AD4BB)
    x = x ^ (x >> 11)
    x = _times(x, 0xAC4C1B51)
    x = x ^ (x >> 15)
    x = _times(x, 0x31848BAB)
    return x ^ (x >> 14)


def row_keys(x: Tensor, seed: int) -> Tensor:
    """A 32-bit key per row of the 2-D ``x``, from its bytes and ``seed``: ``(n,)``
    ``int64``. Equal rows get equal keys; two different rows share one with
    probability about ``2**-32``."""
    if x.dim() != 2:
        raise ValueError(f"x must be 2-D, got shape {tuple(x.shape)}")
    # 32-bit words of every value (two per float64), as non-negative int64.
    words = x.contiguous().view(torch.int32).to(torch.int64) & MASK32
    # Each word hashed with its position (so that swapping values changes
    # the key), summed modulo 2**32 and hashed again: one pass over all
    # columns at once.
    positions = torch.arange(words.shape[1], device=x.device)
    seed_word = torch.tensor(_ROW_SALT ^ (seed & MASK32), device=x.device)
    salt = mix32(positions ^ mix32(seed_word))
    return mix32(mix32(words ^ salt).sum(dim=1) & MASK32)


def keyed_standard_normal(
    keys: Tensor, first: int, count: int, shape: tuple[int, ...], dtype: torch.dtype
) -> Tensor:
    """Draws ``first, ..., first + count - 1`` of every key, each of ``shape``:
    a ``(len(keys), count, *shape)`` standard-normal tensor.

    Draw ``j`` of a key is the same whichever ``first`` and ``count`` the call
    asks for, so a row's draws can be taken in slices.
    """
    per_draw = 1
    for size in shape:
        per_draw *= size
    if (first + count) * per_draw - 1 > MASK32:
        raise ValueError(f"at most {MASK32 // per_draw} draws per row")
    counters = torch.arange(
        first * per_draw, (first + count) * per_draw, device=keys.device
    )
    # For a fixed key the map from counter to hash is a bijection, so a
    # row's draws never repeat.
    hashed = mix32(keys[:, None] ^ mix32(counters)[None, :])
    uniform = (hashed.to(torch.float64) + 0.5) * 2.0**-32  # in (0, 1)
    normal = torch.special.ndtri(uniform).to(dtype)
    return normal.view(keys.shape[0], count, *shape)
