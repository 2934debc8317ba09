"""zuko's flows trained as ``MAFDensity`` trains, the peers of the digits scripts.

``digits.py`` and ``digits_maf_seeds.py`` both compare against zuko's MAF
(and ``digits.py`` also its NSF) trained by the same rules as ``MAFDensity``,
so that the comparison is of the models, not of the training loops. zuko is a
benchmark-only dependency, imported only when a peer is trained.
``zuko_protocol.py`` trains them in issue 25's loop through the same
:func:`train_zuko`, and ``time_to_quality.py`` too, timing its epochs.
``speed.py`` times zuko in its own, simpler loop (no validation split): a
different protocol.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch


def train_zuko(
    kind: str,
    train: torch.Tensor,
    val: torch.Tensor,
    *,
    seed: int,
    shuffle_seed: int,
    batch: int,
    stop_after: int,
    tol: float,
    max_iter: int,
    on_epoch: Callable[[int, float, Any], None] | None = None,
) -> tuple[Any, int]:
    """zuko's MAF or NSF (5 transforms x [256, 256]) trained by Adam 1e-3 on
    ``train``, keeping the weights of its best epoch on ``val``.

    ``seed`` sets the initial weights, ``shuffle_seed`` the batches' order.
    An epoch gains if its validation mean is at least ``tol`` above the best
    so far; training ends at the ``stop_after``-th epoch in a row without a
    gain, or after ``max_iter`` epochs. Returns the flow (in eval mode) and
    the epochs run.

    ``on_epoch``, if given, is called after each epoch's validation and
    bookkeeping with the epoch (1 for the first), its validation mean and
    the flow (in eval mode, that epoch's weights): ``time_to_quality.py``
    times and snapshots the epochs through it. It changes nothing else.
    """
    import zuko

    torch.manual_seed(seed)
    build = zuko.flows.MAF if kind == "MAF" else zuko.flows.NSF
    flow = build(train.shape[1], transforms=5, hidden_features=[256, 256])
    optimiser = torch.optim.Adam(flow.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(shuffle_seed)
    best, best_state, stale, epochs = -math.inf, None, 0, 0
    while stale < stop_after and epochs < max_iter:
        epochs += 1
        flow.train()
        order = torch.randperm(len(train), generator=generator)
        for start in range(0, len(train), batch):
            loss = -flow().log_prob(train[order[start : start + batch]]).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        flow.eval()
        with torch.no_grad():
            score = float(flow().log_prob(val).mean())
        stale = stale + 1 if score < best + tol else 0
        if score > best:
            best, best_state = score, copy.deepcopy(flow.state_dict())
        if on_epoch is not None:
            on_epoch(epochs, score, flow)
    flow.load_state_dict(best_state)
    flow.eval()
    return flow, epochs


# Issue 25's loop (zuko_protocol.py, time_to_quality.py): the last 10 % of
# the training rows validate, batches of 128, patience 20 with tol 0.
ISSUE_BATCH = 128
ISSUE_PATIENCE = 20
ISSUE_MAX_EPOCHS = 1000


def train_zuko_issue_loop(
    kind: str,
    X: Any,
    seed: int,
    max_iter: int = ISSUE_MAX_EPOCHS,
    on_epoch: Callable[[int, float, Any], None] | None = None,
) -> tuple[Any, int]:
    """zuko's MAF or NSF trained on the rows ``X`` in issue 25's loop (see
    :func:`train_zuko`, whose ``on_epoch`` this passes on); returns the
    flow and the epochs run."""
    data = torch.as_tensor(X, dtype=torch.float32)
    n_val = math.ceil(0.1 * len(data))
    return train_zuko(
        kind,
        data[:-n_val],
        data[-n_val:],
        seed=seed,
        shuffle_seed=seed,
        batch=ISSUE_BATCH,
        stop_after=ISSUE_PATIENCE,
        tol=0.0,
        max_iter=max_iter,
        on_epoch=on_epoch,
    )


def fit_zuko(
    kind: str, X: np.ndarray, seed: int, max_iter: int
) -> tuple[Any, np.ndarray, np.ndarray, int]:
    """Train zuko's MAF or NSF (5 transforms x [256, 256]) as ``MAFDensity`` trains.

    Standardised data, a random 10% validation split, batch ``max(32,
    n_train // 10)`` (at most 1000), Adam 1e-3; stop at the 11th epoch in a
    row without a 1e-4 gain (``MAFDensity``'s rule for
    ``n_iter_no_change=10``) and keep the best epoch's weights. Returns the
    flow, the standardisation's location and scale (for :func:`zuko_score`)
    and the epochs run.
    """
    torch.manual_seed(seed)
    loc, scale = X.mean(0), X.std(0)
    Z = torch.as_tensor((X - loc) / scale, dtype=torch.float32)
    order = torch.randperm(len(Z), generator=torch.Generator().manual_seed(seed))
    n_val = math.ceil(0.1 * len(Z))
    val, tr = Z[order[:n_val]], Z[order[n_val:]]
    flow, epochs = train_zuko(
        kind,
        tr,
        val,
        seed=seed,
        shuffle_seed=seed + 1,
        batch=min(1000, max(32, len(tr) // 10)),
        stop_after=11,
        tol=1e-4,
        max_iter=max_iter,
    )
    return flow, loc, scale, epochs


def zuko_score(
    flow: Any, loc: np.ndarray, scale: np.ndarray, X: np.ndarray
) -> np.ndarray:
    """Per-row log-density of ``X`` under a flow from :func:`fit_zuko`.

    In the units of ``X``: the log-Jacobian of the standardisation is added
    back, as ``MAFDensity.score_samples`` does, so the figures compare.
    """
    Z = torch.as_tensor((X - loc) / scale, dtype=torch.float32)
    with torch.no_grad():
        log_prob = flow().log_prob(Z).double().numpy()
    return log_prob - np.log(scale).sum()
