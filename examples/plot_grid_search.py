"""
Choosing an LGF's size by cross-validation
==========================================

:meth:`LGFDensity.score <sklearn_lgf.LGFDensity.score>` returns the **mean**
log-likelihood of its argument, so :class:`~sklearn.model_selection.GridSearchCV`
can rank candidate models with its default scorer: no ``scoring`` argument is
needed, and folds of different sizes give comparable scores. Here we choose
the number of indexed layers and the dimension of the index ``u`` of an
:class:`~sklearn_lgf.LGFDensity` on the "eight Gaussians" target.

.. note::

   The budget is reduced for the documentation build: 600 points, small
   networks, 20 epochs per fit and ``K = 20`` importance samples for
   scoring, so that the 12 fits of the search plus the refit take seconds. A
   real search would use about 10,000 points, the default networks, early
   stopping with ``max_iter`` of a few hundred epochs, more candidates and
   ``K = 100`` or more.
"""

# %%
# Data and search
# ---------------
# ``GridSearchCV`` fits the 4 candidates x 3 folds and refits the best
# candidate on all the data. ``n_jobs=k`` would fit ``k`` of them at once in
# joblib workers; the default ``loky`` workers set ``OMP_NUM_THREADS`` to
# ``cpu_count() // k``, so that each worker's torch uses that many threads and
# the workers do not oversubscribe the CPU. With fits as small as these,
# starting the worker processes (each imports torch) costs more than it saves,
# so this example fits them one after the other.
#
# Every candidate is scored with the same ``n_importance_samples`` (K): the
# importance-sampling estimate is biased low by an amount that shrinks with
# K, so compare models at equal K and report K with the figures.
import warnings

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sklearn_lgf import LGFDensity
from sklearn_lgf.datasets import eight_gaussians_log_density, make_eight_gaussians

X = make_eight_gaussians(600, random_state=0)
X_test = make_eight_gaussians(2000, random_state=1)

lgf = LGFDensity(
    hidden_layer_sizes=(32, 32),
    pq_hidden_layer_sizes=(32, 32),
    st_hidden_layer_sizes=(10,),
    max_iter=20,
    batch_size=128,
    learning_rate_init=5e-3,
    early_stopping=False,
    n_importance_samples=20,
    random_state=0,
)
search = GridSearchCV(lgf, {"n_layers": [1, 2], "u_dim": [1, 2]}, cv=3)
with warnings.catch_warnings():
    # The reduced budget stops at max_iter; the warning would repeat 13 times.
    warnings.simplefilter("ignore", category=ConvergenceWarning)
    search.fit(X)

# %%
# Results
# -------
# ``cv_results_`` holds the mean held-out log-likelihood of each candidate
# (``mean_test_score``, in nats per sample) and its spread over the folds.
results = pd.DataFrame(search.cv_results_)
columns = [
    "param_n_layers",
    "param_u_dim",
    "mean_test_score",
    "std_test_score",
    "rank_test_score",
    "mean_fit_time",
]
results[columns].sort_values("rank_test_score")

# %%
# The refitted best model (``refit=True`` is the default) is
# ``best_estimator_``; score it on fresh data next to the true density.
print("best parameters:", search.best_params_)
print(f"best model, test log-likelihood (K=20): {search.score(X_test):.3f}")
print(
    f"true mean log-likelihood:               "
    f"{eight_gaussians_log_density(X_test).mean():.3f}"
)

# %%
labels = [
    f"L={n}, u_dim={u}"
    for n, u in zip(results["param_n_layers"], results["param_u_dim"], strict=True)
]
fig, ax = plt.subplots(figsize=(6, 3))
ax.errorbar(
    results["mean_test_score"],
    range(len(results)),
    xerr=results["std_test_score"],
    fmt="o",
    capsize=3,
)
ax.set_yticks(range(len(results)), labels)
ax.xaxis.set_major_locator(plt.MaxNLocator(5))
ax.set_xlabel("mean held-out log-likelihood (K=20)")
ax.set_title("3-fold cross-validation")
fig.tight_layout()
plt.show()
