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

:class:`~sklearn_lgf.MAFDensity`'s MADE networks keep their fixed width
of 100: wider ones reached a higher held-out likelihood wherever there were
a thousand rows or more (``benchmarks/results/size_rule_maf.md``), but at
256 units the default diverged in its first epoch on one ADBench split,
whose validation mean a few rows near the extreme-row fence dominate.
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
