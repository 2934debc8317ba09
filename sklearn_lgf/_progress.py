"""Progress displays for the estimators' ``verbose`` parameter (tqdm bars).

``verbose=1`` (or ``True``) shows one compact bar per fit, advancing by epoch
with the training loss and validation score in its postfix, and one bar for
scoring or sampling calls that last more than :data:`SCORE_BAR_DELAY`
seconds, advancing by chunk of rows. ``verbose >= 2`` prints one line per
epoch instead of the fit's bar (and the learning-rate and stopping messages).
Bars go to ``sys.stderr``, like tqdm's default; lines to ``sys.stdout``.

The torch engine (:mod:`sklearn_lgf.nn`) knows nothing of this: the
estimator passes :meth:`FitProgress.epoch` and :meth:`FitProgress.message`
to :func:`sklearn_lgf.nn.training.train` as callbacks.
"""

from __future__ import annotations

import math
import sys
from types import TracebackType

from tqdm import tqdm

from .nn.training import EpochReport

SCORE_BAR_DELAY = 1.0
"""Seconds a scoring call must run before its bar appears."""


class FitProgress:
    """Per-epoch progress of one fit, as a bar (``verbose=1``) or lines (``>= 2``).

    Parameters
    ----------
    name : str
        Shown before the bar or lines, e.g. ``"MAFDensity"``.
    max_iter : int
        Epochs at most: the bar's total.
    verbose : int
        ``0``: nothing; ``1``: the bar; ``>= 2``: one line per epoch.
    """

    def __init__(self, name: str, max_iter: int, verbose: int) -> None:
        self.name = name
        self.verbose = int(verbose)
        self._bar: tqdm | None = None
        if self.verbose == 1:
            self._bar = tqdm(
                total=max_iter,
                desc=f"{name} fit",
                unit="epoch",
                file=sys.stderr,
                dynamic_ncols=True,
                leave=True,
            )

    def epoch(self, report: EpochReport) -> None:
        """Show one finished epoch."""
        if self._bar is not None:
            postfix = {"loss": f"{report.loss:.4g}"}
            if report.validation_score is not None:
                postfix["val"] = f"{report.validation_score:.4g}"
                if report.best_score is not None and math.isfinite(report.best_score):
                    postfix["best"] = f"{report.best_score:.4g}"
            postfix["lr"] = f"{report.learning_rate:.2g}"
            self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(1)
        elif self.verbose >= 2:
            line = f"Epoch {report.epoch}: training loss {report.loss:.4f}"
            if report.validation_score is not None:
                line += f", validation log-likelihood {report.validation_score:.4f}"
                if report.improved:
                    line += " (best)"
            self._print(f"{line}, {report.seconds:.2f}s")

    def message(self, text: str) -> None:
        """A one-line event (learning rate divided, stopping, divergence)."""
        if self.verbose >= 2:
            self._print(text)

    def _print(self, text: str) -> None:
        print(f"[{self.name}] {text}", file=sys.stdout, flush=True)

    def close(self) -> None:
        """End the bar (it stays on screen with the last epoch's figures)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> FitProgress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def rows_bar(label: str, verbose: int, *, total: int) -> tqdm:
    """A bar named ``label`` over ``total`` rows for a scoring or sampling call.

    Shown only with ``verbose`` (else disabled: its updates do nothing) and
    only once the call has run for :data:`SCORE_BAR_DELAY` seconds, so that
    short calls stay silent; it disappears when the call ends.
    """
    return tqdm(
        total=total,
        desc=label,
        unit="row",
        unit_scale=True,
        file=sys.stderr,
        dynamic_ncols=True,
        delay=SCORE_BAR_DELAY,
        leave=False,
        disable=not verbose,
    )
