"""Writes tests/data/format1_*.pt: run from the repository root with the
package as of commit 0414454 (model file format 1)."""

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from sklearn_lgf import LGFDensity, MAFDensity
from sklearn_lgf.model_io import save_model


def main() -> None:
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(-2, 0.5, (150, 2)), rng.normal(2, 0.5, (150, 2))])
    Xq = rng.normal(0, 2, (20, 2))
    out = {}
    for name, est in {
        "maf": MAFDensity(
            n_layers=2,
            hidden_layer_sizes=(8,),
            max_iter=3,
            batch_norm=True,
            device="cpu",
            random_state=0,
        ),
        "lgf": LGFDensity(
            n_layers=2,
            hidden_layer_sizes=(8,),
            u_dim=2,
            pq_hidden_layer_sizes=(8,),
            st_hidden_layer_sizes=(8,),
            n_importance_samples=7,
            max_iter=3,
            device="cpu",
            random_state=0,
        ),
        "lgf_conditioner": LGFDensity(
            n_layers=2,
            hidden_layer_sizes=(8,),
            base="coupling",
            indexing="conditioner",
            pq_hidden_layer_sizes=(8,),
            n_importance_samples=7,
            max_iter=3,
            device="cpu",
            random_state=0,
        ),
    }.items():
        est.fit(X)
        save_model(est, f"tests/data/format1_{name}.pt")
        out[name] = est.score_samples(Xq)
        if name.startswith("lgf"):
            out[name + "_elbo"] = est.elbo(Xq)
        out[name + "_sample"] = est.sample(5, random_state=1)
    np.savez("tests/data/format1_expected.npz", X=Xq, **out)


if __name__ == "__main__":
    main()
