import os

# Lets scikit-learn run its array-API estimator check instead of skipping it.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
