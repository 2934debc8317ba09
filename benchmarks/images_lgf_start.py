"""How LGF-RealNVP's index layers start: torch's initialisation against zeros.

Run from the repository root (about 10 minutes on one core)::

    python benchmarks/images_lgf_start.py

2,000 Fashion-MNIST training images (random, seed 0; the estimator holds out
its own 10 % for validation), ``LGFDensity(image_shape=(1, 28, 28))`` at
width 16 (couplers 4 x 16, p/q [16, 16], s/t [2, 2]), Adam at 1e-3, two
epochs, one thread. "torch default": every network as torch initialises it
(the estimator's default, as in the authors' code). "zero heads": the last
convolution of the prior, posterior and s/t networks set to zero, so that
at the start ``p(u | z) = q(u | x) = N(0, I)`` and ``s(u) = 1, t(u) = 0``:
the LGF starts as the RealNVP it wraps, with an ELBO equal to its
log-likelihood. Reported: validation bits per dimension after each epoch
(importance sampling, K = 10).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import torch

from sklearn_lgf import LGFDensity
from sklearn_lgf.datasets import load_fashion_mnist

DATA = "/usr/share/datasets/fashion-mnist"
HEADS = ("prior.net.head", "posterior.net.head", "scale_shift.head")


class ZeroHeads(LGFDensity):
    def _build_model(self, n_features: int):  # type: ignore[no-untyped-def]
        model = super()._build_model(n_features)
        with torch.no_grad():
            for name, module in model.named_modules():
                if name.endswith(HEADS):
                    module.weight.zero_()
                    if module.bias is not None:
                        module.bias.zero_()
        return model


def main() -> None:
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    data = load_fashion_mnist(DATA)
    X = data.data[np.random.RandomState(0).choice(len(data.data), 2000, replace=False)]
    for label, cls in (("torch default", LGFDensity), ("zero heads", ZeroHeads)):
        start = time.perf_counter()
        model = cls(
            image_shape=(1, 28, 28),
            hidden_layer_sizes=(16,) * 4,
            pq_hidden_layer_sizes=(16, 16),
            st_hidden_layer_sizes=(2, 2),
            learning_rate_init=1e-3,
            max_iter=2,
            n_iter_no_change=2,
            random_state=0,
            n_threads=1,
        ).fit(X)
        bpd = [-v / (784 * np.log(2)) for v in model.validation_scores_]
        seconds = time.perf_counter() - start
        print(
            f"| {label} | "
            + " | ".join(f"{b:.3f}" for b in bpd)
            + f" | {seconds:.0f} |"
        )


if __name__ == "__main__":
    main()
