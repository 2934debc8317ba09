"""Sizes that follow the data: what ``"auto"`` network sizes mean for tables.

:class:`~sklearn_lgf.LGFDensity`'s index networks (the prior ``p(u | z)``,
the posterior ``q(u | x)`` and the ``s(u), t(u)`` network, two hidden
layers each) are as wide as the power of two nearest to ``2.5 d`` for ``d``
features, between 32 and 128, and at most a quarter of the rows the model
is fitted on (but at least 16).

From 43 features on that is the fixed width of earlier versions, 128 (the
8 x 8 digits get the same model as before); on a 2-D target or a handful of
columns it is 32, about a tenth of the parameters. On ADBench design splits
(not the reported seeds) the width this rule gives reached the highest
held-out likelihood of 32, 64 and 128 on each set tried, in less time than
128 (``benchmarks/results/size_rule.md``); a smaller ``u_dim`` lowered it,
so ``u_dim`` stays 4.

:class:`~sklearn_lgf.MAFDensity`'s MADE networks (two hidden layers per
step) are as wide as the largest power of two up to half the rows fitted
on, between 64 and 256. On the same design splits and on digits the
held-out likelihood rose with the width wherever there were a thousand rows
or more (pendigits by 1.3 nats from 100 to 256 units, digits by 1.7), and
the width mattered little on the sets of about 200 rows
(``benchmarks/results/size_rule_maf.md``).
"""

from __future__ import annotations

import math

UNITS_PER_FEATURE = 2.5
MIN_WIDTH, MAX_WIDTH = 32, 128
MIN_WIDTH_FEW_ROWS = 16
ROWS_PER_UNIT = 4


def index_width(n_features: int, n_rows: int | None) -> int:
    """The hidden width of :class:`~sklearn_lgf.LGFDensity`'s index networks
    for ``n_features`` features and ``n_rows`` training rows (``None``: not
    known, no cap)."""
    width = 1 << max(0, round(math.log2(UNITS_PER_FEATURE * n_features)))
    width = min(MAX_WIDTH, max(MIN_WIDTH, width))
    if n_rows is not None:
        cap = 1 << max(0, int(math.log2(max(1, n_rows // ROWS_PER_UNIT))))
        width = min(width, max(MIN_WIDTH_FEW_ROWS, cap))
    return width


def index_layers(n_features: int, n_rows: int | None) -> tuple[int, int]:
    """Two hidden layers of :func:`index_width`."""
    width = index_width(n_features, n_rows)
    return (width, width)


MADE_MIN_WIDTH, MADE_MAX_WIDTH = 64, 256
ROWS_PER_MADE_UNIT = 2


def made_width(n_rows: int | None) -> int:
    """The hidden width of :class:`~sklearn_lgf.MAFDensity`'s MADE networks
    for ``n_rows`` training rows (``None``: not known, the widest)."""
    if n_rows is None:
        return MADE_MAX_WIDTH
    width = 1 << max(0, int(math.log2(max(1, n_rows // ROWS_PER_MADE_UNIT))))
    return min(MADE_MAX_WIDTH, max(MADE_MIN_WIDTH, width))


def made_layers(n_features: int, n_rows: int | None) -> tuple[int, int]:
    """Two hidden layers of :func:`made_width` (the same for any ``n_features``)."""
    width = made_width(n_rows)
    return (width, width)
