"""The torch engine: bijections, flows, LGF models and their training.

Every model is a :class:`DensityModel` (``log_prob``, ``elbo``,
``validation_log_prob``, ``training_loss``, ``sample``);
:mod:`~sklearn_lgf.nn.evaluation` scores them in memory-bounded,
batch-independent chunks. A flow step is a conditioner
(:mod:`~sklearn_lgf.nn.conditioners`, named by :data:`CONDITIONERS`) times
an elementwise monotone transform (:mod:`~sklearn_lgf.nn.transforms`, named
by :data:`UNIVARIATES`), put together by :mod:`~sklearn_lgf.nn.steps`.
Nothing in this subpackage imports scikit-learn.
"""

from . import evaluation
from .bijections import BatchNorm, Bijection, Compose, Reverse, soft_clamp
from .conditioners import CONDITIONERS, MADE, DenseConditioner, MaskedLinear
from .diagnostics import CollapseDiagnostics, LayerDiagnostics, collapse_diagnostics
from .flow import Flow, build_flow, flow_steps, standard_normal_log_prob
from .indexed import ConditionalGaussian, IndexedAffine
from .lgf import LGF, LGFLayer, build_lgf
from .model import DensityModel, MonteCarlo
from .steps import AutoregressiveStep, CouplingStep, make_step
from .training import TrainingConfig, TrainingDiverged, TrainingResult, train
from .transforms import (
    UNIVARIATES,
    Affine,
    MonotoneTransform,
    RationalQuadraticSpline,
    make_univariate,
    rational_clamp,
    rational_quadratic_spline,
)

__all__ = [
    "CONDITIONERS",
    "LGF",
    "MADE",
    "UNIVARIATES",
    "Affine",
    "AutoregressiveStep",
    "BatchNorm",
    "Bijection",
    "CollapseDiagnostics",
    "Compose",
    "ConditionalGaussian",
    "CouplingStep",
    "DenseConditioner",
    "DensityModel",
    "Flow",
    "IndexedAffine",
    "LGFLayer",
    "LayerDiagnostics",
    "MaskedLinear",
    "MonotoneTransform",
    "MonteCarlo",
    "RationalQuadraticSpline",
    "Reverse",
    "TrainingConfig",
    "TrainingDiverged",
    "TrainingResult",
    "build_flow",
    "build_lgf",
    "collapse_diagnostics",
    "evaluation",
    "flow_steps",
    "make_step",
    "make_univariate",
    "rational_clamp",
    "rational_quadratic_spline",
    "soft_clamp",
    "standard_normal_log_prob",
    "train",
]
