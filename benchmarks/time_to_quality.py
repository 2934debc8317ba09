"""Time to quality: test log-likelihood against seconds, LGF against NSFs and a MAF.

Run from the repository root (needs the ``benchmark`` extra: zuko 1.6.0)::

    python benchmarks/time_to_quality.py      # digits and two spirals, 3 repeats
    # smoke run, a minute or two on 2 shared cores:
    python benchmarks/time_to_quality.py --repeats 1 --max-iter 2 \
        --output /tmp/ttq.md --figure /tmp/ttq.png

What it measures: how fast each of four density estimators gets to its test
log-likelihood, epoch by epoch, in one run on one torch thread, the models
fitted one after another (never in parallel, so that the timings compare):

1. ``LGFDensity()`` and 2. ``MAFDensity(univariate="spline")`` (our NSF),
   both at their defaults (``random_state``, ``n_threads=1`` and
   ``device="cpu"`` apart) with their own early stopping on their own
   validation split;
3. zuko's ``NSF`` and 4. zuko's ``MAF`` (``transforms=5,
   hidden_features=[256, 256]``), in issue 25's loop as ``zuko_protocol.py``
   runs it (``harness.peers.train_zuko``): validation = the last 10 % of the
   training rows, Adam 1e-3, batch 128, early stopping with patience 20 on
   the validation mean (tol 0), best weights restored.

Data: ``digits`` (``harness.data.load_digits_split``: 1,257 training and 540
test rows, d = 64, dequantised, in [0, 1)) and ``two_spirals``
(``make_two_spirals``: 10,000 training rows drawn with seed 0, 5,000 test
rows with seed 1).

Protocol: repeats interleaved (for repeat r, for each data set, for each
model in the order above, one fit with seed r). During each fit a callback
records, after every epoch's validation, the training seconds so far, the
epoch's validation mean and a copy of the weights: ours through the
``on_epoch`` hook of the training loop (``sklearn_lgf._base.train`` wrapped
for the length of the fit), zuko's through ``train_zuko``'s ``on_epoch``.
The time spent in the callback (the copies) is taken off the clock, off the
fit's wall time too. After the fit, the test mean log-likelihood is measured
on up to 25 of the epochs' weights (every epoch of the first 10, the rest
spaced evenly, the last included) loaded into the fitted model, and on the
fitted model itself (best validation weights), whose figure is placed at the
fit's end. The LGF's test figures use its default importance sampling
(K = 100 draws). The epochs' copies are thinned as training goes (every
epoch of the first 10, then at a stride that doubles to keep at most 30
others) so that a long fit does not hold hundreds of copies in memory.

Reported, per data set: each model's final test figure, fit seconds and
epochs (median over repeats and every repeat) and the LGF's targets, each
per repeat: the first time its test curve reaches zuko NSF's final figure
against half zuko NSF's fit time; its fit time over zuko NSF's (at most
1.5); its final figure (digits: 84.1 nats in ``results/digits.md``, with
K = 1000). The figure (``--figure``) has one panel per data set: test
log-likelihood against seconds, one thin line per repeat, the final figure
marked at the fit's end, zuko NSF's median final figure dashed. Every curve
(seconds, validation and test figures per epoch) goes to a JSON file beside
the report.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from harness import (
    RESULTS,
    ResultFile,
    add_max_iter,
    command_line,
    cpu_name,
    make_parser,
    markdown_table,
    set_threads,
    timestamp,
    zuko_version,
)
from harness.data import load_digits_split
from harness.peers import (
    ISSUE_BATCH,
    ISSUE_MAX_EPOCHS,
    ISSUE_PATIENCE,
    train_zuko_issue_loop,
)

import sklearn_lgf._base
from sklearn_lgf import LGFDensity, MAFDensity
from sklearn_lgf.datasets import make_two_spirals

LGF, NSF, ZUKO_NSF, ZUKO_MAF = (
    "LGFDensity",
    "MAFDensity (spline)",
    "zuko NSF",
    "zuko MAF",
)
MODELS = (LGF, NSF, ZUKO_NSF, ZUKO_MAF)
DATASETS = ("digits", "two_spirals")
N_SPIRALS_TRAIN, N_SPIRALS_TEST = 10_000, 5_000
# Snapshots: every epoch of the first FIRST_EPOCHS, then at most KEPT_LATER
# others held in memory, of which enough are tested to make TESTED in all.
FIRST_EPOCHS, KEPT_LATER, TESTED = 10, 30, 25
# The LGF's targets (issue): reach zuko NSF's final figure in half its fit
# time; a fit at most 1.5 times as long; digits' reference figure (K = 1000).
REACH_SHARE, TIME_RATIO = 0.5, 1.5
REFERENCE = {"digits": 84.1}
COLOURS = dict(
    zip(MODELS, ("tab:red", "tab:blue", "tab:green", "tab:gray"), strict=True)
)

State = dict[str, Any]


# -------------------------------------------------------------------- data
def load_data(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Training and test rows of data set ``name``, the same in every repeat."""
    if name == "digits":
        return load_digits_split()
    return (
        make_two_spirals(N_SPIRALS_TRAIN, random_state=0),
        make_two_spirals(N_SPIRALS_TEST, random_state=1),
    )


