"""The torch engine: bijections, flows, LGF models and their training.

Every model is a :class:`DensityModel` (``log_prob``, ``elbo``,
``validation_log_prob``, ``training_loss``, ``sample``);
:mod:`~sklearn_lgf.nn.evaluation` scores them in memory-bounded,
batch-independent chunks. Nothing in this subpackage imports scikit-learn.
"""

from . import evaluation
from .affine import AffineStep, rational_clamp, use_shift_before_scale
from .bijections import BatchNorm, Bijection, Compose, Reverse, soft_clamp
from .coupling import AffineCoupling
from .diagnostics import CollapseDiagnostics, LayerDiagnostics, collapse_diagnostics
from .flow import Flow, build_flow, standard_normal_log_prob
from .indexed import ConditionalGaussian, IndexedAffine
from .lgf import LGF, LGFLayer, build_lgf
from .made import MADE, MaskedAffineAutoregressive, MaskedLinear
from .model import DensityModel, MonteCarlo
from .splines import (
    MaskedSplineAutoregressive,
    SplineCoupling,
    rational_quadratic_spline,
)
from .training import TrainingConfig, TrainingDiverged, TrainingResult, train

__all__ = [
    "LGF",
    "MADE",
    "AffineCoupling",
    "AffineStep",
    "BatchNorm",
    "Bijection",
    "CollapseDiagnostics",
    "Compose",
    "ConditionalGaussian",
    "DensityModel",
    "Flow",
    "IndexedAffine",
    "LGFLayer",
    "LayerDiagnostics",
    "MaskedAffineAutoregressive",
    "MaskedLinear",
    "MaskedSplineAutoregressive",
    "MonteCarlo",
    "Reverse",
    "SplineCoupling",
    "TrainingConfig",
    "TrainingDiverged",
    "TrainingResult",
    "build_flow",
    "build_lgf",
    "collapse_diagnostics",
    "evaluation",
    "rational_clamp",
    "rational_quadratic_spline",
    "soft_clamp",
    "standard_normal_log_prob",
    "train",
    "use_shift_before_scale",
]
