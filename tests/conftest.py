import os
import warnings

import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

# Lets scikit-learn run its array-API estimator check instead of skipping it.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# The test models are tiny: one thread avoids OpenMP start-up and spin costs
# that dominate such small operations (and collapse when cores are shared).
torch.set_num_threads(1)

# The warning a fit with a deliberately small ``max_iter`` gives (from
# MAFDensity, LGFDensity or a test's subclass of them); tests and doctests
# that use such budgets to stay fast silence this one and no other.
TINY_BUDGET_WARNING = r"\w+ reached max_iter=\d+ epochs"
TINY_BUDGET_FILTER = (
    f"ignore:{TINY_BUDGET_WARNING}:sklearn.exceptions.ConvergenceWarning"
)


@pytest.fixture
def tiny_budget():
    """Silence the ConvergenceWarning of fits with a few epochs, only.

    The one way tests do so: request it, or for a whole module write
    ``pytestmark = pytest.mark.usefixtures("tiny_budget")``. A test that
    requests it also gets the same filter as a ``filterwarnings`` mark (see
    :func:`pytest_collection_modifyitems`), which covers the test's setup
    and teardown too: the module-scoped fixtures that fit models.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=TINY_BUDGET_WARNING, category=ConvergenceWarning
        )
        yield


def pytest_collection_modifyitems(config, items):
    # The docstring examples train for a few epochs to run in seconds.
    mark = pytest.mark.filterwarnings(TINY_BUDGET_FILTER)
    for item in items:
        if isinstance(item, pytest.DoctestItem) or "tiny_budget" in getattr(
            item, "fixturenames", ()
        ):
            item.add_marker(mark)
