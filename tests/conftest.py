import os

import torch

# Lets scikit-learn run its array-API estimator check instead of skipping it.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# The test models are tiny: one thread avoids OpenMP start-up and spin costs
# that dominate such small operations (and collapse when cores are shared).
torch.set_num_threads(1)