# --------------------------------------------------------------- recording
class Snapshots:
    """Copies of the weights of a fit's epochs, thinned as training goes.

    Every epoch of the first :data:`FIRST_EPOCHS` is kept; later epochs at a
    stride that doubles whenever more than :data:`KEPT_LATER` of them are
    held, so that the kept ones stay evenly spaced and memory stays bounded
    (a digits NSF's weights are several megabytes, a fit up to 1,000
    epochs). The last epoch's copy is always held, as it may be the end.
    """

    def __init__(self) -> None:
        self.first: dict[int, State] = {}
        self.later: dict[int, State] = {}
        self.stride = 1
        self.last: tuple[int, State] | None = None

    def add(self, epoch: int, state: State) -> None:
        self.last = (epoch, state)
        if epoch <= FIRST_EPOCHS:
            self.first[epoch] = state
        elif (epoch - FIRST_EPOCHS) % self.stride == 0:
            self.later[epoch] = state
            if len(self.later) > KEPT_LATER:
                self.stride *= 2
                self.later = {
                    e: s
                    for e, s in self.later.items()
                    if (e - FIRST_EPOCHS) % self.stride == 0
                }

    def chosen(self) -> list[tuple[int, State]]:
        """Up to :data:`TESTED` epochs to test: the first ones, then evenly
        spaced kept ones ending at the last epoch."""
        later = dict(self.later)
        if self.last is not None and self.last[0] > FIRST_EPOCHS:
            later[self.last[0]] = self.last[1]
        epochs = sorted(later)
        n_later = TESTED - len(self.first)
        if len(epochs) > n_later:
            picks = np.linspace(0, len(epochs) - 1, n_later).round().astype(int)
            epochs = [epochs[i] for i in sorted(set(picks))]
        return sorted(self.first.items()) + [(e, later[e]) for e in epochs]


@dataclass
class Recorder:
    """A fit's clock and its per-epoch record.

    The clock runs from :meth:`start` less the time spent in :meth:`record`
    (the copies of the weights), which the fit would not spend without this
    benchmark.
    """

    started: float = 0.0
    paused: float = 0.0
    epochs: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    validation: list[float] = field(default_factory=list)
    snapshots: Snapshots = field(default_factory=Snapshots)

    def start(self) -> None:
        self.started, self.paused = time.perf_counter(), 0.0

    def elapsed(self) -> float:
        """Training seconds since :meth:`start`, the callbacks' time excluded."""
        return time.perf_counter() - self.started - self.paused

    def record(self, epoch: int, validation: float | None, model: Any) -> None:
        entered = time.perf_counter()
        self.epochs.append(epoch)
        self.seconds.append(entered - self.started - self.paused)
        self.validation.append(math.nan if validation is None else float(validation))
        self.snapshots.add(epoch, copy.deepcopy(model.state_dict()))
        self.paused += time.perf_counter() - entered


