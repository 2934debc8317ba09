"""
Sampling new digits from a flow
===============================

Like scikit-learn's kernel-density example on the digits, this example fits
a density to the 8x8 handwritten digits (projected onto 15 principal
components) and draws new digits from it, here with a masked autoregressive
flow (:class:`~sklearn_lgf.MAFDensity`) and a localised generative flow
(:class:`~sklearn_lgf.LGFDensity`) side by side.

Two steps come before the fit:

* **Dequantisation.** The pixels are integers from 0 to 16. A continuous
  density on integer data can grow without bound on the repeated values, so
  we add independent uniform noise on ``[0, 1)`` to every pixel and divide
  by 17, which maps the data into ``[0, 1)`` and gives a proper continuous
  target.
* **PCA to 15 dimensions**, as in scikit-learn's example: it removes the
  always-blank border pixels (constant columns carry no density) and makes
  the model small.

.. note::

   The training budget is reduced for the documentation build (5-step flows
   with ``(64, 64)`` hidden units for the MAF and the LGF's default sizes,
   early stopping, at most 100 epochs on 1,347 digits; seconds). A real run
   would tune ``n_layers``,
   ``hidden_layer_sizes`` and ``learning_rate_init`` with
   :class:`~sklearn.model_selection.GridSearchCV` (see
   :ref:`sphx_glr_auto_examples_plot_grid_search.py`) and could model all
   64 dequantised pixels directly.
"""

# %%
# Dequantise, split and project
# -----------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import train_test_split

from sklearn_lgf import LGFDensity, MAFDensity

digits = load_digits()
rng = np.random.RandomState(0)
X = (digits.data + rng.uniform(size=digits.data.shape)) / 17.0

X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
pca = PCA(n_components=15, random_state=0).fit(X_train)
Z_train, Z_test = pca.transform(X_train), pca.transform(X_test)
print(f"{len(Z_train)} training and {len(Z_test)} test digits in 15 dimensions")

# %%
# Fit the flows
# -------------
# Early stopping holds out 10% of the training rows, stops when their
# log-likelihood has not improved for ``n_iter_no_change`` epochs, and
# restores the weights of the best epoch. The LGF keeps its default sizes.
maf = MAFDensity(
    n_layers=5,
    hidden_layer_sizes=(64, 64),
    max_iter=100,
    learning_rate_init=3e-3,
    random_state=0,
).fit(Z_train)
lgf = LGFDensity(max_iter=100, learning_rate_init=3e-3, random_state=0).fit(Z_train)
print(f"MAF stopped after {maf.n_iter_} epochs, LGF after {lgf.n_iter_}")

# %%
# Held-out log-likelihood
# -----------------------
# The figures are mean log-densities in the units of the 15 PCA coordinates
# of the dequantised, rescaled pixels: comparable between models fitted on
# the same representation, not with figures on the raw pixels. A Gaussian
# mixture is a useful baseline to check against; with only 1,347 training
# digits in 15 dimensions it is a strong one. Check a simple baseline before
# reaching for a flow. (The LGF's figure is an importance-sampling estimate
# with K = ``n_importance_samples`` = 100 draws per row.)
gmm = GaussianMixture(n_components=10, random_state=0).fit(Z_train)
for name, model in [("MAF", maf), ("LGF", lgf), ("GaussianMixture(10)", gmm)]:
    train, test = model.score(Z_train), model.score(Z_test)
    print(f"{name:20s} train {train:6.2f}   test {test:6.2f}")

# %%
# New digits
# ----------
# :meth:`~sklearn_lgf.MAFDensity.sample` returns an ndarray in the units of
# the training data, here PCA coordinates, so ``pca.inverse_transform`` maps
# the samples back to pixels. (A :class:`~sklearn.pipeline.Pipeline` does not
# forward ``sample``, which is why the PCA is applied by hand.)
panels = {
    "Held-out digits (dequantised)": X_test[:33],
    "New digits drawn from the MAF": pca.inverse_transform(
        maf.sample(33, random_state=0)
    ),
    "New digits drawn from the LGF": pca.inverse_transform(
        lgf.sample(33, random_state=0)
    ),
}
fig, axes = plt.subplots(
    11, 11, figsize=(6, 6.6), subplot_kw=dict(xticks=[], yticks=[])
)
for block, (title, images) in enumerate(panels.items()):
    top = 4 * block
    for j in range(11):
        if block:
            axes[top - 1, j].set_visible(False)
        for i in range(3):
            axes[top + i, j].imshow(
                images[i * 11 + j].reshape(8, 8), cmap="binary", vmin=0, vmax=1
            )
    axes[top, 5].set_title(title)
plt.show()
