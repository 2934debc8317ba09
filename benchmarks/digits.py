"""Digits density benchmark: test log-likelihood of MAFDensity and LGFDensity.

Run from the repository root::

    python benchmarks/digits.py            # full run, ~15 min on one core
    python benchmarks/digits.py --quick    # smoke run, ~2 min

Protocol (fixed): ``sklearn.datasets.load_digits`` (1797 x 64 integer pixels
0..16); add U(0, 1) noise (``np.random.RandomState(0)``); divide by 17, so
every value lies in [0, 1); ``train_test_split(test_size=0.3,
random_state=0)`` (1257 training rows, 540 test rows). The figure is the mean
test log-likelihood per sample in nats, in the units of the divided data
(higher is better), with its standard error over the 540 test rows.

Contenders, all run in the same process:

* ``KernelDensity`` (Gaussian kernel; bandwidth by 5-fold ``GridSearchCV``
  on the training set) and ``GaussianMixture`` (``covariance_type="full"``;
  ``n_components`` by 5-fold ``GridSearchCV`` on the training set).
* ``MAFDensity`` and ``LGFDensity`` with affine steps (MAF, LGF-MAF) and
  with spline steps (``univariate="spline"``: NSF, LGF-NSF). Each family's settings
  are chosen among a few candidates (listed in the report) by the
  log-likelihood on a validation split of the *training* set (20%,
  ``random_state=1``); the winner is refitted on the whole training set. The
  row "LGFDensity" is the LGF family with the better validation figure, and
  the verdict compares it with every row that is not an LGF. The test set is
  used once, for the final figures. ``LGFDensity`` is scored on the test set with
  ``K = --k`` importance samples (default 1000); candidates are compared with
  K = 100.
* zuko's ``MAF`` and ``NSF`` (5 transforms x [256, 256]) as peers, trained
  with the same data standardisation, batch size, Adam learning rate and
  early-stopping rule as ``MAFDensity`` (``zuko`` is a benchmark-only
  dependency; skipped with a note when it is not installed).
* Reference figures reported with this protocol elsewhere (not rerun):
  KernelDensity 37.1, GaussianMixture 59.0, zuko MAF (5 x [256, 256]) 57.8,
  zuko NSF 73.2 nats/sample.

A second table (full run only; ``--no-logit`` skips it) fits KDE, GMM, MAF and
LGF on ``logit(alpha + (1 - 2 alpha) x)`` and adds the log-Jacobian back, so
the figures stay exact log-densities in the same units: a fixed bijection in
front of every model, with ``alpha`` chosen per method on the same
validation split. It shows how much of the gap between models is about the
bounded support of the data rather than the model.

Everything runs on one CPU thread by default (``--threads``).
"""

from __future__ import annotations

import argparse
import math
import platform
from typing import Any

import numpy as np
import sklearn
import torch
from harness import (
    RESULTS,
    ResultFile,
    Timer,
    add_quick,
    add_threads,
    command_line,
    cpu_name,
    make_parser,
    markdown_table,
    set_threads,
    timed_fit,
    timestamp,
    zuko_version,
)
from harness.data import load_digits_split
from harness.peers import fit_zuko, zuko_score
from sklearn.base import BaseEstimator, DensityMixin, clone
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KernelDensity

from sklearn_lgf import LGFDensity, MAFDensity

REPORTED = [
    ("KernelDensity", "reported, not rerun", 37.1),
    ("GaussianMixture", "reported, not rerun", 59.0),
    ("zuko MAF 5 x [256, 256]", "reported, not rerun", 57.8),
    ("zuko NSF", "reported, not rerun", 73.2),
]

KDE_BANDWIDTHS = np.logspace(-2.5, -0.5, 21)
GMM_COMPONENTS = [1, 2, 3, 4, 6, 8, 10, 12, 16]
LOGIT_ALPHAS = [1e-3, 1e-2, 5e-2]
VALIDATION_K = 100

