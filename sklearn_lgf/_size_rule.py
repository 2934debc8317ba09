"""Network sizes that follow the data: what ``"auto"`` sizes mean for tables.

:class:`~sklearn_lgf.LGFDensity`'s index networks (the prior ``p(u | z)``,
the posterior ``q(u | x)`` and the ``s(u), t(u)`` network) and its index
dimension ``u_dim`` grow with the number of features ``d`` and are held
back on few rows:

- width of the index networks (two hidden layers): ``2 d`` rounded up to a
  power of two, between 32 and 128, and at most a quarter of the rows the
  model is fitted on (but at least 16);
- ``u_dim``: ``ceil(d / 4)``, between 1 and 4.

At 64 features (8 x 8 digits) that is the fixed size of earlier versions,
128 and 4; on a 2-D target or a handful of columns it is 32 and 1 or 2,
about a tenth of the parameters: on the ADBench design splits such
networks reached an equal or higher held-out likelihood in less time
(``benchmarks/results/size_rule.md``). The paper's own configurations
follow the same direction (``u`` of 1 dimension on 2-D targets, 2 on 6-
and 8-feature data, 5 to 15 on 21- to 63-feature data).
"""

from __future__ import annotations

import math

MIN_WIDTH, MAX_WIDTH = 32, 128
MIN_WIDTH_FEW_ROWS = 16
ROWS_PER_UNIT = 4
MAX_U_DIM = 4
FEATURES_PER_U_DIM = 4


def index_width(n_features: int, n_rows: int | None) -> int:
    """The hidden width of :class:`~sklearn_lgf.LGFDensity`'s index networks
    for ``n_features`` features and ``n_rows`` training rows (``None``: not
    known, no cap)."""
    width = 1 << max(0, math.ceil(math.log2(2 * n_features)))
    width = min(MAX_WIDTH, max(MIN_WIDTH, width))
    if n_rows is not None:
        cap = 1 << max(0, int(math.log2(max(1, n_rows // ROWS_PER_UNIT))))
        width = min(width, max(MIN_WIDTH_FEW_ROWS, cap))
    return width


def index_layers(n_features: int, n_rows: int | None) -> tuple[int, int]:
    """Two hidden layers of :func:`index_width`."""
    width = index_width(n_features, n_rows)
    return (width, width)


def u_dim(n_features: int, n_rows: int | None) -> int:
    """:class:`~sklearn_lgf.LGFDensity`'s ``u_dim`` for ``n_features``
    features (the rows do not matter)."""
    return min(MAX_U_DIM, max(1, math.ceil(n_features / FEATURES_PER_U_DIM)))
