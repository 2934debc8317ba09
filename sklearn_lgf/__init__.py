"""Localised generative flows and masked autoregressive flows for scikit-learn."""

from ._lgf import LGFDensity
from ._maf import MAFDensity

__version__ = "0.1.0"

__all__ = ["LGFDensity", "MAFDensity", "__version__"]
