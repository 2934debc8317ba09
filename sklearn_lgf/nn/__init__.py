"""The torch engine: bijections, flows, LGF models and their training.

Every model is a :class:`DensityModel` (``log_prob``, ``elbo``,
``validation_log_prob``, ``training_loss``, ``sample``);
:mod:`~sklearn_lgf.nn.evaluation` scores them in memory-bounded,
batch-independent chunks. A flow step is a conditioner
(:mod:`~sklearn_lgf.nn.conditioners`, named by :data:`CONDITIONERS`) times
an elementwise monotone transform (:mod:`~sklearn_lgf.nn.transforms`, named
by :data:`UNIVARIATES`), put together by :mod:`~sklearn_lgf.nn.steps`.
Image models (:func:`build_image_flow`, :func:`build_image_lgf`) take rows
of flattened images and view them as images inside
(:mod:`~sklearn_lgf.nn.images`). Nothing in this subpackage imports
scikit-learn.
"""

from . import evaluation
from .bijections import BatchNorm, Bijection, Compose, Identity, Reverse, soft_clamp
from .conditioners import (
    CONDITIONERS,
    MADE,
    ConvConditioner,
    DenseConditioner,
    MaskedLinear,
    ResNet,
)
from .diagnostics import CollapseDiagnostics, LayerDiagnostics, collapse_diagnostics
from .flow import Flow, build_flow, flow_steps, standard_normal_log_prob
from .image_models import build_image_flow, build_image_lgf, multiscale_layout
from .images import ChannelBatchNorm, LogitTransform, OnLeading, Squeeze
from .indexed import ConditionalGaussian, IndexedAffine
from .lgf import LGF, LGFLayer, build_lgf
from .model import DensityModel, MonteCarlo
from .steps import AutoregressiveStep, CouplingStep, conv_coupling_step, make_step
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
    "ChannelBatchNorm",
    "CollapseDiagnostics",
    "Compose",
    "ConditionalGaussian",
    "ConvConditioner",
    "CouplingStep",
    "DenseConditioner",
    "DensityModel",
    "Flow",
    "Identity",
    "IndexedAffine",
    "LGFLayer",
    "LayerDiagnostics",
    "LogitTransform",
    "MaskedLinear",
    "MonotoneTransform",
    "MonteCarlo",
    "OnLeading",
    "RationalQuadraticSpline",
    "ResNet",
    "Reverse",
    "Squeeze",
    "TrainingConfig",
    "TrainingDiverged",
    "TrainingResult",
    "build_flow",
    "build_image_flow",
    "build_image_lgf",
    "build_lgf",
    "collapse_diagnostics",
    "conv_coupling_step",
    "evaluation",
    "flow_steps",
    "make_step",
    "make_univariate",
    "multiscale_layout",
    "rational_clamp",
    "rational_quadratic_spline",
    "soft_clamp",
    "standard_normal_log_prob",
    "train",
]
