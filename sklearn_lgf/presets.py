"""The paper's 2-D model pairs, shared by the demo, the benchmarks and the docs.

Each preset returns fresh, unfitted estimators; ``**training`` is passed to
both (``max_iter``, ``random_state``, ``device``, ...), so that a comparison
always trains the two models of a pair the same way. ``paper_training()``
and ``PAPER_N_TRAIN`` / ``PAPER_N_TEST`` are the paper's protocol for them.
"""

from __future__ import annotations

from typing import Any

from ._lgf import LGFDensity
from ._maf import MAFDensity

__all__ = [
    "FIGURE_1",
    "FIGURE_4",
    "PAIRS",
    "PAIR_OBJECTIVE",
    "PAPER_N_TEST",
    "PAPER_N_TRAIN",
    "paper_pair",
    "paper_training",
]

FIGURE_1 = "figure1"
"""The paper's Figure 1 (two uniforms): a 10-layer MAF of MADE 4x50 (80,040
parameters) against a 5-layer LGF-MAF of MADE 2x10, s/t net 2x10, p and q
nets 4x50 and a one-dimensional ``u`` (80,810 parameters, the paper's count)."""

FIGURE_4 = "figure4"
"""The paper's Figure 4 (the other 2-D targets): a 20-layer MAF of MADE 4x50
against the authors' code's default 2-D LGF-MAF, MADE 4x50 with the Figure 1
p, q and s/t nets (119,910 parameters)."""

PAIRS = (FIGURE_1, FIGURE_4)

# The authors' code averaged the ELBO over 10 draws of u per row and step.
PAPER_ELBO_SAMPLES = 10
PAIR_OBJECTIVE = "iwae"
"""The pairs' LGF-MAF trains on the importance-weighted bound over its draws,
the objective of the authors' later code (their LGF-paper code averaged the
ELBO); on the 2-D targets it trained closer to the data than the ELBO with
the same draws (``benchmarks/results/two_d_figure1.md``, ``two_d_figure4.md``,
``lgf_training_two_spirals.md``)."""

PAPER_N_TRAIN = 10_000
"""Training points of the paper's 2-D comparisons."""

PAPER_N_TEST = 5_000
"""Test points on which the paper's 2-D comparisons are scored."""


def paper_training() -> dict[str, Any]:
    """How the paper trained its 2-D pairs: Adam at a constant learning rate
    of 1e-3, in batches of 1000 rows.

    Returns
    -------
    training : dict
        Estimator parameters, a fresh dict each call, to pass on as
        ``paper_pair(pair, **paper_training(), max_iter=...)``.

    Examples
    --------
    >>> from sklearn_lgf.presets import paper_training
    >>> paper_training()["batch_size"]
    1000
    """
    return {"batch_size": 1000, "learning_rate": "constant", "learning_rate_init": 1e-3}


def paper_pair(
    pair: str = FIGURE_1,
    *,
    n_elbo_samples: int = PAPER_ELBO_SAMPLES,
    objective: str = PAIR_OBJECTIVE,
    **training: Any,
) -> dict[str, MAFDensity | LGFDensity]:
    """The MAF and the LGF-MAF of one of the paper's 2-D comparisons.

    Parameters
    ----------
    pair : {"figure1", "figure4"}, default="figure1"
        Which comparison; see :data:`FIGURE_1` and :data:`FIGURE_4`.
    n_elbo_samples : int, default=10
        The LGF's draws of ``u`` per row and training step.
    objective : {"iwae", "elbo"}, default="iwae"
        The LGF's training objective (see :class:`~sklearn_lgf.LGFDensity`):
        the importance-weighted bound over the draws, as in the authors'
        later code, or the ELBO, as in their LGF-paper code.
    **training
        Estimator parameters given to both models.

    Returns
    -------
    models : dict
        ``{"MAF": MAFDensity(...), "LGF-MAF": LGFDensity(...)}``, unfitted.

    Examples
    --------
    >>> from sklearn_lgf.presets import paper_pair
    >>> models = paper_pair("figure1", max_iter=300, random_state=0)
    >>> sorted(models)
    ['LGF-MAF', 'MAF']
    >>> models["LGF-MAF"].hidden_layer_sizes
    (10, 10)
    """
    if pair not in PAIRS:
        raise ValueError(f"pair must be one of {PAIRS}, got {pair!r}")
    maf_layers = 10 if pair == FIGURE_1 else 20
    lgf_made = (10, 10) if pair == FIGURE_1 else (50, 50, 50, 50)
    return {
        "MAF": MAFDensity(
            n_layers=maf_layers, hidden_layer_sizes=(50, 50, 50, 50), **training
        ),
        "LGF-MAF": LGFDensity(
            n_layers=5,
            hidden_layer_sizes=lgf_made,
            conditioner="autoregressive",
            univariate="affine",
            u_dim=1,
            pq_hidden_layer_sizes=(50, 50, 50, 50),
            st_hidden_layer_sizes=(10, 10),
            n_elbo_samples=n_elbo_samples,
            objective=objective,
            **training,
        ),
    }
