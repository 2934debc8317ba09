"""Test data and a thread-recording MAF shared by the tests that fit in
worker processes (joblib's, dask's): the workers import this module to
unpickle the estimator."""

from __future__ import annotations

import os
from unittest import mock

import numpy as np
import torch

from sklearn_lgf import MAFDensity, _threads
from sklearn_lgf.nn import Flow


def blobs(n: int = 300, d: int = 2, seed: int = 0) -> np.ndarray:
    rng = np.random.RandomState(seed)
    return np.vstack(
        [rng.normal(-2, 0.5, (n // 2, d)), rng.normal(2, 0.5, (n - n // 2, d))]
    )


class ThreadRecordingFlow(Flow):
    """Records how many threads torch had when it was last validated."""

    def validation_log_prob(self, x, **kwargs):
        self.torch_threads = torch.get_num_threads()
        return super().validation_log_prob(x, **kwargs)


class ThreadRecordingMAF(MAFDensity):
    """Records where it was fitted, the threads torch granted when fit was
    called, those it had while evaluating the model in fit, and those it had
    after fit.

    Its ``"auto"`` threads count every step as big enough for all the threads
    it may take (a tiny model would get one thread whatever the limits).
    """

    def fit(self, X, y=None):
        self.pid_ = os.getpid()
        self.granted_threads_ = torch.get_num_threads()
        with mock.patch.object(_threads, "AUTO_MIN_WORK", 0):
            super().fit(X, y)
        self.threads_after_fit_ = torch.get_num_threads()
        return self

    def _build_model(self, n_features):
        model = super()._build_model(n_features)
        return ThreadRecordingFlow(model.transform, model.features)

    @property
    def torch_threads_(self):
        return self.model_.torch_threads
