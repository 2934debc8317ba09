"""
Anomaly detection with a flow in a pipeline
===========================================

:class:`~sklearn_lgf.DensityOutlierDetector` turns any density estimator
into a scikit-learn outlier detector: the log-density ``score_samples(X)`` is
the normality score, and the threshold ``offset_`` is set on training rows
held out from the fit, so that a fraction ``contamination`` of new rows
drawn like the training rows is flagged. Here it wraps a
:class:`~sklearn_lgf.MAFDensity` and an :class:`~sklearn_lgf.LGFDensity`,
each inside a :func:`~sklearn.pipeline.make_pipeline` with a
:class:`~sklearn.preprocessing.StandardScaler`, on two interleaved moons
with uniformly scattered outliers.

.. note::

   The budget is reduced for the documentation build: 4-step flows with
   ``(32, 32)`` hidden units and at most 60 epochs. For real data, choose
   the model size by cross-validated log-likelihood on clean data (see
   :ref:`sphx_glr_auto_examples_plot_grid_search.py`) and let early
   stopping run for up to a few hundred epochs.
"""

# %%
# Data: moons with 5% outliers
# ----------------------------
# The labels ``y`` (1 for an outlier) are only used to evaluate the
# detector; it is fitted without them.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_moons
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_lgf import DensityOutlierDetector, LGFDensity, MAFDensity


def make_data(n_inliers, n_outliers, seed):
    rng = np.random.RandomState(seed)
    inliers, _ = make_moons(n_inliers, noise=0.07, random_state=rng)
    outliers = rng.uniform(low=[-1.8, -1.3], high=[2.8, 1.8], size=(n_outliers, 2))
    X = np.vstack([inliers, outliers])
    y = np.r_[np.zeros(n_inliers, dtype=int), np.ones(n_outliers, dtype=int)]
    return X, y


X_train, y_train = make_data(950, 50, seed=0)
X_test, y_test = make_data(950, 50, seed=1)

# %%
# The pipeline
# ------------
# ``contamination`` is the share of rows drawn like the training data to flag;
# here we know it is 5%. (The flows standardise their input internally, so
# the scaler changes nothing for them; it is there because a pipeline of this
# shape also serves density estimators that need it, such as
# :class:`~sklearn.neighbors.KernelDensity`.)
budget = dict(
    n_layers=4,
    hidden_layer_sizes=(32, 32),
    max_iter=60,
    learning_rate_init=3e-3,
    random_state=0,
)
detectors = {
    name: make_pipeline(
        StandardScaler(),
        DensityOutlierDetector(density, contamination=0.05),
    ).fit(X_train)
    for name, density in {
        "MAF": MAFDensity(**budget),
        "LGF": LGFDensity(**budget),
    }.items()
}

# %%
# ``predict`` returns +1 for inliers and -1 for outliers. ``score_samples``
# is the log-density (higher is more normal) and ``decision_function`` is
# ``score_samples - offset_``, negative for outliers. ROC-AUC is computed from
# ``-score_samples`` with the outliers as the positive class; an
# :class:`~sklearn.ensemble.IsolationForest` serves as a reference.
auc = {}
for name, detector in detectors.items():
    flagged = detector.predict(X_test) == -1
    auc[name] = roc_auc_score(y_test, -detector.score_samples(X_test))
    print(
        f"{name} density: flagged {flagged.mean():.1%} of the test set "
        f"(contamination=5%), test ROC-AUC {auc[name]:.3f}"
    )
forest = IsolationForest(random_state=0).fit(X_train)
auc_forest = roc_auc_score(y_test, -forest.score_samples(X_test))
print(f"IsolationForest: test ROC-AUC {auc_forest:.3f}")

# %%
# Decision boundary
# -----------------
# The pipeline scales the grid before scoring, so the contours are drawn in
# the original units. The solid line is the threshold
# ``decision_function == 0``.
x1, x2 = np.meshgrid(np.linspace(-2, 3, 120), np.linspace(-1.5, 2, 90))
grid = np.column_stack([x1.ravel(), x2.ravel()])

fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
for ax, (name, detector) in zip(axes, detectors.items(), strict=True):
    decision = detector.decision_function(grid).reshape(x1.shape)
    levels = np.linspace(max(decision.min(), -15), decision.max(), 12)
    ax.contourf(x1, x2, decision, levels=levels, cmap="Blues_r", extend="min")
    ax.contour(x1, x2, decision, levels=[0], colors="darkred", linewidths=2)
    ax.scatter(
        *X_test[y_test == 0].T,
        s=6,
        c="white",
        edgecolors="k",
        linewidths=0.3,
        label="test inliers",
    )
    ax.scatter(
        *X_test[y_test == 1].T,
        s=25,
        c="gold",
        edgecolors="k",
        marker="^",
        label="test outliers",
    )
    ax.set(
        title=f"{name} density detector (test ROC-AUC {auc[name]:.3f})",
        xlabel="x1",
    )
axes[0].set_ylabel("x2")
axes[0].legend(loc="lower left")
fig.tight_layout()
plt.show()

# %%
# The log-density in the pipeline is in the units of the *scaled* data: the
# scaler shifts every score by the same constant (the log-determinant of the
# scaling), which changes neither the ranking, the ROC-AUC nor the flagged
# rows.
