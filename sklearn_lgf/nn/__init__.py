"""The torch engine: bijections, flows, LGF models and their training.

Nothing in this subpackage imports scikit-learn.
"""

from .bijections import BatchNorm, Bijection, Compose, Reverse, soft_clamp
from .coupling import AffineCoupling
from .diagnostics import CollapseDiagnostics, LayerDiagnostics, collapse_diagnostics
from .evaluation import (
    lgf_log_prob,
    lgf_log_prob_independent_draws,
    map_fixed_chunks,
)
from .flow import Flow, build_flow, standard_normal_log_prob
from .indexed import ConditionalGaussian, IndexedAffine
from .lgf import LGF, LGFLayer, build_lgf
from .made import MADE, MaskedAffineAutoregressive, MaskedLinear
from .training import TrainingConfig, TrainingDiverged, TrainingResult, train

__all__ = [
    "LGF",
    "MADE",
    "AffineCoupling",
    "BatchNorm",
    "CollapseDiagnostics",
    "Bijection",
    "Compose",
    "ConditionalGaussian",
    "Flow",
    "IndexedAffine",
    "LayerDiagnostics",
    "LGFLayer",
    "MaskedAffineAutoregressive",
    "MaskedLinear",
    "Reverse",
    "TrainingConfig",
    "TrainingDiverged",
    "TrainingResult",
    "build_flow",
    "build_lgf",
    "collapse_diagnostics",
    "lgf_log_prob",
    "lgf_log_prob_independent_draws",
    "map_fixed_chunks",
    "soft_clamp",
    "standard_normal_log_prob",
    "train",
]