# Candidate settings, compared on the validation split of the training set.
MAF_CANDIDATES: list[dict[str, Any]] = [
    {"n_layers": 5, "hidden_layer_sizes": (256, 256)},
    {
        "n_layers": 5,
        "hidden_layer_sizes": (256, 256),
        "batch_norm": True,
        "learning_rate": "adaptive",
    },
    {
        "n_layers": 5,
        "hidden_layer_sizes": (128, 128),
        "batch_norm": True,
        "learning_rate": "adaptive",
    },
    {"n_layers": 5, "hidden_layer_sizes": (64, 64)},
    {"n_layers": 5, "hidden_layer_sizes": (32, 32)},
    {"n_layers": 5, "hidden_layer_sizes": (256, 256), "alpha": 10.0},
]
_LGF_HEADS = {"pq_hidden_layer_sizes": (128, 128), "st_hidden_layer_sizes": (128, 128)}
LGF_CANDIDATES: list[dict[str, Any]] = [
    {"n_layers": 5, "hidden_layer_sizes": (32, 32), "u_dim": 4, **_LGF_HEADS,
     "n_elbo_samples": 4},  # the affine LGF's defaults
    {"n_layers": 5, "hidden_layer_sizes": (32, 32), "u_dim": 8, **_LGF_HEADS,
     "n_elbo_samples": 4},
    {"n_layers": 5, "hidden_layer_sizes": (16, 16), "u_dim": 8, **_LGF_HEADS,
     "n_elbo_samples": 4},
    {"n_layers": 5, "hidden_layer_sizes": (16, 16), "u_dim": 8, **_LGF_HEADS,
     "n_elbo_samples": 8},
    {"n_layers": 5, "hidden_layer_sizes": (32, 32), "u_dim": 4, **_LGF_HEADS,
     "n_elbo_samples": 4, "alpha": 1.0},  # the defaults with an L2 penalty
    {"n_layers": 5, "hidden_layer_sizes": (16, 16), "u_dim": 8, **_LGF_HEADS,
     "n_elbo_samples": 4, "alpha": 1.0},
]  # fmt: skip
# The affine family, explicitly: LGFDensity's default univariate is the spline.
LGF_CANDIDATES = [{"univariate": "affine", **params} for params in LGF_CANDIDATES]
# Spline bases: zuko's NSF architecture (5 x [256, 256], 8 bins), with the
# two tail bounds in use (the authors' NSF code: 3; zuko: 5).
NSF_CANDIDATES: list[dict[str, Any]] = [
    {"n_layers": 5, "hidden_layer_sizes": (256, 256), "univariate": "spline",
     "tail_bound": 5.0},
    {"n_layers": 5, "hidden_layer_sizes": (256, 256), "univariate": "spline",
     "tail_bound": 3.0},
]  # fmt: skip
LGF_NSF_CANDIDATES: list[dict[str, Any]] = [
    {"n_layers": 5, "hidden_layer_sizes": (32, 32), "univariate": "spline",
     "tail_bound": 5.0, "u_dim": 4, **_LGF_HEADS, "n_elbo_samples": 4},
    {"n_layers": 5, "hidden_layer_sizes": (32, 32), "univariate": "spline",
     "tail_bound": 3.0, "u_dim": 4, **_LGF_HEADS, "n_elbo_samples": 4},
    {"n_layers": 5, "hidden_layer_sizes": (256, 256), "univariate": "spline",
     "tail_bound": 5.0, "u_dim": 4, **_LGF_HEADS, "n_elbo_samples": 4},
]  # fmt: skip
# Used without tuning by --quick (the full run's choices on an earlier run).
QUICK_MAF = MAF_CANDIDATES[4]
QUICK_LGF = LGF_CANDIDATES[3]
QUICK_NSF = NSF_CANDIDATES[0]
QUICK_LGF_NSF = LGF_NSF_CANDIDATES[0]


