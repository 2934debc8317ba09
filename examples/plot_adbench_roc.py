"""
Anomaly detection on real data: ROC curves and thresholds
=========================================================

On ``cardio``, a set of the ADBench anomaly-detection benchmark (1,831
cardiotocography records, 21 features, 176 of them pathologic: the
anomalies), we compare :class:`~sklearn_lgf.DensityOutlierDetector` around a
:class:`~sklearn_lgf.MAFDensity` and an :class:`~sklearn_lgf.LGFDensity` with
two scikit-learn detectors, a :class:`~sklearn.neighbors.KernelDensity`
whose bandwidth is chosen by cross-validation, and an
:class:`~sklearn.ensemble.IsolationForest`. Every detector sits in the same
``make_pipeline(StandardScaler(), ...)`` and sees the same rows. We then
look at what the score means and at how the detector sets the threshold that
turns scores into ``predict``'s labels.

.. note::

   The data are not shipped with the package: this example reads
   ``cardio.npz`` (arrays ``X`` and ``y``, 1 for an anomaly) from
   ``../shared/data/adbench/`` beside the repository, and stops with a
   message when the file is not there. The documentation runs it only when
   the file is there; otherwise this page shows the code without its
   output.

   The LGF is trained with a reduced budget for the documentation build
   (3 steps, small networks, at most 60 epochs, ``K = 20`` importance
   samples to score); the MAF uses its defaults.
"""

# %%
# Data and protocol
# -----------------
# Novelty detection, as in ADBench's protocol: the detectors are fitted on a
# random 60 % of the normal rows only and tested on the other 40 % of the
# normal rows together with every anomaly. The labels are used only to
# evaluate.
import sys
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import RocCurveDisplay
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_lgf import DensityOutlierDetector, LGFDensity, MAFDensity


def repository_root():
    """The folder holding ``pyproject.toml`` at or above the current one."""
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "pyproject.toml").is_file() and (folder / "sklearn_lgf").is_dir():
            return folder
    return Path.cwd()


path = repository_root().parent / "shared" / "data" / "adbench" / "cardio.npz"
if not path.is_file():
    print(f"{path} not found: this example needs ADBench's cardio set; skipped.")
    sys.exit(0)

data = np.load(path)
X, y = data["X"].astype(float), data["y"].astype(int)
rng = np.random.default_rng(0)
normal = rng.permutation(np.flatnonzero(y == 0))
n_train = int(0.6 * len(normal))
X_train = X[normal[:n_train]]
test = np.concatenate([normal[n_train:], np.flatnonzero(y == 1)])
X_test, y_test = X[test], y[test]
print(
    f"{X.shape[1]} features; training: {len(X_train)} normal rows; test: "
    f"{np.sum(y_test == 0)} normal rows and {np.sum(y_test == 1)} anomalies"
)

# %%
# Four detectors, one pipeline
# ----------------------------
# :class:`~sklearn_lgf.DensityOutlierDetector` wraps any estimator with
# ``fit`` and ``score_samples``, here a flow or a
# :class:`~sklearn.model_selection.GridSearchCV` that picks the
# :class:`~sklearn.neighbors.KernelDensity`'s bandwidth by 3-fold held-out
# log-likelihood on the training rows. ``contamination=0.05`` asks it to
# flag 5 % of the rows drawn like the training data; it sets the threshold
# only, not the scores.
lgf = LGFDensity(
    n_layers=3,
    hidden_layer_sizes=(32, 32),
    pq_hidden_layer_sizes=(32, 32),
    st_hidden_layer_sizes=(32,),
    n_importance_samples=20,
    max_iter=60,
    random_state=0,
)
kde = GridSearchCV(KernelDensity(), {"bandwidth": np.logspace(-1.5, 0.5, 9)}, cv=3)
densities = {
    "MAFDensity": MAFDensity(random_state=0),
    "LGFDensity (small)": lgf,
    "KernelDensity": kde,
}
detectors = {
    name: make_pipeline(
        StandardScaler(),
        DensityOutlierDetector(density, contamination=0.05, random_state=0),
    )
    for name, density in densities.items()
}
detectors["IsolationForest"] = make_pipeline(
    StandardScaler(), IsolationForest(random_state=0)
)
with warnings.catch_warnings():
    # The LGF's reduced budget stops it before early stopping would.
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    for detector in detectors.values():
        detector.fit(X_train)
print(
    "KernelDensity bandwidth chosen by GridSearchCV:",
    detectors["KernelDensity"][-1].estimator_.best_params_["bandwidth"].round(3),
)

# %%
# ROC curves
# ----------
# ``score_samples`` is the log-density of a row under the fitted model (in
# the units of the scaled data): the higher, the more normal. An
# :class:`~sklearn.ensemble.IsolationForest`'s ``score_samples`` is also
# higher for more normal rows, but it measures how many random splits it
# takes to isolate the row, not a density. A ROC curve ranks the test rows by
# ``-score_samples`` and plots, for every possible threshold, the share of
# anomalies caught against the share of normal rows flagged. Its area, the
# ROC-AUC in the legend, is the probability that a random anomaly scores
# lower than a random normal row: 1 for a perfect ranking, 0.5 for a random
# one. It does not depend on ``contamination`` or on any threshold.
# Which detector ranks best depends on the data: compare them this way, on
# held-out rows of your own data, before choosing one.
fig, ax = plt.subplots(figsize=(6, 5.5))
for name, detector in detectors.items():
    RocCurveDisplay.from_predictions(
        y_test, -detector.score_samples(X_test), name=name, ax=ax
    )
ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
ax.set(
    title="cardio, novelty detection (seed 0 split)",
    xlabel="share of normal test rows flagged (false positive rate)",
    ylabel="share of anomalies caught (true positive rate)",
)
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()

