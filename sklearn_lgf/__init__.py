"""Localised generative flows and masked autoregressive flows for scikit-learn."""

from ._lgf import LGFDensity
from ._maf import MAFDensity
from ._outlier import DensityOutlierDetector

__version__ = "0.2.0"

__all__ = ["DensityOutlierDetector", "LGFDensity", "MAFDensity", "__version__"]