class LogitDensity(DensityMixin, BaseEstimator):
    """A density on (0, 1)^d: ``estimator`` fitted on ``logit(a + (1-2a) x)``.

    ``score_samples`` adds the log-Jacobian of the map, so it returns the
    exact log-density of the composed model in the units of ``x``.
    """

    def __init__(self, estimator: Any = None, alpha: float = 1e-2) -> None:
        self.estimator = estimator
        self.alpha = alpha

    def _transform(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        s = self.alpha + (1.0 - 2.0 * self.alpha) * np.asarray(X, dtype=np.float64)
        y = np.log(s) - np.log1p(-s)
        log_jac = (math.log(1.0 - 2.0 * self.alpha) - np.log(s) - np.log1p(-s)).sum(1)
        return y, log_jac

    def fit(self, X: Any, y: Any = None) -> LogitDensity:
        self.estimator_ = clone(self.estimator).fit(self._transform(X)[0])
        return self

    def score_samples(self, X: Any) -> np.ndarray:
        y, log_jac = self._transform(X)
        return self.estimator_.score_samples(y) + log_jac

    def score(self, X: Any, y: Any = None) -> float:
        return float(np.mean(self.score_samples(X)))


# ------------------------------------------------------------------ helpers
def describe(params: dict[str, Any]) -> str:
    """Short text of a flow's settings."""
    hidden = list(params["hidden_layer_sizes"])
    text = f"{params['n_layers']} x {hidden}"
    if "u_dim" in params:
        text += (
            f", u_dim {params['u_dim']}, pq {list(params['pq_hidden_layer_sizes'])}"
            f", st {list(params['st_hidden_layer_sizes'])}"
        )
    for key in (
        "conditioner",
        "univariate",
        "tail_bound",
        "n_elbo_samples",
        "batch_norm",
        "learning_rate",
        "learning_rate_init",
        "alpha",
    ):
        if key in params:
            text += f", {key}={params[key]}"
    return text


def stats(log_density: np.ndarray) -> tuple[float, float]:
    return float(log_density.mean()), float(
        log_density.std() / math.sqrt(len(log_density))
    )


def make_flow(kind: str, params: dict[str, Any], k: int, max_iter: int) -> Any:
    common = {"random_state": 0, "device": "cpu", "max_iter": max_iter}
    if kind == "MAF":
        return MAFDensity(**common, **params)
    return LGFDensity(**common, n_importance_samples=k, **params)


def inner(estimator: Any) -> Any:
    return getattr(estimator, "estimator_", estimator)


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__, RESULTS / "digits.md")
    add_quick(parser)
    parser.add_argument("--k", type=int, default=None, help="LGF test K (1000)")
    add_threads(parser, 1)
    parser.add_argument("--no-zuko", action="store_true", help="skip zuko's peers")
    parser.add_argument(
        "--no-logit", action="store_true", help="skip the logit-space table"
    )
    args = parser.parse_args(argv)
    set_threads(args.threads)
    quick = args.quick
    k_test = args.k or (100 if quick else 1000)
    max_iter = 30 if quick else 500
    report = ResultFile(args.output, command_line(__file__, argv))

    X_train, X_test = load_digits_split()
    X_fit, X_val = train_test_split(X_train, test_size=0.2, random_state=1)
    rows: list[tuple[str, str, float, float, float, str]] = []
    tuning: list[tuple[str, str, float, int, float]] = []
    logit_rows: list[tuple[str, str, float, float, float]] = []
    zuko_note = ""

    def progress(message: str) -> None:
        """Print the step just done and rewrite the report with it."""
        report.clock.log(message)
        report.update(
            render(args, report, rows, tuning, logit_rows, zuko_note, k_test, max_iter)
        )

    progress(
        f"train {X_train.shape}, test {X_test.shape}, torch threads {args.threads}"
    )

    # --- baselines ---------------------------------------------------------
    bandwidths = KDE_BANDWIDTHS[::4] if quick else KDE_BANDWIDTHS
    kde, seconds = timed_fit(
        GridSearchCV(KernelDensity(), {"bandwidth": bandwidths}, cv=5), X_train
    )
    mean, se = stats(kde.best_estimator_.score_samples(X_test))
    bw = kde.best_params_["bandwidth"]
    grid = f"{bandwidths[0]:.4f}..{bandwidths[-1]:.3f} ({len(bandwidths)} log-spaced)"
    settings = f"bandwidth {bw:.4f} from {grid}, 5-fold CV"
    rows.append(("KernelDensity", settings, mean, se, seconds, "rerun"))
    progress(f"KernelDensity {mean:.2f} +- {se:.2f}")

    components = [1, 2, 4] if quick else GMM_COMPONENTS
    gmm, seconds = timed_fit(
        GridSearchCV(
            GaussianMixture(covariance_type="full", random_state=0),
            {"n_components": components},
            cv=5,
        ),
        X_train,
    )
    mean, se = stats(gmm.best_estimator_.score_samples(X_test))
    nc = gmm.best_params_["n_components"]
    settings = f"full, n_components {nc} from {components}, 5-fold CV"
    rows.append(("GaussianMixture", settings, mean, se, seconds, "rerun"))
    progress(f"GaussianMixture {mean:.2f} +- {se:.2f}")

    # --- our flows: tune on the validation split, refit, test ----------------
    # Each family (affine or spline steps, MAF or LGF) is tuned on its own;
    # "LGFDensity" is the LGF chosen across both LGF families, also on the
    # validation split, so that the test set never picks a row.
    chosen: dict[str, dict[str, Any]] = {}
    validation: dict[str, float] = {}
    for family, candidates, quick_choice in (
        ("MAF", MAF_CANDIDATES, QUICK_MAF),
        ("NSF", NSF_CANDIDATES, QUICK_NSF),
        ("LGF", LGF_CANDIDATES, QUICK_LGF),
        ("LGF-NSF", LGF_NSF_CANDIDATES, QUICK_LGF_NSF),
    ):
        kind = "LGF" if family.startswith("LGF") else "MAF"
        if quick:
            chosen[family], validation[family] = quick_choice, math.nan
            continue
        validation[family] = -math.inf
        for params in candidates:
            model, seconds = timed_fit(
                make_flow(kind, params, VALIDATION_K, max_iter), X_fit
            )
            score = model.score(X_val)
            tuning.append((family, describe(params), score, model.n_iter_, seconds))
            progress(
                f"tune {family} {describe(params)}: val {score:.2f} "
                f"({model.n_iter_} epochs, {seconds:.0f}s)"
            )
            if score > validation[family]:
                validation[family], chosen[family] = score, params

    lgf_family = max(("LGF", "LGF-NSF"), key=lambda f: validation[f])
    if quick:
        lgf_family = "LGF"
    finals = [("MAF", "MAFDensity (affine)", chosen["MAF"])]
    if chosen["MAF"] != MAF_CANDIDATES[0]:  # also zuko's MAF architecture, untuned
        finals.append(
            ("MAF", "MAFDensity (affine, zuko's MAF architecture)", MAF_CANDIDATES[0])
        )
    finals.append(("MAF", 'MAFDensity(univariate="spline")', chosen["NSF"]))
    other = "LGF-NSF" if lgf_family == "LGF" else "LGF"
    finals.append(("LGF", "LGFDensity", chosen[lgf_family]))
    other_name = (
        'LGFDensity(univariate="spline")'
        if other == "LGF-NSF"
        else ("LGFDensity (affine)")
    )
    finals.append(("LGF", other_name, chosen[other]))
    finals.append(("LGF", "LGFDensity() (defaults)", {}))
    for kind, name, params in finals:
        flow = make_flow(kind, params, k_test, max_iter)
        if not params:  # the defaults as a user gets them, max_iter included
            flow = LGFDensity(n_importance_samples=k_test, random_state=0)
        model, seconds = timed_fit(flow, X_train)
        mean, se = stats(model.score_samples(X_test))
        settings = (describe(params) if params else "no parameter set") + (
            f"; {model.n_iter_} epochs"
        )
        if kind == "LGF":
            settings += f"; test K = {k_test}"
        rows.append((name, settings, mean, se, seconds, "rerun"))
        progress(f"{name} {mean:.2f} +- {se:.2f} ({seconds:.0f}s)")

    # --- zuko peers ----------------------------------------------------------
    if not args.no_zuko:
        version = zuko_version()
        if version is None:
            zuko_note = "zuko is not installed: its peers were skipped."
        else:
            for kind in ("MAF",) if quick else ("MAF", "NSF"):
                clock = Timer()
                flow, loc, scale, epochs = fit_zuko(kind, X_train, 0, max_iter)
                seconds = clock.seconds
                mean, se = stats(zuko_score(flow, loc, scale, X_test))
                settings = f"5 x [256, 256], zuko {version}; {epochs} epochs"
                rows.append(
                    (f"zuko {kind}", settings, mean, se, seconds, "rerun (peer)")
                )
                progress(f"zuko {kind} {mean:.2f} +- {se:.2f} ({seconds:.0f}s)")

    # --- logit-space section -------------------------------------------------
    if not quick and not args.no_logit:
        for name, base, grid_key, grid_values in (
            ("KernelDensity", KernelDensity(), "bandwidth", np.logspace(-1.5, 0.5, 21)),
            (
                "GaussianMixture",
                GaussianMixture(covariance_type="full", random_state=0),
                "n_components",
                GMM_COMPONENTS,
            ),
        ):
            search, seconds = timed_fit(
                GridSearchCV(
                    LogitDensity(base),
                    {"alpha": LOGIT_ALPHAS, f"estimator__{grid_key}": grid_values},
                    cv=5,
                ),
                X_train,
            )
            best = search.best_params_
            mean, se = stats(search.best_estimator_.score_samples(X_test))
            value = best[f"estimator__{grid_key}"]
            value = f"{value:.3f}" if grid_key == "bandwidth" else str(value)
            settings = f"alpha {best['alpha']:g}, {grid_key} {value}, 5-fold CV"
            logit_rows.append((name, settings, mean, se, seconds))
            progress(f"logit {name} {mean:.2f} +- {se:.2f}")
        for kind, name, family in (
            ("MAF", "MAFDensity (affine)", "MAF"),
            ("LGF", "LGFDensity", lgf_family),
        ):
            params = chosen[family]
            best_score, best_alpha = -math.inf, LOGIT_ALPHAS[0]
            for alpha in LOGIT_ALPHAS:
                model, seconds = timed_fit(
                    LogitDensity(
                        make_flow(kind, params, VALIDATION_K, max_iter), alpha
                    ),
                    X_fit,
                )
                score = model.score(X_val)
                settings = f"alpha {alpha:g}, " + describe(params)
                epochs = inner(model).n_iter_
                tuning.append((f"logit {kind}", settings, score, epochs, seconds))
                progress(f"tune logit {kind} alpha {alpha:g}: val {score:.2f}")
                if score > best_score:
                    best_score, best_alpha = score, alpha
            model, seconds = timed_fit(
                LogitDensity(make_flow(kind, params, k_test, max_iter), best_alpha),
                X_train,
            )
            mean, se = stats(model.score_samples(X_test))
            epochs = inner(model).n_iter_
            settings = f"alpha {best_alpha:g}, {describe(params)}; {epochs} epochs"
            if kind == "LGF":
                settings += f"; test K = {k_test}"
            logit_rows.append((name, settings, mean, se, seconds))
            progress(f"logit {name} {mean:.2f} +- {se:.2f}")

    report.finish(
        render(args, report, rows, tuning, logit_rows, zuko_note, k_test, max_iter)
    )