# %%
# How the threshold is set
# ------------------------
# ``predict`` flags a row when ``decision_function = score_samples -
# offset_`` is negative, so everything rests on the threshold ``offset_``.
# Setting it at the 5th percentile of the *training* rows' scores would flag
# 5 % of the training rows, but a flexible density scores the rows it was
# fitted on higher than new ones, so such a threshold flags more than 5 % of
# new normal rows. By default the detector therefore holds out a random
# ``calibration_fraction=0.2`` of the training rows, fits the density on the
# rest and sets the threshold on the held-out rows' scores (at the order
# statistic of split conformal prediction, so that new rows drawn like the
# training rows are flagged with a probability of at most 5 %).
#
# Here we do the two steps by hand to see both thresholds on one model: fit
# with ``calibration_fraction=None`` (threshold on the training rows) on 80 %
# of the training rows, then move the threshold with ``set_threshold`` to the
# other 20 %. A pipeline does not forward ``set_threshold``: call it on the
# detector, with the rows transformed by the steps before it.
order = np.random.default_rng(1).permutation(len(X_train))
X_fit, X_held_out = X_train[order[200:]], X_train[order[:200]]
pipe = make_pipeline(
    StandardScaler(),
    DensityOutlierDetector(
        MAFDensity(random_state=0), contamination=0.05, calibration_fraction=None
    ),
).fit(X_fit)
detector = pipe[-1]
thresholds = {"training rows": detector.offset_}
detector.set_threshold(pipe[:-1].transform(X_held_out))
thresholds["held-out rows"] = detector.offset_

scores = {
    "training rows (fitted on)": pipe.score_samples(X_fit),
    "held-out training rows": pipe.score_samples(X_held_out),
    "normal test rows": pipe.score_samples(X_test[y_test == 0]),
    "anomalies": pipe.score_samples(X_test[y_test == 1]),
}
for rule, offset in thresholds.items():
    normal_flagged = np.mean(scores["normal test rows"] < offset)
    anomalies_flagged = np.mean(scores["anomalies"] < offset)
    print(
        f"threshold set on the {rule}: {offset:7.2f}; flags "
        f"{normal_flagged:.1%} of the normal test rows and "
        f"{anomalies_flagged:.1%} of the anomalies"
    )

# %%
# The curves show why. Each is the share of a group's rows scoring below a
# given score, so where a threshold (vertical line) meets a curve is the
# share of that group it flags (the dotted line marks 5 %). The training
# rows the density was fitted on score higher than new normal rows, so the
# threshold that flags 5 % of them (dashed) flags far more of the new normal
# rows. The held-out rows are new to the model, like the test rows: their
# curve follows the test rows', and the threshold that flags 5 % of them
# (solid) flags about 5 % of the new normal rows too. Many anomalies score
# far lower, beyond the left edge.
fig, ax = plt.subplots(figsize=(8, 4.5))
for label, values in scores.items():
    ordered = np.sort(values)
    share = np.arange(1, len(ordered) + 1) / len(ordered)
    ax.step(ordered, share, where="post", label=label)
ax.axhline(0.05, color="grey", linewidth=0.8, linestyle=":")
ax.axvline(
    thresholds["training rows"],
    color="k",
    linestyle="--",
    label="threshold set on training rows",
)
ax.axvline(
    thresholds["held-out rows"], color="k", label="threshold set on held-out rows"
)
normal_scores = scores["normal test rows"]
ax.set(
    xlim=(np.percentile(normal_scores, 1) - 10, normal_scores.max() + 2),
    ylim=(0, 1),
    xlabel="score_samples (log-density, scaled units)",
    ylabel="share of rows scoring lower",
)
ax.legend(loc="upper left", fontsize="small")
fig.tight_layout()
plt.show()

# %%
# The detectors fitted above did this inside ``fit``. Their flag rates on
# the test rows at ``contamination=0.05`` (``IsolationForest``'s default
# ``contamination="auto"`` is a fixed cut on its own score, not a share of
# rows):
for name, detector in detectors.items():
    flagged = detector.predict(X_test) == -1
    print(
        f"{name:>19}: flags {np.mean(flagged[y_test == 0]):5.1%} of the normal "
        f"test rows and {np.mean(flagged[y_test == 1]):5.1%} of the anomalies"
    )

# %%
# The threshold rests on about 200 held-out rows, so the share of normal rows
# it flags varies by about one to two percentage points from one split to
# another; raise ``calibration_fraction`` for a steadier threshold, at the
# cost of fewer rows to fit the density on, or pass rows of your own to
# ``set_threshold``. A ranking metric such as the ROC-AUC is the fair way to
# compare detectors; the threshold is a separate, later choice.