@contextlib.contextmanager
def epoch_hook(recorder: Recorder) -> Iterator[None]:
    """Our estimators' training loop with ``recorder`` called after each epoch.

    ``sklearn_lgf._base`` calls ``train`` by the name it imported; that name
    is wrapped for the length of the fit (and restored however it ends) so
    that the package itself is unchanged. The loop's own ``on_epoch`` (the
    progress display, off unless ``verbose``) still runs.
    """
    original = sklearn_lgf._base.train

    def hooked(model: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        display = kwargs.pop("on_epoch", None)

        def on_epoch(report: Any) -> None:
            recorder.record(report.epoch, report.validation_score, model)
            if display is not None:
                display(report)

        return original(model, *args, on_epoch=on_epoch, **kwargs)

    sklearn_lgf._base.train = hooked
    try:
        yield
    finally:
        sklearn_lgf._base.train = original


# -------------------------------------------------------------------- fits
@dataclass
class Fit:
    """One model fitted once: its curve and its end."""

    dataset: str
    model: str
    repeat: int
    seconds: float
    """The whole fit's wall time, the recording's time excluded."""
    epochs: int
    final: float
    """Test mean log-likelihood of the fitted model (best weights)."""
    epoch_seconds: list[float]
    validation: list[float]
    tested_epochs: list[int]
    test: list[float]

    @property
    def test_seconds(self) -> list[float]:
        """The training seconds at the end of each tested epoch."""
        return [self.epoch_seconds[e - 1] for e in self.tested_epochs]


def our_estimator(model: str, seed: int, max_iter: int | None) -> Any:
    """``LGFDensity()`` or ``MAFDensity(univariate="spline")`` at their defaults."""
    options: dict[str, Any] = {"random_state": seed, "n_threads": 1, "device": "cpu"}
    if max_iter is not None:  # smoke runs only: the defaults' budget otherwise
        options["max_iter"] = max_iter
    if model == LGF:
        return LGFDensity(**options)
    return MAFDensity(univariate="spline", **options)


def fit_ours(
    model: str,
    data: tuple[np.ndarray, np.ndarray],
    seed: int,
    max_iter: int | None,
) -> tuple[Recorder, float, int, Callable[[State | None], float]]:
    """Fit one of ours, recording its epochs; return the record, the fit's
    seconds, its epochs and a test scorer of given weights (``None``: the
    fitted ones; the fitted weights are restored after every call)."""
    X_train, X_test = data
    estimator = our_estimator(model, seed, max_iter)
    recorder = Recorder()
    with warnings.catch_warnings(), epoch_hook(recorder):
        warnings.simplefilter("ignore")
        recorder.start()
        estimator.fit(X_train)
        seconds = recorder.elapsed()
    fitted = copy.deepcopy(estimator.model_.state_dict())

    def test(state: State | None) -> float:
        estimator.model_.load_state_dict(fitted if state is None else state)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = float(estimator.score(X_test))
        estimator.model_.load_state_dict(fitted)
        return score

    return recorder, seconds, int(estimator.n_iter_), test


def fit_peer(
    model: str,
    data: tuple[np.ndarray, np.ndarray],
    seed: int,
    max_iter: int | None,
) -> tuple[Recorder, float, int, Callable[[State | None], float]]:
    """zuko's NSF or MAF in the issue's loop (``train_zuko_issue_loop``),
    recording its epochs; returns as :func:`fit_ours`."""
    X_test = torch.as_tensor(data[1], dtype=torch.float32)
    recorder = Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recorder.start()
        flow, epochs = train_zuko_issue_loop(
            "NSF" if model == ZUKO_NSF else "MAF",
            data[0],
            seed,
            max_iter=ISSUE_MAX_EPOCHS if max_iter is None else max_iter,
            on_epoch=recorder.record,
        )
        seconds = recorder.elapsed()
    fitted = copy.deepcopy(flow.state_dict())

    def test(state: State | None) -> float:
        flow.load_state_dict(fitted if state is None else state)
        flow.eval()
        with torch.no_grad():
            score = float(flow().log_prob(X_test).mean())
        flow.load_state_dict(fitted)
        return score

    return recorder, seconds, epochs, test


def run_fit(
    dataset: str,
    model: str,
    repeat: int,
    data: tuple[np.ndarray, np.ndarray],
    max_iter: int | None,
) -> Fit:
    """Fit ``model`` with seed ``repeat``, then test it and its chosen epochs."""
    fit = fit_peer if model in (ZUKO_NSF, ZUKO_MAF) else fit_ours
    recorder, seconds, epochs, test = fit(model, data, repeat, max_iter)
    final = test(None)
    chosen = recorder.snapshots.chosen()
    return Fit(
        dataset=dataset,
        model=model,
        repeat=repeat,
        seconds=seconds,
        epochs=epochs,
        final=final,
        epoch_seconds=recorder.seconds,
        validation=recorder.validation,
        tested_epochs=[epoch for epoch, _ in chosen],
        test=[test(state) for _, state in chosen],
    )


# ----------------------------------------------------------------- targets
def first_reach(fit: Fit, level: float) -> float | None:
    """The first seconds at which ``fit``'s tested points (its final figure
    at the fit's end included) reach ``level``; ``None`` if none does."""
    points = sorted(
        [*zip(fit.test_seconds, fit.test, strict=True), (fit.seconds, fit.final)]
    )
    return next((seconds for seconds, value in points if value >= level), None)


def pick(fits: Sequence[Fit], dataset: str, model: str) -> list[Fit]:
    """The fits of ``model`` on ``dataset``, in the order of the repeats."""
    found = [f for f in fits if f.dataset == dataset and f.model == model]
    return sorted(found, key=lambda f: f.repeat)


def paired(fits: Sequence[Fit], dataset: str) -> list[tuple[Fit, Fit]]:
    """The LGF's fits with zuko NSF's of the same repeat."""
    peers = {f.repeat: f for f in pick(fits, dataset, ZUKO_NSF)}
    return [(f, peers[f.repeat]) for f in pick(fits, dataset, LGF) if f.repeat in peers]


# ------------------------------------------------------------------ report
def median_and_each(values: Sequence[float], digits: int = 2) -> tuple[str, str]:
    """The median of ``values`` and every value, as two table cells."""
    each = ", ".join(f"{v:.{digits}f}" for v in values)
    return f"{np.median(values):.{digits}f}", each


def model_table(fits: Sequence[Fit], dataset: str) -> str:
    rows = []
    for model in MODELS:
        mine = pick(fits, dataset, model)
        if not mine:
            continue
        test = median_and_each([f.final for f in mine])
        seconds = median_and_each([f.seconds for f in mine], 1)
        epochs = median_and_each([f.epochs for f in mine], 0)
        rows.append([model, *test, *seconds, *epochs])
    header = [
        "model",
        "final test (median)",
        "per repeat",
        "fit s (median)",
        "per repeat",
        "epochs (median)",
        "per repeat",
    ]
    return markdown_table(header, rows)


def target_lines(fits: Sequence[Fit], dataset: str) -> list[str]:
    """The LGF's targets against zuko NSF's, repeat by repeat."""
    pairs = paired(fits, dataset)
    if not pairs:
        return []
    reach, ratios, n_reached = [], [], 0
    for lgf, peer in pairs:
        reach.append(reach_phrase(lgf, peer))
        n_reached += reached_in_time(lgf, peer)
        ratios.append(lgf.seconds / peer.seconds)
    n_fast = sum(r <= TIME_RATIO for r in ratios)
    finals = [lgf.final for lgf, _ in pairs]
    reference = REFERENCE.get(dataset)
    against = (
        f"reference {reference} (`results/digits.md`, K = 1000): median - reference "
        f"{np.median(finals) - reference:+.2f}"
        if reference is not None
        else "no reference figure"
    )
    return [
        f"- LGF reaches zuko NSF's final test figure (same repeat) within "
        f"{REACH_SHARE:g} x zuko NSF's fit time: met in {n_reached} of "
        f"{len(pairs)}; {'; '.join(reach)}",
        f"- LGF fit time / zuko NSF fit time (target <= {TIME_RATIO:g}): "
        f"median {np.median(ratios):.2f} ({', '.join(f'{r:.2f}' for r in ratios)}; "
        f"met in {n_fast} of {len(ratios)})",
        f"- LGF final test figure: median {np.median(finals):.2f} "
        f"({', '.join(f'{v:.2f}' for v in finals)}; K = 100); {against}",
    ]


def reached_in_time(lgf: Fit, peer: Fit) -> bool:
    """The LGF's curve reached ``peer``'s final figure in the target time."""
    when = first_reach(lgf, peer.final)
    return when is not None and when <= REACH_SHARE * peer.seconds


def reach_phrase(lgf: Fit, peer: Fit) -> str:
    """One repeat of the first target, in words."""
    when = first_reach(lgf, peer.final)
    limit = f"limit {REACH_SHARE * peer.seconds:.1f} s"
    if when is None:
        return f"repeat {lgf.repeat}: never reaches {peer.final:.2f} ({limit})"
    return f"repeat {lgf.repeat}: reaches {peer.final:.2f} at {when:.1f} s ({limit})"


def describe(data: tuple[np.ndarray, np.ndarray]) -> str:
    X_train, X_test = data
    n_train, n_test, d = len(X_train), len(X_test), X_train.shape[1]
    return f"{n_train:,} training and {n_test:,} test rows, d = {d}"


def render(
    command: str,
    fits: Sequence[Fit],
    data: dict[str, tuple[np.ndarray, np.ndarray]],
    figure: Path,
    curves: Path,
    max_iter: int | None,
) -> str:
    budget = (
        f"- epochs capped at {max_iter} for every model: a smoke run, not the benchmark"
        if max_iter is not None
        else "- epoch budgets: the estimators' defaults, 1,000 for zuko's loop"
    )
    lines = [
        "# Time to quality: test log-likelihood against wall-clock seconds",
        "",
        f"- command: `{command.strip()}`",
        f"- date: {timestamp()}; torch {torch.__version__}, zuko {zuko_version()}; "
        f"CPU {cpu_name()}, one torch thread, models fitted one after another",
        '- models: `LGFDensity()`, `MAFDensity(univariate="spline")` at their '
        'defaults (`random_state` = repeat, `n_threads=1`, `device="cpu"`) with '
        "their own early stopping; zuko 1.6 NSF and MAF, 5 x [256, 256], in the "
        "issue's loop (last 10 % of the training rows validate, Adam 1e-3, "
        f"batch {ISSUE_BATCH}, patience {ISSUE_PATIENCE}, tol 0, best weights), "
        "seed = repeat",
        budget,
        "- final test: mean log-likelihood per row of the fitted model (best "
        "validation weights), higher is better; LGF by importance sampling with "
        "K = 100 (its default), curves and final figure alike",
        "- fit s: the `fit` call (ours) or the loop (zuko's), minus the time the "
        "benchmark spent copying each epoch's weights",
        f"- figure: `{figure.name}` (`--figure`); every curve (per epoch: seconds, "
        f"validation and tested figures) in `{curves.name}` beside this report",
        "",
    ]
    for name, rows in data.items():
        if not any(f.dataset == name for f in fits):
            continue
        lines += [
            f"## {name} ({describe(rows)})",
            "",
            model_table(fits, name),
            "",
        ]
        lines += target_lines(fits, name) + [""]
    return "\n".join(lines)


# ------------------------------------------------------------------ figure
def y_limits(fits: Sequence[Fit]) -> tuple[float, float]:
    """From the 5th percentile of the points of the curves' second halves
    (the early epochs can be hundreds of nats lower and would flatten the
    rest) to just above the best point."""
    late, everything = [], []
    for f in fits:
        end = f.seconds / 2
        late += [v for s, v in zip(f.test_seconds, f.test, strict=True) if s >= end]
        late.append(f.final)
        everything += [*f.test, f.final]
    finite = [v for v in everything if math.isfinite(v)]
    low = float(np.percentile([v for v in late if math.isfinite(v)], 5))
    high = max(finite)
    pad = 0.05 * max(high - low, 1.0)
    return low - pad, high + pad


def draw(fits: Sequence[Fit], datasets: Sequence[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [d for d in datasets if any(f.dataset == d for f in fits)]
    if not shown:
        return
    figure, axes = plt.subplots(
        1, len(shown), figsize=(6.5 * len(shown), 4.5), squeeze=False
    )
    for axis, dataset in zip(axes[0], shown, strict=True):
        mine = [f for f in fits if f.dataset == dataset]
        for model in MODELS:
            for i, f in enumerate(pick(mine, dataset, model)):
                colour = COLOURS[model]
                label = model if i == 0 else None
                axis.plot(
                    f.test_seconds, f.test, color=colour, lw=0.8, alpha=0.8, label=label
                )
                axis.plot([f.seconds], [f.final], "o", color=colour, ms=5)
        peers = pick(mine, dataset, ZUKO_NSF)
        if peers:
            level = float(np.median([f.final for f in peers]))
            axis.axhline(level, color=COLOURS[ZUKO_NSF], ls="--", lw=1)
        axis.set_ylim(*y_limits(mine))
        axis.set_xlim(left=0)
        axis.set_title(dataset)
        axis.set_xlabel("training seconds (one thread)")
        axis.set_ylabel("test log-likelihood per row")
        axis.legend(fontsize=8, loc="lower right")
        axis.grid(alpha=0.3)
    figure.suptitle(
        "Test log-likelihood against time (dots: fitted model; dashed: zuko NSF)"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


# -------------------------------------------------------------------- main
def save(
    report: ResultFile,
    fits: Sequence[Fit],
    data: dict[str, tuple[np.ndarray, np.ndarray]],
    args: Any,
    done: bool,
) -> None:
    """Rewrite the report, the curves' JSON and the figure as they stand."""
    curves = args.output.with_suffix(".json")
    text = render(report.command, fits, data, args.figure, curves, args.max_iter)
    curves.parent.mkdir(parents=True, exist_ok=True)
    records = [{**asdict(f), "test_seconds": f.test_seconds} for f in fits]
    curves.write_text(json.dumps(records, indent=1))
    draw(fits, list(data), args.figure)
    if done:
        report.finish(text)
    else:
        report.update(text)


def main() -> None:
    parser = make_parser(__doc__, RESULTS / "time_to_quality.md")
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=DATASETS,
        default=list(DATASETS),
        help="data sets (default: %(default)s)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="seeds 0 .. R-1, interleaved (default: 3)",
    )
    add_max_iter(
        parser,
        None,
        "cap on every model's epochs, for smoke runs (default: each model's "
        "own budget)",
    )
    parser.add_argument(
        "--figure",
        type=Path,
        default=RESULTS / "time_to_quality.png",
        help="PNG of the curves (default: %(default)s)",
    )
    args = parser.parse_args()
    set_threads(1)
    report = ResultFile(args.output, command_line(__file__, sys.argv[1:]))
    data = {name: load_data(name) for name in args.datasets}
    fits: list[Fit] = []
    for repeat in range(args.repeats):
        for name, rows in data.items():
            for model in MODELS:
                fits.append(run_fit(name, model, repeat, rows, args.max_iter))
                f = fits[-1]
                report.clock.log(
                    f"{name} {model} repeat {repeat}: {f.epochs} epochs, "
                    f"{f.seconds:.1f} s, test {f.final:.2f}"
                )
                save(report, fits, data, args, done=False)
    save(report, fits, data, args, done=True)


if __name__ == "__main__":
    main()