def render(
    args: argparse.Namespace,
    report: ResultFile,
    rows: list[tuple[str, str, float, float, float, str]],
    tuning: list[tuple[str, str, float, int, float]],
    logit_rows: list[tuple[str, str, float, float, float]],
    zuko_note: str,
    k_test: int,
    max_iter: int,
) -> str:
    """The report of the steps done so far."""
    quick_note = " (quick: smoke run, not the benchmark)" if args.quick else ""
    lines = [
        "# Digits: test log-likelihood per sample",
        "",
        f"- command: `{report.command}`{quick_note}",
        f"- date: {timestamp()}; total wall time {report.clock.seconds / 60:.1f} min",
        f"- torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
        f"zuko {zuko_version() or 'not installed'}, "
        f"Python {platform.python_version()}; "
        f"CPU ({cpu_name()}), torch threads {args.threads}, shared with other jobs: "
        "times are indicative",
        "- protocol: `load_digits`; X + U(0, 1) noise (`np.random.RandomState(0)`); "
        "/ 17; `train_test_split(test_size=0.3, random_state=0)`: 1257 train, "
        "540 test rows, d = 64",
        "- figure: mean test log-likelihood in nats per sample, units of the "
        "divided data (higher is better); +- is the standard error over the "
        "540 test rows",
        f"- our flows: `random_state=0`, `max_iter={max_iter}`, early stopping on "
        "10% of the training rows (otherwise defaults: Adam 1e-3, batch `auto` "
        "= 113, patience 10 for MAF and 20 for LGF); settings chosen on a "
        "validation split (20% of the train set, `random_state=1`), then "
        "refitted on the whole train set; "
        "the test set is used once",
        f"- LGFDensity test figure: importance sampling with K = {k_test} "
        f"(candidates compared with K = {VALIDATION_K})",
        "- fit time: `fit` wall time on the train set (GridSearchCV: the whole "
        "search plus the refit)",
        "",
    ]
    table = [
        [name, settings, f"{mean:.2f} +- {se:.2f}", f"{seconds:.0f}", source]
        for name, settings, mean, se, seconds, source in rows
    ]
    table += [
        [name, "", f"{value:.1f}", "", source] for name, source, value in REPORTED
    ]
    header = ["model", "settings", "test log-lik (nats/sample)", "fit time (s)"]
    lines.append(markdown_table([*header, "source"], table))
    if zuko_note:
        lines += ["", zuko_note]
    ours = {name: mean for name, _, mean, _, _, _ in rows}
    if "LGFDensity" in ours:
        others = [(n, m) for n, m in ours.items() if not n.startswith("LGF")] + [
            (f"{n} (reported)", v) for n, _, v in REPORTED
        ]
        best_name, best_value = max(others, key=lambda item: item[1])
        verdict = "above" if ours["LGFDensity"] > best_value else "NOT above"
        lines += [
            "",
            f"LGFDensity ({ours['LGFDensity']:.2f}) is {verdict} every other "
            f"figure in this table (best other: {best_name}, {best_value:.2f}).",
        ]
    if tuning:
        lines += [
            "",
            "## Candidates (validation split of the train set; LGF with K = 100)",
            "",
            markdown_table(
                ["model", "settings", "validation log-lik", "epochs", "fit time (s)"],
                [
                    [kind, settings, f"{score:.2f}", epochs, f"{seconds:.0f}"]
                    for kind, settings, score, epochs, seconds in tuning
                ],
            ),
        ]
    if logit_rows:
        lines += [
            "",
            "## Every model behind the same logit map",
            "",
            "Each model is fitted on `logit(alpha + (1 - 2 alpha) x)` and the "
            "log-Jacobian is added back, so these are exact log-densities in the "
            "same units as above and directly comparable with them. `alpha` is "
            "chosen per method (KDE/GMM: jointly with their parameter by 5-fold CV "
            "on the train set; flows: on the validation split) from "
            f"{LOGIT_ALPHAS}; the flows keep the settings chosen above.",
            "",
            markdown_table(
                header,
                [
                    [f"{name} (logit)", settings, f"{mean:.2f} +- {se:.2f}", f"{s:.0f}"]
                    for name, settings, mean, se, s in logit_rows
                ],
            ),
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
