"""
Digits as images: RealNVP and LGF-RealNVP
=========================================

With ``image_shape=(C, H, W)`` the estimators read each row as an image and
become the image models of the LGF paper (Cornish et al., 2020, Section
5.2): :class:`~sklearn_lgf.MAFDensity` the multi-scale RealNVP of Dinh et
al. (2017), :class:`~sklearn_lgf.LGFDensity` the paper's LGF-RealNVP. This
example fits both to scikit-learn's 8x8 handwritten digits, taken as
1 x 8 x 8 images with 17 intensity levels, reports their held-out bits per
dimension and draws new digits from them.

Unlike :ref:`sphx_glr_auto_examples_plot_digits_sampling.py`, which models
15 principal components of rescaled pixels, the models here see the 64
integer pixels as they are and dequantise them themselves.

.. note::

   The budget is reduced for the documentation build: one scale instead of
   the paper's two, residual conv nets of two blocks of 16 channels, a
   learning rate of ``5e-3`` and 20 epochs, on one CPU thread (about a
   minute for the page). The paper's settings, which ``"auto"`` gives
   (see :ref:`images` in the user guide), train for hours on Fashion-MNIST
   and need a GPU. The figures below show what the API returns, not what
   the models can reach.
"""

# %%
# Images as rows
# --------------
# The estimators take one image per row, its pixels flattened in C order
# (channel, row, column), which is how ``load_digits().data`` is laid out
# and how PyTorch stores images. ``image_shape`` says how to fold a row
# back. Images stored height-width-channel (as PIL and matplotlib give
# them) need ``np.transpose(images, (0, 3, 1, 2)).reshape(n, -1)`` first.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sklearn_lgf import LGFDensity, MAFDensity
from sklearn_lgf.metrics import bits_per_dimension

digits = load_digits()
X = digits.data  # (1797, 64): one 8 x 8 image per row
IMAGE_SHAPE = (1, 8, 8)
assert np.array_equal(X.reshape(-1, *IMAGE_SHAPE)[:, 0], digits.images)
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
print(f"{len(X_train)} training and {len(X_test)} test images of shape {IMAGE_SHAPE}")

# %%
# Pixels and ``n_levels``
# -----------------------
# Pixels are the integers ``0 .. n_levels - 1``: 256 levels for 8-bit
# images, 17 for these digits (0 to 16). The models check this, so that
# rescaled or continuous pixels do not pass silently as the wrong data.
N_LEVELS = 17
print("pixel values:", np.unique(X).astype(int))
try:
    MAFDensity(image_shape=IMAGE_SHAPE, n_levels=N_LEVELS).fit(X_train / 16)
except ValueError as error:
    print(error)

# %%
# Fit the two models
# ------------------
# Each pixel ``v`` is dequantised uniformly over ``[v - 1/2, v + 1/2)``,
# with fresh noise at every training step, so that the continuous density
# has no point masses to chase. The rows are not standardised.
#
# ``n_layers`` counts the scales of the multi-scale architecture: one scale
# is four checkerboard couplings (two scales, the default, are the paper's
# ten). ``hidden_layer_sizes`` gives the channels of each residual block of
# a coupling's conv net. The LGF puts an indexed layer, with a one-channel
# image ``u`` as index, after every coupling; its p/q and s/t networks
# (``pq_hidden_layer_sizes``, ``st_hidden_layer_sizes``) are residual conv
# nets too. Every parameter not given here takes the paper's image value.
common = dict(
    image_shape=IMAGE_SHAPE,
    n_levels=N_LEVELS,
    n_layers=1,
    hidden_layer_sizes=(16, 16),
    learning_rate_init=5e-3,
    max_iter=20,
    n_threads=1,
    random_state=0,
)
maf = MAFDensity(**common)
lgf = LGFDensity(**common, pq_hidden_layer_sizes=(16,), st_hidden_layer_sizes=(8,))
with warnings.catch_warnings():
    # The short budget ends at max_iter, well before the paper's patience of
    # 50 epochs: the ConvergenceWarning that says so is expected here.
    warnings.simplefilter("ignore", category=ConvergenceWarning)
    maf.fit(X_train)
    lgf.fit(X_train)

# %%
# Scores and bits per dimension
# -----------------------------
# ``score`` is the mean log-density of the dequantised pixels, in nats per
# image and in pixel units (one level is a width of 1); when scoring, each
# row is dequantised by a draw fixed by its values, so the score is
# deterministic. Averaged over that noise it is a lower bound on the
# log-probability of the discrete image. The LGF's score is moreover an
# importance-sampling estimate with K = ``n_importance_samples`` = 100 draws
# per row.
#
# :func:`~sklearn_lgf.metrics.bits_per_dimension` divides by the number of
# pixels and by ``ln 2``: ``bpd = -score / (64 ln 2)``, the bits a code
# built from the model would spend per pixel; lower is better. A model that
# gives every image the same probability spends ``log2(17) = 4.09`` bits
# per pixel. After 20 epochs neither model has converged: compare models
# only once both have, on the same test images and, for an LGF, the same K.
n_dims = X.shape[1]
print(f"uniform over 17 levels: {np.log2(N_LEVELS):.2f} bits per dimension")
for name, model in [("RealNVP (MAFDensity)", maf), ("LGF-RealNVP", lgf)]:
    test = model.score(X_test)
    print(
        f"{name:21s} {test:6.1f} nats per image, "
        f"{bits_per_dimension(test, n_dims):.2f} bits per dimension"
    )

# %%
# New digits
# ----------
# ``sample`` returns continuous values in ``[-1/2, n_levels - 1/2)``, the
# dequantised pixels; rounding and clipping gives pixel images again.
samples = {
    "Held-out digits": X_test[:16],
    "RealNVP samples": maf.sample(16, random_state=0),
    "LGF-RealNVP samples": lgf.sample(16, random_state=0),
}
fig, panels = plt.subplots(1, 3, figsize=(9, 3.4))
for ax, (title, rows) in zip(panels, samples.items(), strict=True):
    pixels = np.clip(np.rint(rows), 0, N_LEVELS - 1).reshape(4, 4, 8, 8)
    # A 4 x 4 grid of the 8 x 8 images, one blank pixel between them.
    grid = np.pad(pixels, ((0, 0), (0, 0), (1, 0), (1, 0)))
    grid = grid.transpose(0, 2, 1, 3).reshape(36, 36)
    ax.imshow(grid, cmap="binary", vmin=0, vmax=N_LEVELS - 1)
    ax.set(title=title, xticks=[], yticks=[])
plt.tight_layout()
plt.show()
